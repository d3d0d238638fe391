import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinics.fields import EncryptedCharField, EncryptedTextField
from clinics.models import LANGUAGE_CHOICES

from .querysets import SessionNoteQuerySet, SessionQuerySet, SupportGroupQuerySet


class SupportGroup(models.Model):
    """A professionally led support group: who it is for, how it admits people, who leads it."""

    class Category(models.TextChoices):
        ADDICTION = "addiction", _("Addiction")
        DEPRESSION = "depression", _("Depression")
        PSYCHOSIS = "psychosis", _("Schizophrenia and psychosis")
        BEREAVEMENT = "bereavement", _("Bereavement")
        PERINATAL_LOSS = "perinatal_loss", _("Loss of an unborn child")
        PARENTING = "parenting", _("Parenting difficulties")
        ACOA = "acoa", _("Adult children of alcoholics")
        DOMESTIC_VIOLENCE = "domestic_violence", _("Domestic violence")
        CHRONIC_ILLNESS = "chronic_illness", _("Chronic illness")
        OTHER = "other", _("Other")

    class MembershipMode(models.TextChoices):
        CLOSED = "closed", _("Closed")
        OPEN = "open", _("Open")
        SEMI_OPEN = "semi_open", _("Semi-open")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        ENDED = "ended", _("Ended")

    institution = models.ForeignKey(
        "clinics.Institution",
        on_delete=models.PROTECT,
        related_name="groups",
        verbose_name=_("institution"),
    )
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    description = models.TextField(_("description"), blank=True)
    membership_mode = models.CharField(
        _("membership mode"),
        max_length=16,
        choices=MembershipMode.choices,
        default=MembershipMode.CLOSED,
    )
    entry_points = models.JSONField(
        _("entry points"),
        default=list,
        blank=True,
        help_text=_(
            "Semi-open groups: the session numbers at which newcomers may join, e.g. [1, 5, 9]."
        ),
    )
    capacity = models.PositiveSmallIntegerField(
        _("capacity"), default=12, validators=[MinValueValidator(2), MaxValueValidator(40)]
    )
    min_size = models.PositiveSmallIntegerField(
        _("minimum size (quorum)"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(40)],
    )
    default_room = models.ForeignKey(
        "clinics.Room",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="groups",
        verbose_name=_("default room"),
    )
    online_link = models.URLField(_("online link"), blank=True)
    language = models.CharField(_("language"), max_length=2, choices=LANGUAGE_CHOICES, default="pl")
    ground_rules = models.TextField(_("ground rules"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PLANNED
    )
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    facilitators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="GroupFacilitator", related_name="facilitated_groups"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Moved by the database on every insert and update, whatever wrote the row (sync/: the
    # mobile app's sync tokens); never set here.
    change_number = models.BigIntegerField(default=0, db_default=0, editable=False)

    objects = SupportGroupQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("support group")
        verbose_name_plural = _("support groups")
        constraints = [
            models.CheckConstraint(
                condition=Q(min_size__lte=models.F("capacity")), name="group_min_le_capacity"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="group_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["change_number", "id"], name="supportgroup_changes")]

    def __str__(self):
        return self.name


class GroupFacilitator(models.Model):
    """A facilitator's role in one group."""

    class Role(models.TextChoices):
        LEAD = "lead", _("Lead facilitator")
        CO_FACILITATOR = "co_facilitator", _("Co-facilitator")
        TRAINEE = "trainee", _("Trainee")
        OBSERVER = "observer", _("Observer")

    # Who is booked by the group's sessions (and so cannot be booked elsewhere at once).
    BOOKED_ROLES = (Role.LEAD, Role.CO_FACILITATOR)

    group = models.ForeignKey(
        SupportGroup, on_delete=models.CASCADE, related_name="facilitator_roles"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="group_roles"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.LEAD)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["group", "role", "user__username"]
        verbose_name = _("group facilitator")
        verbose_name_plural = _("group facilitators")
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="facilitator_once_per_group")
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()})"


class RecurrenceRule(models.Model):
    """How a group meets, e.g. every Tuesday 18:00–19:30 from September until June.

    Sessions are generated from it with python-dateutil's rrule, in the institution's time zone.
    """

    group = models.ForeignKey(SupportGroup, on_delete=models.PROTECT, related_name="recurrences")
    weekdays = models.JSONField(_("weekdays"), help_text=_("0 = Monday … 6 = Sunday"))
    interval_weeks = models.PositiveSmallIntegerField(
        _("every n weeks"), default=1, validators=[MinValueValidator(1), MaxValueValidator(8)]
    )
    start_time = models.TimeField(_("start time"))
    duration_minutes = models.PositiveSmallIntegerField(
        _("duration (minutes)"), validators=[MinValueValidator(15), MaxValueValidator(480)]
    )
    starts_on = models.DateField(_("first date"))
    until = models.DateField(_("last date"), null=True, blank=True)
    count = models.PositiveSmallIntegerField(
        _("number of sessions"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(260)],
    )
    skip_dates = models.JSONField(_("skipped dates"), default=list, blank=True)
    room = models.ForeignKey(
        "clinics.Room", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    online_link = models.URLField(_("online link"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("recurrence rule")
        verbose_name_plural = _("recurrence rules")

    def __str__(self):
        return f"{self.group}: {self.weekdays} {self.start_time:%H:%M}"

    def occurrences(self, tzinfo) -> list[tuple[datetime.datetime, datetime.datetime]]:
        """The (start, end) aware datetimes this rule describes, skip dates left out.

        `count` is the number of sessions: a skipped date (a holiday) does not use one up.
        """
        from dateutil import rrule

        skipped = {datetime.date.fromisoformat(str(d)) for d in self.skip_dates}
        start = datetime.datetime.combine(self.starts_on, self.start_time)
        until = datetime.datetime.combine(self.until, self.start_time) if self.until else None
        rule = rrule.rrule(
            rrule.WEEKLY,
            dtstart=start,
            interval=self.interval_weeks,
            byweekday=sorted(self.weekdays),
            until=until,
            count=self.count + len(skipped) if self.count else None,
        )
        length = datetime.timedelta(minutes=self.duration_minutes)
        result = []
        for naive in rule:
            if naive.date() in skipped:
                continue
            if self.count and len(result) == self.count:
                break
            # Wall-clock times in the institution's zone: 18:00 stays 18:00 across DST changes.
            starts = naive.replace(tzinfo=tzinfo)
            result.append((starts, starts + length))
        return result


class Session(models.Model):
    """One meeting of a group, in the institution's time zone."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        HELD = "held", _("Held")
        NOT_HELD = "not_held", _("Not held (no quorum)")
        CANCELLED = "cancelled", _("Cancelled")

    class Format(models.TextChoices):
        IN_PERSON = "in_person", _("In person")
        ONLINE = "online", _("Online")
        HYBRID = "hybrid", _("Hybrid")

    class CancelledBy(models.TextChoices):
        CENTRE = "centre", _("The centre")
        FACILITATOR = "facilitator", _("The facilitator")

    # No indexes of their own on institution and group: (institution, starts_at) and (group,
    # starts_at) lead with them. With a lone institution index PostgreSQL ANDed all of an
    # institution's sessions into "my sessions" (docs/benchmarks.md).
    institution = models.ForeignKey(
        "clinics.Institution",
        on_delete=models.PROTECT,
        related_name="sessions",
        editable=False,
        db_index=False,
    )
    group = models.ForeignKey(
        SupportGroup, on_delete=models.PROTECT, related_name="sessions", db_index=False
    )
    recurrence = models.ForeignKey(
        RecurrenceRule, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    sequence = models.PositiveIntegerField(_("session number"))
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    room = models.ForeignKey(
        "clinics.Room", on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    online_link = models.URLField(_("online link"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.SCHEDULED
    )
    theme = models.CharField(_("theme"), max_length=200, blank=True)
    substitute_facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="substitute_sessions",
        verbose_name=_("substitute facilitator"),
    )
    cancelled_by = models.CharField(
        _("cancelled by"), max_length=16, choices=CancelledBy.choices, blank=True
    )
    cancelled_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancellation_reason = models.TextField(_("reason"), blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Moved by the database on every insert and update, whatever wrote the row (sync/: the
    # mobile app's sync tokens); never set here.
    change_number = models.BigIntegerField(default=0, db_default=0, editable=False)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="session_ends_after_start"
            ),
        ]
        indexes = [
            models.Index(fields=["group", "starts_at"]),
            models.Index(fields=["institution", "starts_at"]),
            models.Index(fields=["room", "starts_at"]),
            models.Index(fields=["change_number", "id"], name="session_changes"),
        ]

    def __str__(self):
        local = timezone.localtime(self.starts_at)
        return f"{self.group} #{self.sequence} ({local:%Y-%m-%d %H:%M})"

    @property
    def format(self) -> str:
        if self.room_id and self.online_link:
            return self.Format.HYBRID
        if self.online_link:
            return self.Format.ONLINE
        return self.Format.IN_PERSON

    def local_starts_at(self):
        return timezone.localtime(self.starts_at, self.institution.tzinfo)

    def local_date(self) -> datetime.date:
        return self.local_starts_at().date()

    def has_begun(self, now=None) -> bool:
        return (now or timezone.now()) >= self.starts_at


class SessionNote(models.Model):
    """A note on a session: the shared group note, a short note per participant, or a
    facilitator's private note. Signed notes are locked; later changes are addenda.

    Private notes never reach a report.
    """

    class Kind(models.TextChoices):
        GROUP = "group", _("Group note")
        PARTICIPANT = "participant", _("Participant note")
        PRIVATE = "private", _("Private facilitator note")

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="notes")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    participant = models.ForeignKey(
        "clinics.Participant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="session_notes",
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    theme = EncryptedCharField(_("theme"), max_length=200, blank=True)
    text = EncryptedTextField(_("text"))
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Moved by the database on every insert and update, whatever wrote the row (sync/: the
    # mobile app's sync tokens); never set here.
    change_number = models.BigIntegerField(default=0, db_default=0, editable=False)

    objects = SessionNoteQuerySet.as_manager()

    class Meta:
        ordering = ["session", "kind", "id"]
        verbose_name = _("session note")
        verbose_name_plural = _("session notes")
        constraints = [
            models.UniqueConstraint(
                fields=["session"], condition=Q(kind="group"), name="one_group_note_per_session"
            ),
            models.UniqueConstraint(
                fields=["session", "participant"],
                condition=Q(kind="participant"),
                name="one_participant_note_per_session",
            ),
            models.UniqueConstraint(
                fields=["session", "author"],
                condition=Q(kind="private"),
                name="one_private_note_per_author",
            ),
            models.CheckConstraint(
                condition=(Q(kind="participant") & Q(participant__isnull=False))
                | (~Q(kind="participant") & Q(participant__isnull=True)),
                name="participant_note_names_participant",
            ),
        ]
        indexes = [models.Index(fields=["change_number", "id"], name="sessionnote_changes")]

    def __str__(self):
        return f"{self.get_kind_display()} — {self.session}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None


class NoteRevision(models.Model):
    """The text a note had before an edit (unsigned notes only): nothing is silently overwritten."""

    note = models.ForeignKey(SessionNote, on_delete=models.PROTECT, related_name="revisions")
    theme = EncryptedCharField(max_length=200, blank=True)
    text = EncryptedTextField()
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["note", "created_at"]

    def __str__(self):
        return f"{self.note} (revision of {self.created_at:%Y-%m-%d %H:%M})"


class NoteAddendum(models.Model):
    """A later addition to a signed (locked) note."""

    note = models.ForeignKey(SessionNote, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = EncryptedTextField(_("text"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["note", "created_at"]
        verbose_name = _("addendum")
        verbose_name_plural = _("addenda")

    def __str__(self):
        return f"{self.note} (addendum of {self.created_at:%Y-%m-%d %H:%M})"
