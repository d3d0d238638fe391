"""Imports in the Django admin: read-only (an import is made by uploading, in the staff UI or
the API), scoped to the admin's institutions."""

from django.contrib import admin

from .models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "filename",
        "status",
        "rows",
        "created",
        "updated",
        "unchanged",
        "created_at",
    )
    list_filter = ("kind", "status")
    readonly_fields = [f.name for f in ImportJob._meta.fields if f.name != "file"]
    exclude = ("file",)

    def get_queryset(self, request):
        return super().get_queryset(request).for_user(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
