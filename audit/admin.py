"""The audit log in the admin: read-only, searchable, each admin seeing their institution's."""

from django.contrib import admin

from clinics.admin import TenantAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(TenantAdmin):
    """Append-only: no add, change or delete for anyone, the superuser included."""

    read_only = True
    list_display = (
        "created_at",
        "actor_username",
        "action",
        "object_type",
        "object_id",
        "institution",
        "ip_address",
    )
    list_filter = ("action", "object_type", "institution")
    search_fields = ("action", "actor_username", "object_type", "object_id")
    date_hierarchy = "created_at"
    list_select_related = ("institution",)
    fields = (
        "created_at",
        "actor",
        "actor_username",
        "institution",
        "action",
        "object_type",
        "object_id",
        "ip_address",
        "client",
        "details",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return AuditEvent.objects.for_user(request.user).select_related("institution", "actor")

    def get_actions(self, request):
        return {}
