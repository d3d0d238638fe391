from django.conf import settings
from django.db import models


class AuditEventQuerySet(models.QuerySet):
    def for_user(self, user):
        """Admins of an institution read their institution's log; nobody else reads it."""
        if user.is_superuser:
            return self
        from clinics.models import StaffMembership
        from clinics.querysets import memberships_of

        # Literal ids, not a join through the memberships: `institution_id IN (7)` lets
        # PostgreSQL walk the (institution, created_at, id) index newest first and stop at
        # the page's end (docs/benchmarks.md).
        if not user.is_authenticated:
            return self.none()
        admin = StaffMembership.Role.ADMIN
        return self.filter(
            institution_id__in=[i for i, role in memberships_of(user).items() if role == admin]
        )

    def update(self, **kwargs):  # pragma: no cover - guarded on purpose
        raise TypeError("The audit log is append-only.")

    def delete(self):
        raise TypeError("The audit log is append-only.")


class AuditEvent(models.Model):
    """One thing that happened to sensitive data: who, when, from where, what, on which object.

    Append-only: the application offers no way to change or delete a row.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    actor_username = models.CharField(max_length=150, blank=True)
    # No index of its own: audit_by_institution_time leads with it (one index fewer to write
    # per event, on the largest table).
    institution = models.ForeignKey(
        "clinics.Institution",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        db_index=False,
    )
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    client = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "created_at"]),
            # An institution's log, newest first, one page at a time (audit.pagination).
            models.Index(
                fields=["institution", "created_at", "id"], name="audit_by_institution_time"
            ),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_username} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The audit log is append-only.")
