from django.contrib import admin

from .models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """The outbox, read-only: what was sent, to whom, and what failed. Messages are written
    and sent by the jobs only."""

    list_display = ("created_at", "kind", "channel", "recipient", "status", "attempts", "sent_at")
    list_filter = ("status", "kind", "channel", "institution")
    search_fields = ("key", "participant__code", "user__username", "to")
    date_hierarchy = "created_at"
    list_select_related = ("participant", "user", "institution")
    fields = (
        "institution",
        "key",
        "kind",
        "channel",
        "participant",
        "user",
        "session",
        "to",
        "subject",
        "body",
        "status",
        "attempts",
        "uncertain_attempts",
        "reference",
        "last_error",
        "created_at",
        "claimed_at",
        "sending_since",
        "sent_at",
    )
    readonly_fields = fields

    @admin.display(description="recipient")
    def recipient(self, obj):
        return obj.participant or obj.user or obj.to

    def get_queryset(self, request):
        return super().get_queryset(request).for_user(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
