"""The audit log for institution admins: search it (audit-events/) or export it as CSV."""

from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from audit.export import csv_rows
from audit.filtersets import AuditEventFilterSet, admin_institutions
from audit.models import AuditEvent
from audit.pagination import BadCursor, page_of
from audit.services import audit_record
from clinics.models import Institution

from ..pagination import PageNumberPagination
from ..serializers.audit import AuditEventSerializer
from .base import ScopedViewSet


class AuditCursorPagination(BasePagination):
    """Newest first, `next` (older) and `previous` (newer) by cursor (audit.pagination): no
    count and no OFFSET, so a deep page of a year's log costs what the first does."""

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        size = PageNumberPagination().get_page_size(request)
        try:
            self.page = page_of(
                queryset,
                size=size,
                older=request.query_params.get("older"),
                newer=request.query_params.get("newer"),
            )
        except BadCursor:
            raise ValidationError(
                {"older": [_("This is not a cursor of this list: follow its next link.")]},
                code="invalid_cursor",
            ) from None
        return self.page.object_list

    def _link(self, key, cursor):
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        for other in ("older", "newer", "page"):
            url = remove_query_param(url, other)
        return replace_query_param(url, key, cursor)

    def get_paginated_response(self, data):
        return Response(
            {
                "next": self._link("older", self.page.older),
                "previous": self._link("newer", self.page.newer),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view):
        def param(name, description, kind="string"):
            return {"name": name, "required": False, "in": "query",
                    "description": description, "schema": {"type": kind}}  # fmt: skip

        return [
            param("older", "The events before this cursor (the `next` link gives it)."),
            param("newer", "The events after this cursor (the `previous` link gives it)."),
            param("page_size", "Events per page, 1 to 200 (default 50).", "integer"),
        ]


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
    Newest first, paged by cursor: follow `next` for older events, `previous` for newer ones.
    """

    queryset = AuditEvent.objects.select_related("institution")
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilterSet
    filter_backends = [DjangoFilterBackend]  # one order, the cursor's
    pagination_class = AuditCursorPagination

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            # A page's events share one or two institutions: fetched once, not one per event.
            queryset = queryset.select_related(None).prefetch_related(
                Prefetch("institution", queryset=Institution.objects.only("name"))
            )
        return queryset

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
