from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .querysets import AttendanceQuerySet, ConsentQuerySet, EnrollmentQuerySet, FollowUpQuerySet


class Enrollment(models.Model):
    """A participant's membership of one group: referred → waitlisted → active → completed or
    withdrawn. Rows are never deleted; rejoining later is a new enrollment.

    `joined_on` and `left_on` bound the sessions whose roster the member is on, so joining or
    leaving changes future rosters only.
    """

    class Status(models.TextChoices):
        REFERRED = "referred", _("Referred")
        WAITLISTED = "waitlisted", _("Waitlisted")
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    OPEN_STATUSES = (Status.REFERRED, Status.WAITLISTED, Status.ACTIVE)

    class ReferralSource(models.TextChoices):
        SELF = "self", _("Self-referral")
        GP = "gp", _("General practitioner")
        PSYCHIATRIST = "psychiatrist", _("Psychiatrist")
        HOSPITAL = "hospital", _("Hospital ward")
        SOCIAL_SERVICES = "social_services", _("Social services")
        COURT = "court", _("Court")
        PROBATION = "probation", _("Probation officer")
        EMPLOYER = "employer", _("Employer")
        TREATMENT_PROGRAMME = "treatment_programme", _("Treatment programme")
        OTHER = "other", _("Other")

    institution = models.ForeignKey(
        "clinics.Institution", on_delete=models.PROTECT, related_name="enrollments", editable=False
    )
    participant = models.ForeignKey(
        "clinics.Participant",
        on_delete=models.PROTECT,
        related_name="enrollments",
        verbose_name=_("participant"),
    )
    group = models.ForeignKey(
        "group_sessions.SupportGroup",
        on_delete=models.PROTECT,
        related_name="enrollments",
        verbose_name=_("group"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.REFERRED
    )
    referral_source = models.CharField(
        _("referral source"),
        max_length=32,
        choices=ReferralSource.choices,
        default=ReferralSource.SELF,
    )
    referred_on = models.DateField(_("referred on"), default=timezone.localdate)
    waitlisted_at = models.DateTimeField(_("waitlisted at"), null=True, blank=True)
    offered_at = models.DateTimeField(_("seat offered at"), null=True, blank=True)
    offer_expires_at = models.DateTimeField(_("offer expires at"), null=True, blank=True)
    joined_on = models.DateField(_("joined on"), null=True, blank=True)
    left_on = models.DateField(_("left on"), null=True, blank=True)
    end_reason = models.TextField(_("reason for leaving"), blank=True)
    is_walk_in = models.BooleanField(_("walk-in"), default=False)
    admitted_with_override = models.BooleanField(
        _("admitted with an admin's override"), default=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Moved by the database on every insert and update, whatever wrote the row (sync/: the
    # mobile app's sync tokens); never set here.
    change_number = models.BigIntegerField(default=0, db_default=0, editable=False)

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        ordering = ["group", "status", "waitlisted_at", "id"]
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "group"],
                condition=Q(status__in=["referred", "waitlisted", "active"]),
                name="one_open_enrollment_per_group",
            ),
            models.CheckConstraint(
                condition=Q(left_on__isnull=True)
                | Q(joined_on__isnull=True)
                | Q(left_on__gte=models.F("joined_on")),
                name="enrollment_leaves_after_joining",
            ),
            # The roster is computed from joined_on: an active member without it is on none.
            models.CheckConstraint(
                condition=~Q(status="active") | Q(joined_on__isnull=False),
                name="active_member_has_joined",
            ),
        ]
        indexes = [
            models.Index(fields=["group", "status", "joined_on"]),
            models.Index(fields=["change_number", "id"], name="enrollment_changes"),
        ]

    def __str__(self):
        return f"{self.participant} → {self.group} ({self.get_status_display()})"


class Consent(models.Model):
    """One grant of consent for one purpose, with how and by whom it was recorded.

    Never overwritten: withdrawal is recorded on the grant (who, when, why) and a new grant is
    a new row, so the history of every purpose stays readable.
    """

    class Purpose(models.TextChoices):
        PARTICIPATION = "participation", _("Participation in the group (incl. its ground rules)")
        HEALTH_DATA = "health_data", _("Processing of health-related data (GDPR art. 9)")
        CONTACT = "contact", _("Contact for reminders (e-mail / SMS)")
        DISCLOSURE = "disclosure", _("Disclosure of attendance to a named third party")
        RECORDING = "recording", _("Audio/video recording")
        RESEARCH = "research", _("Research use")

    class Status(models.TextChoices):
        GRANTED = "granted", _("Granted")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        EXPIRED = "expired", _("Expired")

    class Method(models.TextChoices):
        SIGNED_FORM = "signed_form", _("Signed form")
        VERBAL = "verbal", _("Verbal")
        ELECTRONIC = "electronic", _("Electronic")

    institution = models.ForeignKey(
        "clinics.Institution", on_delete=models.PROTECT, related_name="consents", editable=False
    )
    participant = models.ForeignKey(
        "clinics.Participant",
        on_delete=models.PROTECT,
        related_name="consents",
        verbose_name=_("participant"),
    )
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.GRANTED
    )
    group = models.ForeignKey(
        "group_sessions.SupportGroup",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consents",
        help_text=_("Participation: the group whose rules were agreed to (empty: any group)."),
    )
    recipient = models.CharField(
        _("recipient"),
        max_length=200,
        blank=True,
        help_text=_(
            "Disclosure: the named third party (court, probation officer, employer, programme)."
        ),
    )
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    text_version = models.CharField(_("version of the consent text"), max_length=32)
    scan = models.FileField(_("scan of the signed form"), upload_to="consents/%Y/%m/", blank=True)
    granted_at = models.DateTimeField(_("granted at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawal_reason = models.TextField(_("reason for withdrawal"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Moved by the database on every insert and update, whatever wrote the row (sync/: the
    # mobile app's sync tokens); never set here.
    change_number = models.BigIntegerField(default=0, db_default=0, editable=False)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["participant", "purpose", "-granted_at"]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.CheckConstraint(
                condition=~Q(purpose="disclosure") | ~Q(recipient=""),
                name="disclosure_names_recipient",
            ),
            # Withdrawal is effective from a recorded moment (ConsentQuerySet.active reads it).
            models.CheckConstraint(
                condition=~Q(status="withdrawn") | Q(withdrawn_at__isnull=False),
                name="withdrawn_consent_has_a_date",
            ),
        ]
        indexes = [
            models.Index(fields=["participant", "purpose", "status"]),
            models.Index(fields=["change_number", "id"], name="consent_changes"),
        ]

    def __str__(self):
        return f"{self.participant}: {self.get_purpose_display()} ({self.get_status_display()})"

    def is_active_at(self, when=None) -> bool:
        when = when or timezone.now()
        if self.granted_at > when:
            return False
        if self.withdrawn_at is not None and self.withdrawn_at <= when:
            return False
        return self.expires_at is None or self.expires_at > when


class AttendanceRecord(models.Model):
    """Whether one participant came to one session. Corrections keep the earlier versions."""

    class Status(models.TextChoices):
        PRESENT = "present", _("Present")
        LATE = "late", _("Late")
        LEFT_EARLY = "left_early", _("Left early")
        EXCUSED = "excused", _("Excused absence")
        UNEXCUSED = "unexcused", _("Unexcused absence")

    ATTENDED = (Status.PRESENT, Status.LATE, Status.LEFT_EARLY)

    class Source(models.TextChoices):
        WEB = "web", _("Web")
        MOBILE = "mobile", _("Mobile app")
        IMPORT = "import", _("Import")
        ADMIN = "admin", _("Admin")

    # No index of their own on institution, session and participant: the composite indexes
    # below lead with each of them (a single-column copy cost 38 MB on the scale data, and
    # time on every mark written, and the planner then preferred it to the composite ones).
    institution = models.ForeignKey(
        "clinics.Institution",
        on_delete=models.PROTECT,
        related_name="attendance_records",
        editable=False,
        db_index=False,
    )
    session = models.ForeignKey(
        "group_sessions.Session",
        on_delete=models.PROTECT,
        related_name="attendance_records",
        db_index=False,
    )
    participant = models.ForeignKey(
        "clinics.Participant",
        on_delete=models.PROTECT,
        related_name="attendance_records",
        db_index=False,
    )
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.PROTECT, related_name="attendance_records"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    arrived_at = models.TimeField(_("arrived at"), null=True, blank=True)
    left_at = models.TimeField(_("left at"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    source = models.CharField(
        _("recorded from"), max_length=8, choices=Source.choices, default=Source.WEB
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Moved by the database on every insert and update, whatever wrote the row (sync/: the
    # mobile app's sync tokens); never set here.
    change_number = models.BigIntegerField(default=0, db_default=0, editable=False)

    objects = AttendanceQuerySet.as_manager()

    class Meta:
        ordering = ["session", "participant"]
        verbose_name = _("attendance record")
        verbose_name_plural = _("attendance records")
        constraints = [
            models.UniqueConstraint(
                fields=["session", "participant"], name="one_mark_per_session_participant"
            ),
            models.CheckConstraint(
                condition=Q(arrived_at__isnull=True)
                | Q(left_at__isnull=True)
                | Q(left_at__gt=models.F("arrived_at")),
                name="attendance_leaves_after_arriving",
            ),
        ]
        indexes = [
            models.Index(fields=["participant", "session"]),
            models.Index(fields=["institution", "updated_at"]),
            # A sync walks one institution's marks in change order (docs/sync.md).
            models.Index(fields=["institution", "change_number", "id"], name="attendance_changes"),
        ]

    def __str__(self):
        return f"{self.participant} @ {self.session}: {self.get_status_display()}"

    @property
    def attended(self) -> bool:
        return self.status in self.ATTENDED


class AttendanceRevision(models.Model):
    """An earlier version of an attendance record, kept when the record is corrected."""

    record = models.ForeignKey(AttendanceRecord, on_delete=models.PROTECT, related_name="revisions")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=AttendanceRecord.Status.choices)
    arrived_at = models.TimeField(null=True, blank=True)
    left_at = models.TimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=AttendanceRecord.Source.choices)
    superseded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["record", "version"]
        constraints = [
            models.UniqueConstraint(fields=["record", "version"], name="one_revision_per_version")
        ]

    def __str__(self):
        return f"{self.record} (version {self.version})"


class FollowUpTask(models.Model):
    """A prompt for the facilitator to reach out: raised after two unexplained absences in a row,
    the early warning of a drop-out."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")

    institution = models.ForeignKey(
        "clinics.Institution", on_delete=models.PROTECT, related_name="+", editable=False
    )
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="follow_ups")
    trigger_session = models.ForeignKey(
        "group_sessions.Session", on_delete=models.PROTECT, related_name="+"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="follow_ups",
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    outcome = models.TextField(_("outcome"), blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = FollowUpQuerySet.as_manager()

    class Meta:
        ordering = ["status", "-created_at"]
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "trigger_session"], name="one_follow_up_per_trigger"
            ),
        ]

    def __str__(self):
        return f"{self.enrollment.participant} — {self.enrollment.group}"
