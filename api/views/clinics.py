"""The organisation (institutions, sites, rooms), participants, and the signed-in user."""

from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from audit.services import audit_record
from clinics.filtersets import (
    InstitutionFilterSet,
    ParticipantFilterSet,
    RoomFilterSet,
    SiteFilterSet,
)
from clinics.models import Institution, Participant, Room, Site
from clinics.roles import CLINICAL_ROLES
from clinics.services import participant_register, participant_update

from ..serializers.clinics import (
    InstitutionSerializer,
    MeSerializer,
    ParticipantSerializer,
    RoomSerializer,
    SiteSerializer,
)
from .base import ScopedViewSet


class InstitutionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The institutions you belong to."""

    queryset = Institution.objects.all()
    serializer_class = InstitutionSerializer
    filterset_class = InstitutionFilterSet
    ordering_fields = ["name", "updated_at", "id"]
    ordering = ["name", "id"]


class SiteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Sites of your institutions."""

    queryset = Site.objects.select_related("institution")
    serializer_class = SiteSerializer
    filterset_class = SiteFilterSet
    ordering_fields = ["name", "updated_at", "id"]
    ordering = ["name", "id"]


class RoomViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Rooms of your institutions' sites."""

    queryset = Room.objects.select_related("site__institution")
    serializer_class = RoomSerializer
    filterset_class = RoomFilterSet
    ordering_fields = ["name", "capacity", "updated_at", "id"]
    ordering = ["site__name", "name", "id"]


class ParticipantViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ScopedViewSet,
):
    """People known to your institutions, for the clinical roles (admin, facilitator, staff).

    Auditors see none (empty list, 404). Every read of one participant is audited.
    """

    queryset = Participant.objects.select_related("institution")
    serializer_class = ParticipantSerializer
    filterset_class = ParticipantFilterSet
    visible_to = CLINICAL_ROLES
    ordering_fields = ["number", "alias", "updated_at", "id"]
    ordering = ["institution_id", "number"]

    def retrieve(self, request, *args, **kwargs):
        participant = self.get_object()
        audit_record(actor=request.user, action="participant.viewed", obj=participant)
        return self.respond_with(participant)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        consents = [dict(c) for c in data.pop("consents", [])]
        serializer.instance = participant_register(by=self.request.user, consents=consents, **data)

    @transaction.atomic
    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("institution", None)
        serializer.instance = participant_update(
            participant=serializer.instance, by=self.request.user, **data
        )


class MeViewSet(ScopedViewSet):
    """The signed-in user."""

    serializer_class = MeSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(summary="You: your institutions and your role in each")
    def list(self, request):
        return Response(MeSerializer(request.user).data)

    @extend_schema(
        summary="A new secret address of your calendar feed (earlier ones stop working)",
        request=None,
        responses={
            201: inline_serializer("CalendarFeed", {"url": serializers.URLField()}),
        },
        methods=["POST"],
    )
    @extend_schema(
        summary="Revoke your calendar feed's address",
        responses={204: None},
        methods=["DELETE"],
    )
    @action(detail=False, methods=["post", "delete"], url_path="calendar")
    def calendar(self, request):
        from ..services import calendar_feed_issue, calendar_feed_revoke

        if request.method == "DELETE":
            calendar_feed_revoke(by=request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        secret = calendar_feed_issue(by=request.user)
        url = request.build_absolute_uri(f"/api/v1/calendar/{secret}.ics")
        return Response({"url": url}, status=status.HTTP_201_CREATED)
