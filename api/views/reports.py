"""Reports: ask for one (202, rendered by Celery or at once without a broker), follow its
status, download the PDF. Every download is written to the audit log by the service."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer

from reports.filtersets import ReportRunFilterSet
from reports.models import ReportRun
from reports.services import PARAMETERS, report_download, report_request

from ..serializers.reports import ReportRequestSerializer, ReportRunSerializer
from .base import ScopedViewSet

PARAMETER_NAMES = {name for names in PARAMETERS.values() for name in names} | {"unknown"}


class PDFRenderer(BaseRenderer):
    """Lets a client send `Accept: application/pdf` to the download; errors stay JSON."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data) if data is not None else b""


class ReportRunViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet
):
    """Report runs: the user's own, or all of an institution they administer."""

    queryset = ReportRun.objects.select_related("institution", "requested_by")
    serializer_class = ReportRunSerializer
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]
    filterset_class = ReportRunFilterSet

    def get_serializer_class(self):
        return ReportRequestSerializer if self.action == "create" else ReportRunSerializer

    @extend_schema(
        request=ReportRequestSerializer,
        responses={202: ReportRunSerializer},
        summary="Ask for a report",
    )
    def create(self, request, *args, **kwargs):
        data = self._input(ReportRequestSerializer, request)
        try:
            run = report_request(
                type=data["type"],
                language=data.get("language"),
                parameters=data["parameters"],
                by=request.user,
            )
        except DjangoValidationError as exc:
            if hasattr(exc, "error_dict") and set(exc.message_dict) <= PARAMETER_NAMES:
                raise serializers.ValidationError({"parameters": exc.message_dict}) from exc
            raise
        run.refresh_from_db()  # without a broker it has been rendered already
        response = self.respond_with(run, status=status.HTTP_202_ACCEPTED)
        response["Location"] = request.build_absolute_uri(f"{run.pk}/")
        return response

    def _input(self, serializer_class, request):
        serializer = serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(description="The PDF"),
            400: OpenApiResponse(description="The report is not ready"),
        },
        summary="Download a ready report",
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PDFRenderer])
    def download(self, request, pk=None):
        run = self.get_object()
        handle = report_download(run=run, by=request.user)
        response = FileResponse(
            handle, content_type="application/pdf", as_attachment=True, filename=run.filename
        )
        response["X-Checksum-SHA256"] = run.sha256
        return response
