from django.contrib import admin

from .models import ReportRun


@admin.register(ReportRun)
class ReportRunAdmin(admin.ModelAdmin):
    """Read-only: runs are made by `report_request` and the render task, never by hand."""

    list_display = ["id", "type", "institution", "language", "status", "requested_by", "created_at"]
    list_filter = ["type", "status", "language"]
    list_select_related = ["institution", "requested_by"]
    date_hierarchy = "created_at"
    # Parameters and files name participants: the PDF is downloaded through the audited API.
    fields = [
        "institution",
        "type",
        "language",
        "status",
        "error",
        "requested_by",
        "sha256",
        "scheduled_month",
        "emailed_at",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).for_user(request.user)
