"""The audit log in the staff UI: institution admins search and export their institution's log.

Anyone else gets a 404, as for any page that is not theirs.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from .export import csv_rows
from .filtersets import AuditEventFilterSet, admin_institutions
from .models import AuditEvent
from .pagination import BadCursor, page_of
from .services import audit_record


def _search(request):
    institutions = admin_institutions(request.user)
    if not institutions.exists():
        raise Http404
    events = AuditEvent.objects.for_user(request.user).select_related("institution")
    filterset = AuditEventFilterSet(request.GET or None, queryset=events, request=request)
    qs = filterset.qs if filterset.is_bound and filterset.is_valid() else events.none()
    if not filterset.is_bound:
        qs = events
    return filterset, qs, institutions


@login_required
def audit_log(request):
    filterset, events, institutions = _search(request)
    try:
        page = page_of(
            events, size=50, older=request.GET.get("older"), newer=request.GET.get("newer")
        )
    except BadCursor:
        page = page_of(events, size=50)  # an edited link: start from the newest
    query = request.GET.copy()
    for key in ("older", "newer", "page"):
        query.pop(key, None)
    return render(
        request,
        "staff/audit/log.html",
        {
            "nav": "audit",
            "filter": filterset,
            "page": page,
            "institutions": institutions,
            "query": query.urlencode(),
        },
    )


@login_required
def audit_export(request):
    filterset, events, institutions = _search(request)
    only = list(institutions[:2])
    audit_record(
        actor=request.user,
        action="audit.exported",
        institution=only[0] if len(only) == 1 else None,
        details={"filters": {k: v for k, v in request.GET.items() if v}},
    )
    response = StreamingHttpResponse(
        csv_rows(events.iterator(chunk_size=2000)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response
