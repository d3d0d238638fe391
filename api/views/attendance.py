"""Enrollments (with their state machine's verbs), consents and attendance records."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action

from attendance.filtersets import AttendanceRecordFilterSet, ConsentFilterSet, EnrollmentFilterSet
from attendance.models import AttendanceRecord, Consent, Enrollment
from attendance.services import (
    Mark,
    attendance_record,
    consent_grant,
    consent_withdraw,
    enrollment_admit,
    enrollment_complete,
    enrollment_refer,
    enrollment_waitlist,
    enrollment_walk_in,
    enrollment_withdraw,
)
from clinics.models import Institution
from clinics.roles import CLINICAL_ROLES
from sessions.models import Session

from ..serializers.attendance import (
    AdmitSerializer,
    AttendanceRecordSerializer,
    CompleteEnrollmentSerializer,
    ConsentSerializer,
    EnrollmentSerializer,
    WithdrawEnrollmentSerializer,
)
from ..serializers.sessions import ReasonSerializer
from .base import ScopedViewSet, SyncedListMixin


class EnrollmentViewSet(
    SyncedListMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    ScopedViewSet,
):
    """Memberships: referred → waitlisted → active → completed / withdrawn. `POST` refers a
    participant to a group, or with `walk_in: true` admits a walk-in to an open group."""

    queryset = Enrollment.objects.select_related("institution", "participant", "group")
    serializer_class = EnrollmentSerializer
    filterset_class = EnrollmentFilterSet
    sync_group_path = "group"
    visible_to = CLINICAL_ROLES
    service_checks_if_match = ("admit", "waitlist", "withdraw", "complete")
    ordering_fields = ["status", "waitlisted_at", "joined_on", "updated_at", "id"]
    ordering = ["group_id", "status", "waitlisted_at", "id"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        if data.get("walk_in"):
            enrollment = enrollment_walk_in(
                participant=data["participant"],
                group=data["group"],
                session=data.get("session"),
                by=self.request.user,
            )
        else:
            enrollment = enrollment_refer(
                participant=data["participant"],
                group=data["group"],
                referral_source=data.get("referral_source", Enrollment.ReferralSource.SELF),
                reason=data.get("reason", ""),
                by=self.request.user,
            )
        serializer.instance = self.get_queryset().get(pk=enrollment.pk)

    def _done(self, enrollment):
        return self.respond_with(self.get_queryset().get(pk=enrollment.pk))

    @extend_schema(summary="Admit a referred or waitlisted participant", request=AdmitSerializer)
    @action(detail=True, methods=["post"])
    def admit(self, request, pk=None):
        enrollment = self.get_object()
        enrollment_admit(
            enrollment=enrollment,
            by=request.user,
            precondition=self.if_match(),
            **self._input(AdmitSerializer, request),
        )
        return self._done(enrollment)

    @extend_schema(summary="Put a referred participant on the waiting list", request=None)
    @action(detail=True, methods=["post"])
    def waitlist(self, request, pk=None):
        enrollment = self.get_object()
        enrollment_waitlist(enrollment=enrollment, by=request.user, precondition=self.if_match())
        return self._done(enrollment)

    @extend_schema(
        summary="End a membership or referral early", request=WithdrawEnrollmentSerializer
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        enrollment = self.get_object()
        data = self._input(WithdrawEnrollmentSerializer, request)
        enrollment_withdraw(
            enrollment=enrollment, by=request.user, precondition=self.if_match(), **data
        )
        return self._done(enrollment)

    @extend_schema(
        summary="Record that a member completed the group", request=CompleteEnrollmentSerializer
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        enrollment = self.get_object()
        data = self._input(CompleteEnrollmentSerializer, request)
        enrollment_complete(
            enrollment=enrollment, by=request.user, precondition=self.if_match(), **data
        )
        return self._done(enrollment)


class ConsentViewSet(
    SyncedListMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    ScopedViewSet,
):
    """Consent records. Never changed: a withdrawal is recorded on the grant, a new grant is a
    new record."""

    queryset = Consent.objects.select_related(
        "institution", "participant", "group", "recorded_by", "withdrawn_by"
    )
    serializer_class = ConsentSerializer
    filterset_class = ConsentFilterSet
    sync_group_path = "group"
    visible_to = CLINICAL_ROLES
    service_checks_if_match = ("withdraw",)
    ordering_fields = ["granted_at", "updated_at", "id"]
    ordering = ["participant_id", "purpose", "-granted_at", "id"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        consent = consent_grant(by=self.request.user, **data)
        serializer.instance = self.get_queryset().get(pk=consent.pk)

    @extend_schema(summary="Withdraw a consent (effective at once)", request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        consent = self.get_object()
        consent_withdraw(
            consent=consent,
            by=request.user,
            precondition=self.if_match(),
            **self._input(ReasonSerializer, request),
        )
        return self.respond_with(self.get_queryset().get(pk=consent.pk))


class AttendanceRecordViewSet(
    SyncedListMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    ScopedViewSet,
):
    """Individual marks, for sync (`updated_since`) and corrections (`PATCH`; history is kept).
    Whole sessions are marked through sessions/{id}/attendance/."""

    # Of the related rows only what their labels show: a sync page is 100 records, and reading
    # whole sessions, groups, participants and users for them cost more than the records.
    # The rows that many records share (their institution, their ~10 sessions, the few staff
    # who marked them) are fetched once each rather than joined and built again for every
    # record: a query more each, a few hundred model instances fewer per page.
    queryset = (
        AttendanceRecord.objects.select_related("participant")
        .only(*(f.name for f in AttendanceRecord._meta.concrete_fields), "participant__alias")
        .prefetch_related(
            Prefetch("institution", queryset=Institution.objects.only("name")),
            Prefetch(
                "session",
                queryset=Session.objects.select_related("group").only(
                    "institution",  # the service checks the role there (PATCH)
                    "group__name",
                    "sequence",
                ),
            ),
            Prefetch(
                "recorded_by",
                queryset=get_user_model().objects.only("username", "first_name", "last_name"),
            ),
        )
    )
    serializer_class = AttendanceRecordSerializer
    filterset_class = AttendanceRecordFilterSet
    sync_group_path = "session__group"
    visible_to = CLINICAL_ROLES
    ordering_fields = ["recorded_at", "updated_at", "id"]
    # Oldest change first: what a client syncing with `updated_since` walks through, and the
    # order of the (institution, updated_at) index, so deep pages stay cheap.
    ordering = ["updated_at", "id"]

    def perform_update(self, serializer):
        record, data = serializer.instance, serializer.validated_data
        mark = Mark(
            participant_id=record.participant_id,
            status=data.get("status", record.status),
            arrived_at=data.get("arrived_at", record.arrived_at),
            left_at=data.get("left_at", record.left_at),
        )
        try:
            attendance_record(
                session=record.session,
                marks=[mark],
                by=self.request.user,
                source=AttendanceRecord.Source.MOBILE,
                # Every mark of the session is written under the session's lock: the record's
                # ETag is compared there.
                precondition=self.if_match(
                    lambda locked: self.represent(self.get_queryset().get(pk=record.pk))
                ),
            )
        except DjangoValidationError as exc:
            # The service keys a refused mark by participant id; here there is only one.
            if hasattr(exc, "error_dict") and list(exc.error_dict) == [str(mark.participant_id)]:
                raise serializers.ValidationError(
                    {"non_field_errors": exc.message_dict[str(mark.participant_id)]}
                ) from exc
            raise
        serializer.instance = self.get_queryset().get(pk=record.pk)
