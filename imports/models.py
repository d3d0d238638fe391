"""What an import is: one uploaded spreadsheet, checked, then applied through the services."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from clinics.querysets import TenantQuerySet


class ImportJobQuerySet(TenantQuerySet):
    pass


class ImportJob(models.Model):
    """One uploaded file of participants or of one group's past attendance.

    Created PREVIEW (clean) or INVALID (with its problems) by `import_upload` — or CHECKING,
    when the file has more than IMPORT_BACKGROUND_ROWS rows, until a Celery worker has checked
    it (`import_check`; `rows` is meanwhile an estimate, for the progress bar); `import_apply`
    moves a clean preview to RUNNING and, in one transaction, to DONE with its counts — or back
    to INVALID when the services refuse a row, with nothing written. The file is kept
    encrypted (it holds names and contacts) until the import is done or refused, then deleted;
    its SHA-256 stays, and the audit event names it.
    """

    class Kind(models.TextChoices):
        PARTICIPANTS = "participants", _("Participants")
        ATTENDANCE = "attendance", _("Past attendance")

    class Status(models.TextChoices):
        CHECKING = "checking", _("Being checked")
        PREVIEW = "preview", _("Ready to import")
        INVALID = "invalid", _("Has problems")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    institution = models.ForeignKey(
        "clinics.Institution",
        on_delete=models.PROTECT,
        related_name="import_jobs",
        verbose_name=_("institution"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    group = models.ForeignKey(
        "group_sessions.SupportGroup",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="import_jobs",
        verbose_name=_("group"),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    filename = models.CharField(_("file name"), max_length=255)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    encoding = models.CharField(_("encoding"), max_length=16, blank=True)
    # The uploader's language: a check in the background writes the problems in it.
    language = models.CharField(_("language"), max_length=8, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    # The upload, Fernet-encrypted with FIELD_ENCRYPTION_KEYS; emptied once it has served.
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/", blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    problems = models.JSONField(_("problems"), default=list, blank=True)
    problem_count = models.PositiveIntegerField(_("number of problems"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        indexes = [models.Index(fields=["institution", "created_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.filename}"


class ImportedKey(models.Model):
    """The file's own id of a participant an import created ("id" column), so that importing
    the same list again, or a corrected one, finds the same person instead of a new one."""

    institution = models.ForeignKey(
        "clinics.Institution", on_delete=models.PROTECT, related_name="+"
    )
    key = models.CharField(_("id in the file"), max_length=64)
    participant = models.ForeignKey(
        "clinics.Participant", on_delete=models.PROTECT, related_name="import_keys"
    )
    job = models.ForeignKey(ImportJob, on_delete=models.PROTECT, related_name="keys")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("imported id")
        verbose_name_plural = _("imported ids")
        constraints = [
            models.UniqueConstraint(fields=["institution", "key"], name="imported_key_unique")
        ]

    def __str__(self):
        return self.key
