"""Imports: upload a spreadsheet (201 with its preview), apply a clean one (202 while a worker
writes it), follow it; and the register and participant list as CSV or XLSX."""

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer

from clinics.models import StaffMembership
from clinics.querysets import memberships_of
from imports.export import FORMATS, export_participants, export_register
from imports.models import ImportJob
from imports.services import import_apply, import_upload

from ..serializers.imports import (
    ImportJobSerializer,
    ImportUploadSerializer,
    ParticipantExportSerializer,
    RegisterExportSerializer,
)
from .base import ScopedViewSet


class _FileRenderer(BaseRenderer):
    """Lets a client ask for the file by its type; errors stay JSON."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data) if data is not None else b""


class CSVRenderer(_FileRenderer):
    media_type = "text/csv"
    format = "csv"


class XLSXRenderer(_FileRenderer):
    media_type = FORMATS["xlsx"]
    format = "xlsx"


def _file_response(export) -> HttpResponse:
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Checksum-SHA256"] = export.sha256
    response["Cache-Control"] = "no-store"
    return response


class ImportJobViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet
):
    """Imports of the institutions the user administers (others: 404 / empty list)."""

    queryset = ImportJob.objects.select_related("institution", "group")
    serializer_class = ImportJobSerializer
    visible_to = (StaffMembership.Role.ADMIN,)
    parser_classes = [MultiPartParser, FormParser]
    ordering = ["-created_at", "-id"]

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer},
        responses={201: ImportJobSerializer},
        summary="Upload a spreadsheet and see its preview",
    )
    def create(self, request, *args, **kwargs):
        data = self._input(ImportUploadSerializer, request)
        job = import_upload(
            kind=data["kind"],
            group=data.get("group"),
            institution=data.get("institution"),
            file=data["file"],
            by=request.user,
        )
        response = self.respond_with(job, status=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(f"{job.pk}/")
        return response

    @extend_schema(
        request=None,
        responses={200: ImportJobSerializer, 202: ImportJobSerializer},
        summary="Import a clean preview (202 while a worker writes it)",
    )
    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        job = import_apply(job=self.get_object(), by=request.user)
        running = job.status == ImportJob.Status.RUNNING
        return self.respond_with(job, status=status.HTTP_202_ACCEPTED if running else 200)

    @extend_schema(
        parameters=[ParticipantExportSerializer],
        responses={(200, "text/csv"): OpenApiResponse(description="The participant list")},
        summary="The participant list as CSV or XLSX",
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="export/participants",
        renderer_classes=[JSONRenderer, CSVRenderer, XLSXRenderer],
    )
    def export_participants(self, request):
        data = self._query(ParticipantExportSerializer, request)
        institution = data.get("institution")
        if institution is None:
            from clinics.models import Institution

            ids = sorted(memberships_of(request.user))
            institution = Institution.objects.filter(pk__in=ids[:1]).first()
            if institution is None:
                raise serializers.ValidationError({"institution": [_("Choose an institution.")]})
        return _file_response(
            export_participants(
                institution=institution, by=request.user, file_format=data["file_format"]
            )
        )

    @extend_schema(
        parameters=[RegisterExportSerializer],
        responses={(200, "text/csv"): OpenApiResponse(description="The group's register")},
        summary="A group's attendance register as CSV or XLSX",
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="export/register",
        renderer_classes=[JSONRenderer, CSVRenderer, XLSXRenderer],
    )
    def export_register(self, request):
        data = self._query(RegisterExportSerializer, request)
        return _file_response(
            export_register(
                group=data["group"],
                start=data["start"],
                end=data["end"],
                by=request.user,
                file_format=data["file_format"],
            )
        )

    def _query(self, serializer_class, request) -> dict:
        serializer = serializer_class(
            data=request.query_params, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
