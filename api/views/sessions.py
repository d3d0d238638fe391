"""Groups, sessions (with the roster and the domain verbs) and session notes."""

import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from attendance.models import AttendanceRecord
from attendance.services import Mark, RosterLine, attendance_record_roster, roster_lines
from clinics.locking import lock_for_change
from clinics.models import Institution, Room
from clinics.querysets import memberships_of
from clinics.roles import CLINICAL_ROLES
from sessions.filtersets import SessionFilterSet, SessionNoteFilterSet, SupportGroupFilterSet
from sessions.models import GroupFacilitator, Session, SessionNote, SupportGroup
from sessions.services import (
    group_create,
    group_facilitator_remove,
    group_facilitator_set,
    group_update,
    note_add_addendum,
    note_sign,
    note_write,
    schedule_create,
    session_cancel,
    session_mark_not_held,
    session_reschedule,
    session_schedule,
    session_update,
)

from ..exceptions import NoteExists
from ..permissions import HasClinicalRole
from ..serializers.attendance import MarkSerializer, RosterPutSerializer, RosterSerializer
from ..serializers.common import prefetched_list
from ..serializers.sessions import (
    AddendumSerializer,
    CancelSerializer,
    FacilitatorRemoveSerializer,
    GroupFacilitatorSerializer,
    GroupSerializer,
    ReasonSerializer,
    ScheduleSerializer,
    SessionNoteSerializer,
    SessionSerializer,
    session_display,
)
from ..sync import leads_group
from .base import ScopedViewSet, SyncedListMixin

FACILITATORS = Prefetch(
    "facilitator_roles", queryset=GroupFacilitator.objects.select_related("user")
)
# A facilitator as a list shows them: the role and the user's name.
FACILITATOR_LABELS = GroupFacilitator.objects.select_related("user").only(
    "group", "user", "role", "user__username", "user__first_name", "user__last_name"
)


def _differs(sent, stored) -> bool:
    """Whether a field sent differs from the stored one. Moments are compared in UTC: Python
    never finds two aware datetimes of different zones equal within the repeated hour of the
    autumn clock change (PEP 495), so a PUT repeating a session's start in that hour looked
    like a move."""
    if isinstance(sent, datetime.datetime) and isinstance(stored, datetime.datetime):
        return sent.astimezone(datetime.UTC) != stored.astimezone(datetime.UTC)
    return sent != stored


SESSION_LIST_COLUMNS = [
    *(f.name for f in Session._meta.concrete_fields),
    "group__name",
    "substitute_facilitator__username",
    "substitute_facilitator__first_name",
    "substitute_facilitator__last_name",
]


class GroupViewSet(
    SyncedListMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ScopedViewSet,
):
    """Support groups. Planning (create, change, facilitators, schedule) is for admins and
    facilitators; staff and auditors read."""

    queryset = SupportGroup.objects.select_related(
        "institution", "default_room__site"
    ).prefetch_related(FACILITATORS)
    serializer_class = GroupSerializer
    filterset_class = SupportGroupFilterSet
    sync_group_path = "pk"
    ordering_fields = ["name", "starts_on", "status", "updated_at", "id"]
    ordering = ["name", "id"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        facilitators = [(f["user"], f["role"]) for f in data.pop("facilitator_roles", [])]
        group = group_create(by=self.request.user, facilitators=facilitators, **data)
        serializer.instance = self.get_queryset().get(pk=group.pk)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("institution", None)
        group = group_update(
            group=serializer.instance, by=self.request.user, precondition=self.if_match(), **data
        )
        serializer.instance = self.get_queryset().get(pk=group.pk)

    @extend_schema(
        summary="Add a facilitator to the group or change their role",
        request=GroupFacilitatorSerializer,
        responses=GroupSerializer,
    )
    @action(detail=True, methods=["post"])
    def facilitators(self, request, pk=None):
        group = self.get_object()
        data = self._input(GroupFacilitatorSerializer, request)
        role = data.get("role", GroupFacilitator.Role.LEAD)
        group_facilitator_set(group=group, user=data["user"], role=role, by=request.user)
        return self.respond_with(self.get_queryset().get(pk=group.pk))

    @extend_schema(
        summary="Take a facilitator off the group",
        request=FacilitatorRemoveSerializer,
        responses=GroupSerializer,
    )
    @action(detail=True, methods=["post"], url_path="remove-facilitator")
    def remove_facilitator(self, request, pk=None):
        group = self.get_object()
        data = self._input(FacilitatorRemoveSerializer, request)
        group_facilitator_remove(group=group, user=data["user"], by=request.user)
        return self.respond_with(self.get_queryset().get(pk=group.pk))

    @extend_schema(
        summary="Generate the group's sessions from a recurrence rule (all or none)",
        request=ScheduleSerializer,
        responses={201: SessionSerializer(many=True)},
    )
    @action(detail=True, methods=["post"])
    def schedule(self, request, pk=None):
        group = self.get_object()
        data = dict(self._input(ScheduleSerializer, request))
        data["skip_dates"] = data.get("skip_dates") or []
        sessions = schedule_create(group=group, by=request.user, **data)
        rows = SessionViewSet.queryset.filter(pk__in=[s.pk for s in sessions])
        context = self.get_serializer_context()
        return Response(
            SessionSerializer(rows, many=True, context=context).data,
            status=status.HTTP_201_CREATED,
        )


class SessionViewSet(
    SyncedListMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ScopedViewSet,
):
    """Sessions of your institutions' groups. "My sessions today" is `?mine=true&date=today`;
    this week's: `?mine=true&week=today`."""

    queryset = Session.objects.select_related(
        "institution", "group", "room__site", "substitute_facilitator"
    ).prefetch_related(
        Prefetch(
            "group__facilitator_roles",
            queryset=FACILITATORS.queryset,
            to_attr=prefetched_list("facilitator_roles"),
        )
    )
    serializer_class = SessionSerializer
    filterset_class = SessionFilterSet
    sync_group_path = "group"
    ordering_fields = ["starts_at", "updated_at", "sequence", "id"]
    ordering = ["starts_at", "id"]
    service_checks_if_match = ("update", "partial_update", "cancel", "not_held", "attendance")

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            # Of the related rows only what the labels show ("my sessions this week" on a large
            # database read whole groups, rooms, sites and users for a handful of names).
            # A page's sessions share one or two institutions and a few rooms: those come once
            # each by prefetch (a model instance per row for the same institution cost more
            # than the two small queries, docs/benchmarks.md).
            queryset = (
                queryset.select_related(None)
                .select_related("group", "substitute_facilitator")
                .only(*SESSION_LIST_COLUMNS)
                .prefetch_related(None)
                .prefetch_related(
                    Prefetch("institution", queryset=Institution.objects.only("name")),
                    Prefetch(
                        "room",
                        queryset=Room.objects.select_related("site").only("name", "site__name"),
                    ),
                    Prefetch(
                        "group__facilitator_roles",
                        queryset=FACILITATOR_LABELS,
                        to_attr=prefetched_list("facilitator_roles"),
                    ),
                )
            )
        if self.action == "attendance":
            # A roster shows no facilitators or rooms: skip what the session list needs.
            queryset = (
                queryset.prefetch_related(None)
                .select_related(None)
                .select_related("institution", "group")
            )
        return queryset

    def perform_create(self, serializer):
        data = serializer.validated_data
        session = session_schedule(
            group=data["group"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            room=data.get("room"),
            online_link=data.get("online_link", ""),
            theme=data.get("theme", ""),
            by=self.request.user,
        )
        serializer.instance = self.get_queryset().get(pk=session.pk)

    @transaction.atomic
    def perform_update(self, serializer):
        session, data = serializer.instance, serializer.validated_data

        def changed(*names):
            # A PUT repeats unchanged fields; only real changes reach the services (a session
            # that has begun cannot be moved, but its theme can still be set).
            return {
                k: data[k] for k in names if k in data and _differs(data[k], getattr(session, k))
            }

        moves = changed("starts_at", "ends_at", "online_link", "room")
        if "room" in moves:
            moves["room"] = moves["room"] or ""
        changes = changed("theme", "substitute_facilitator")
        # The If-Match is checked by the first service under its lock, which lasts (one
        # transaction) through the second; a request that changes nothing still checks it.
        precondition = self.if_match()
        if not moves and not changes:
            lock_for_change(session, precondition)
        if moves:
            session = session_reschedule(
                session=session, by=self.request.user, precondition=precondition, **moves
            )
            precondition = None
        if changes:
            session = session_update(
                session=session, by=self.request.user, precondition=precondition, **changes
            )
        serializer.instance = self.get_queryset().get(pk=session.pk)

    @extend_schema(summary="Cancel a session, with a reason", request=CancelSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        session = self.get_object()
        data = self._input(CancelSerializer, request)
        session_cancel(session=session, by=request.user, precondition=self.if_match(), **data)
        return self.respond_with(self.get_queryset().get(pk=session.pk))

    @extend_schema(
        summary="Record that the session was not held (no quorum)", request=ReasonSerializer
    )
    @action(detail=True, methods=["post"], url_path="not-held")
    def not_held(self, request, pk=None):
        session = self.get_object()
        data = self._input(ReasonSerializer, request)
        session_mark_not_held(
            session=session, by=request.user, precondition=self.if_match(), **data
        )
        return self.respond_with(self.get_queryset().get(pk=session.pk))

    @extend_schema(
        summary="The session's roster with each person's mark",
        responses=RosterSerializer,
        methods=["GET"],
    )
    @extend_schema(
        summary="Record all marks of the session at once (all or none)",
        description="Per-person refusals come back under `marks`, keyed by participant id. "
        "Send the roster's ETag in If-Match to refuse overwriting someone else's marks.",
        request=RosterPutSerializer,
        responses=RosterSerializer,
        methods=["PUT"],
    )
    @action(
        detail=True,
        methods=["get", "put"],
        permission_classes=ScopedViewSet.permission_classes + [HasClinicalRole],
    )
    def attendance(self, request, pk=None):
        session = self.get_object()
        if request.method != "PUT":
            return Response(self._roster(session, roster_lines(session)))
        marks = self._marks(request)
        try:
            # The answer is built from what the write read and wrote, not read again.
            session, lines = attendance_record_roster(
                session=session,
                marks=marks,
                by=request.user,
                source=AttendanceRecord.Source.MOBILE,
                # The roster's ETag, compared under the session's lock (every mark is).
                precondition=self.if_match(
                    lambda locked: self._roster(locked, roster_lines(locked))
                ),
            )
        except DjangoValidationError as exc:
            if hasattr(exc, "error_dict") and all(k.isdigit() for k in exc.error_dict):
                raise serializers.ValidationError({"marks": exc.message_dict}) from exc
            raise
        return Response(self._roster(session, lines))

    def _marks(self, request) -> list[Mark]:
        body = RosterPutSerializer(data=request.data)
        if not isinstance(request.data, dict) or not isinstance(request.data.get("marks"), list):
            body.is_valid(raise_exception=True)
        items = request.data["marks"]
        # One list serializer: its child's fields are built once, not once per person.
        checked = MarkSerializer(data=items, many=True)
        errors, marks = {}, []
        if checked.is_valid():
            marks = [
                Mark(
                    participant_id=mark["participant"],
                    status=mark["status"],
                    arrived_at=mark.get("arrived_at"),
                    left_at=mark.get("left_at"),
                )
                for mark in checked.validated_data
            ]
        else:
            problems = checked.errors  # {index: errors} (older DRF: a list with {} for valid)
            if isinstance(problems, list):
                problems = dict(enumerate(problems))
            for index, problem in problems.items():
                if not problem:
                    continue
                item = items[index]
                key = item.get("participant") if isinstance(item, dict) else None
                is_id = isinstance(key, int) and not isinstance(key, bool)
                errors[str(key) if is_id else f"#{index}"] = problem
        if len(request.data["marks"]) > 500:
            errors["non_field_errors"] = [_("At most 500 marks in one request.")]
        if errors:
            raise serializers.ValidationError({"marks": errors})
        return marks

    def _roster(self, session, lines: list[RosterLine]) -> dict:
        data = {
            "session": {"id": session.pk, "display": session_display(session)},
            "session_status": session.status,
            "marks": [self._entry(line) for line in lines],
        }
        return RosterSerializer(data).data

    @staticmethod
    def _entry(line: RosterLine) -> dict:
        record = line.record
        return {
            "participant": {"id": line.participant.pk, "display": line.participant.alias},
            "enrollment": line.enrollment.pk,
            "is_walk_in": line.enrollment.is_walk_in,
            "on_roster": line.on_roster,
            "status": record.status if record else None,
            "arrived_at": record.arrived_at if record else None,
            "left_at": record.left_at if record else None,
            "version": record.version if record else None,
            "recorded_at": record.recorded_at if record else None,
        }


class SessionNoteViewSet(
    SyncedListMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ScopedViewSet,
):
    """Session notes, readable by the facilitators of that group only (private notes by their
    author only). Writing to an existing note's kind edits it; signed notes take addenda."""

    queryset = SessionNote.objects.select_related(
        "session__group", "participant", "author", "signed_by"
    ).prefetch_related("addenda__author")
    serializer_class = SessionNoteSerializer
    filterset_class = SessionNoteFilterSet
    visible_to = CLINICAL_ROLES
    ordering_fields = ["created_at", "updated_at", "id"]
    ordering = ["-created_at", "id"]
    sync_group_path = "session__group"
    service_checks_if_match = ("update", "partial_update", "sign")

    def scope(self, queryset, roles):
        return queryset.readable_by(self.request.user)

    def sync_universe(self, institutions, groups):
        # Only the notes of groups she leads or substitutes in (or whose view of them changed):
        # the ids of other groups' notes are not hers to learn, even as removals.
        user = self.request.user
        return (
            super()
            .sync_universe(institutions, groups)
            .filter(
                leads_group(user, "session__group_id")
                | Q(session__substitute_facilitator=user)
                | Q(session__group__in=groups)
                | ~Q(session__institution__in=memberships_of(user))
            )
        )

    def perform_create(self, serializer):
        data = serializer.validated_data

        def refuse_existing(note):
            # A POST never overwrites: an edit is a PATCH of that note with its If-Match.
            raise NoteExists(note.pk)

        try:
            note = note_write(
                session=data["session"],
                by=self.request.user,
                text=data.get("text", ""),
                kind=data.get("kind", SessionNote.Kind.GROUP),
                participant=data.get("participant"),
                theme=data.get("theme", ""),
                precondition=refuse_existing,
            )
        except IntegrityError:
            # Created by a concurrent POST between our look and our insert.
            existing = SessionNote.objects.filter(
                session=data["session"], kind=data.get("kind", SessionNote.Kind.GROUP)
            ).first()
            raise NoteExists(existing.pk if existing else None) from None
        serializer.instance = self.get_queryset().get(pk=note.pk)

    def perform_update(self, serializer):
        note, data = serializer.instance, serializer.validated_data
        for name in ("session", "kind", "participant"):
            if name in data and data[name] != getattr(note, name):
                raise serializers.ValidationError({name: _("This cannot be changed.")})
        note = note_write(
            session=note.session,
            by=self.request.user,
            text=data.get("text", note.text),
            kind=note.kind,
            participant=note.participant,
            theme=data.get("theme", note.theme),
            precondition=self.if_match(),
        )
        serializer.instance = self.get_queryset().get(pk=note.pk)

    @extend_schema(summary="Sign the note, which locks it", request=None)
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        note = self.get_object()
        note_sign(note=note, by=request.user, precondition=self.if_match())
        return self.respond_with(self.get_queryset().get(pk=note.pk))

    @extend_schema(
        summary="Add an addendum to a signed note",
        request=AddendumSerializer,
        responses={201: SessionNoteSerializer},
    )
    @action(detail=True, methods=["post"])
    def addenda(self, request, pk=None):
        note = self.get_object()
        serializer = AddendumSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        note_add_addendum(note=note, by=request.user, text=serializer.validated_data["text"])
        return self.respond_with(self.get_queryset().get(pk=note.pk), status=201)
