"""The organisation (institutions, sites, rooms), participants, and the signed-in user."""

from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import audit_record, listed_details
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
from .base import ScopedViewSet, SyncedListMixin


class InstitutionViewSet(SyncedListMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The institutions you belong to."""

    queryset = Institution.objects.all()
    serializer_class = InstitutionSerializer
    filterset_class = InstitutionFilterSet
    ordering_fields = ["name", "updated_at", "id"]
    ordering = ["name", "id"]


class SiteViewSet(SyncedListMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Sites of your institutions."""

    queryset = Site.objects.select_related("institution")
    serializer_class = SiteSerializer
    filterset_class = SiteFilterSet
    ordering_fields = ["name", "updated_at", "id"]
    ordering = ["name", "id"]


class RoomViewSet(SyncedListMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Rooms of your institutions' sites."""

    queryset = Room.objects.select_related("site__institution")
    serializer_class = RoomSerializer
    filterset_class = RoomFilterSet
    ordering_fields = ["name", "capacity", "updated_at", "id"]
    ordering = ["site__name", "name", "id"]


class ParticipantViewSet(
    SyncedListMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ScopedViewSet,
):
    """People known to your institutions, for the clinical roles (admin, facilitator, staff).

    Auditors see none (empty list, 404). Every read is audited: of one participant
    ("participant.viewed"), and of a page of the list ("participant.listed", with the ids).
    """

    queryset = Participant.objects.select_related("institution")
    serializer_class = ParticipantSerializer
    filterset_class = ParticipantFilterSet
    visible_to = CLINICAL_ROLES
    ordering_fields = ["number", "alias", "updated_at", "id"]
    ordering = ["institution_id", "number"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            # A page of participants shares one or two institutions: fetch those once rather
            # than join them and build one per participant.
            queryset = queryset.select_related(None).prefetch_related(
                Prefetch("institution", queryset=Institution.objects.only("name"))
            )
        return queryset

    def paginate_queryset(self, queryset):
        # A page of participants shows their records (names, contacts): the read is logged
        # with the ids of everyone shown, one event per institution on the page. (An event per
        # participant would add 100 rows to the log per page: a third of the page's time.)
        page = super().paginate_queryset(queryset)
        self.sync_shown(page or ())
        return page

    def sync_shown(self, rows):
        shown: dict[int, list[Participant]] = {}
        for participant in rows:
            shown.setdefault(participant.institution_id, []).append(participant)
        for participants in shown.values():
            audit_record(
                actor=self.request.user,
                action="participant.listed",
                institution=participants[0].institution,
                details=listed_details(participants),
            )

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
            participant=serializer.instance,
            by=self.request.user,
            precondition=self.if_match(),
            **data,
        )


class MeView(APIView):
    """The signed-in user."""

    @extend_schema(summary="You: your institutions and your role in each", responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)
