"""Participants' rights through the API: the access export (JSON) and erasure.

Both are for the institution's admins; another institution's participant is a 404.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from clinics.export import participant_export
from clinics.models import Participant
from clinics.roles import CLINICAL_ROLES
from clinics.services import participant_erase

from ..serializers.clinics import ParticipantSerializer
from ..throttling import UserWriteThrottle


def _participant(request, pk) -> Participant:
    return get_object_or_404(
        Participant.objects.for_user(request.user, roles=CLINICAL_ROLES).select_related(
            "institution"
        ),
        pk=pk,
    )


class ParticipantExportView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Access export: everything held about one participant (institution admins)",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, pk):
        data = participant_export(participant=_participant(request, pk), by=request.user)
        response = Response(data)
        response["Content-Disposition"] = (
            f'attachment; filename="{data["participant"]["code"]}.json"'
        )
        response["Cache-Control"] = "no-store"
        return response


class EraseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ParticipantEraseView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [UserWriteThrottle]

    @extend_schema(
        summary="Erase a participant: identity and contacts wiped for good, code and figures kept",
        request=EraseSerializer,
        responses={200: ParticipantSerializer},
    )
    def post(self, request, pk):
        participant = _participant(request, pk)
        serializer = EraseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        participant = participant_erase(
            participant=participant, by=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(ParticipantSerializer(participant, context={"request": request}).data)
