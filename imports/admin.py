"""Imports in the Django admin: read-only (an import is made by uploading it in the staff UI or
the API, where the services check it), scoped to the admin's institutions."""

from django.contrib import admin

from clinics.admin import TenantAdmin

from .models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(TenantAdmin):
    read_only = True
    list_display = (
        "created_at",
        "kind",
        "filename",
        "status",
        "rows",
        "created",
        "updated",
        "unchanged",
        "institution",
    )
    list_filter = ("kind", "status")
    # The stored upload is encrypted and never offered for download here.
    exclude = ("file",)
    readonly_fields = [f.name for f in ImportJob._meta.fields if f.name not in ("id", "file")]
