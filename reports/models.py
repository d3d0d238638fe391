from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from clinics.fields import EncryptedJSONField
from clinics.models import LANGUAGE_CHOICES
from clinics.querysets import TenantQuerySet, institution_ids_for


class ReportRunQuerySet(TenantQuerySet):
    def for_user(self, user, roles=None):
        """Runs a user may see: their own, and every run of an institution they administer.

        A facilitator does not see what a colleague asked for (a participant export, say);
        another institution's run does not exist for anyone.
        """
        from clinics.models import StaffMembership

        scoped = super().for_user(user, roles)
        if user.is_superuser:
            return scoped
        admin_of = institution_ids_for(user, roles=[StaffMembership.Role.ADMIN])
        return scoped.filter(Q(requested_by=user) | Q(institution__in=admin_of))


class ReportRun(models.Model):
    """One request for a PDF report: what was asked for, by whom, and the file it produced.

    Created PENDING by `report_request`; the `render_report` task claims it once (RUNNING) and
    leaves it READY with a file and its SHA-256, or FAILED with the reason.
    """

    class Type(models.TextChoices):
        SIGN_IN_SHEET = "sign_in_sheet", _("Session sign-in sheet")
        GROUP_REGISTER = "group_register", _("Group attendance register")
        ACTIVITY_SUMMARY = "activity_summary", _("Institution activity summary")
        ATTENDANCE_CERTIFICATE = "attendance_certificate", _("Attendance certificate")
        PARTICIPANT_EXPORT = "participant_export", _("Participant data export")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    institution = models.ForeignKey(
        "clinics.Institution",
        on_delete=models.PROTECT,
        related_name="report_runs",
        verbose_name=_("institution"),
    )
    type = models.CharField(_("type"), max_length=32, choices=Type.choices)
    language = models.CharField(_("language"), max_length=2, choices=LANGUAGE_CHOICES)
    parameters = models.JSONField(_("parameters"), default=dict)
    # Empty for the scheduled monthly summary, which nobody asked for in person.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="report_runs",
        verbose_name=_("requested by"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    file = models.FileField(_("file"), upload_to="reports/%Y/%m/", blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    # Certificates only: the public code printed on the certificate, and what the public
    # verification page may repeat (exactly what the certificate itself says, nothing more).
    verification_code = models.CharField(
        _("verification code"), max_length=32, null=True, blank=True, unique=True
    )
    # Encrypted at rest: a certificate names its holder (the legal name, where consented).
    certificate_facts = EncryptedJSONField(default=dict, blank=True)
    # Scheduled monthly summaries: the first day of the month summarised, and when e-mailed.
    scheduled_month = models.DateField(_("scheduled for month"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = ReportRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("report run")
        verbose_name_plural = _("report runs")
        constraints = [
            # The beat job may fire twice (two schedulers, a retry): one summary a month anyway.
            models.UniqueConstraint(
                fields=["institution", "scheduled_month"],
                condition=Q(scheduled_month__isnull=False),
                name="one_scheduled_summary_per_month",
            ),
        ]
        indexes = [models.Index(fields=["institution", "created_at"])]

    def __str__(self):
        return f"{self.get_type_display()} #{self.pk} ({self.get_status_display()})"

    @property
    def filename(self) -> str:
        return f"{self.type}-{self.pk}.pdf"
