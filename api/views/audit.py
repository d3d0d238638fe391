"""The audit log for institution admins: search it (audit-events/) or export it as CSV."""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer

from audit.export import csv_rows
from audit.filtersets import AuditEventFilterSet, admin_institutions
from audit.models import AuditEvent
from audit.services import audit_record

from ..serializers.audit import AuditEventSerializer
from .base import ScopedViewSet


class CSVRenderer(BaseRenderer):
    """Lets a client ask for `Accept: text/csv`; the export streams its own response."""

    media_type = "text/csv"
    format = "csv"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Your institutions' audit log, if you are their admin (others: an empty list, 404).

    Read-only: the application offers no way to change or delete an event. Filter by `since`,
    `until` (dates), `actor` (username), `action` (prefix), `participant` (code), `institution`.
    """

    queryset = AuditEvent.objects.select_related("institution")
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilterSet
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]

    def scope(self, queryset, roles):
        return queryset.for_user(self.request.user)

    @extend_schema(
        summary="Export the (filtered) audit log as CSV",
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="export",
        renderer_classes=[CSVRenderer, JSONRenderer],
    )
    def export(self, request):
        events = self.filter_queryset(self.get_queryset())
        only = list(admin_institutions(request.user)[:2])
        audit_record(
            actor=request.user,
            action="audit.exported",
            institution=only[0] if len(only) == 1 else None,
            details={"filters": {k: v for k, v in request.query_params.items() if v}},
        )
        response = StreamingHttpResponse(
            csv_rows(events.iterator(chunk_size=2000)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
        return response
