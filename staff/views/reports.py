"""Reports: request one, watch it render (the page reloads itself), download it."""

from django.shortcuts import render

from reports.models import ReportRun

from ..access import staff_view


@staff_view
def report_list(request):
    runs = ReportRun.objects.for_user(request.user).order_by("-created_at")[:50]
    return render(request, "staff/reports.html", {"nav": "reports", "runs": runs})
