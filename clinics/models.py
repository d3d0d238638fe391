import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .fields import EncryptedCharField
from .querysets import InstitutionQuerySet, ParticipantQuerySet, RoomQuerySet, SiteQuerySet

LANGUAGE_CHOICES = [("pl", _("Polish")), ("en", _("English")), ("ar", _("Arabic"))]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


class Institution(models.Model):
    """The tenant: a hospital ward, a counselling centre or another host of support groups.

    Nothing of one institution is ever visible to the members of another.
    """

    class Kind(models.TextChoices):
        HOSPITAL = "hospital", _("Hospital")
        COUNSELLING_CENTRE = "counselling_centre", _("Counselling centre")
        DAILY_SUPPORT_CENTRE = "daily_support_centre", _("Daily-support centre")
        MENTAL_HEALTH_CLINIC = "mental_health_clinic", _("Mental-health clinic")
        ADDICTION_TREATMENT = "addiction_treatment", _("Addiction-treatment centre")
        CORRECTIONAL = "correctional", _("Correctional service")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices, default=Kind.OTHER)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Warsaw", validators=[validate_time_zone]
    )
    language = models.CharField(_("language"), max_length=2, choices=LANGUAGE_CHOICES, default="pl")
    letterhead = models.TextField(
        _("report letterhead"),
        blank=True,
        help_text=_("Address and contact lines printed on reports."),
    )
    retention_months = models.PositiveIntegerField(
        _("retention period (months)"),
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(600)],
        help_text=_("Participants inactive for longer are pseudonymised by the retention job."),
    )
    monthly_summary_enabled = models.BooleanField(
        _("e-mail a monthly activity summary"), default=False
    )
    require_two_factor = models.BooleanField(
        _("require two-factor sign-in for admins"), default=False
    )
    # People are marked at the door as they arrive, so the roster opens before the start.
    attendance_opens_minutes_before = models.PositiveSmallIntegerField(
        _("attendance opens (minutes before the start)"),
        default=30,
        validators=[MaxValueValidator(240)],
        help_text=_("How long before a session begins its attendance can be taken."),
    )
    # The last participant number handed out; incremented under a row lock (participant_register).
    last_participant_number = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Moved by the database on every insert and update, whatever wrote the row (sync/: the
    # mobile app's sync tokens); never set here.
    change_number = models.BigIntegerField(default=0, db_default=0, editable=False)

    objects = InstitutionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")
        indexes = [models.Index(fields=["change_number", "id"], name="institution_changes")]

    def __str__(self):
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def local_now(self):
        return timezone.localtime(timezone.now(), self.tzinfo)


class Site(models.Model):
    """A building or address where an institution runs groups."""

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="sites", verbose_name=_("institution")
    )
    name = models.CharField(_("name"), max_length=200)
    address = models.TextField(_("address"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Moved by the database on every insert and update, whatever wrote the row (sync/: the
    # mobile app's sync tokens); never set here.
    change_number = models.BigIntegerField(default=0, db_default=0, editable=False)

    objects = SiteQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        indexes = [models.Index(fields=["change_number", "id"], name="site_changes")]

    def __str__(self):
        return self.name


class Room(models.Model):
    """A room at a site; scheduling refuses to book it twice at once."""

    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="rooms", verbose_name=_("site")
    )
    name = models.CharField(_("name"), max_length=200)
    capacity = models.PositiveIntegerField(_("capacity"), validators=[MinValueValidator(1)])
    is_active = models.BooleanField(_("in use"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Moved by the database on every insert and update, whatever wrote the row (sync/: the
    # mobile app's sync tokens); never set here.
    change_number = models.BigIntegerField(default=0, db_default=0, editable=False)

    objects = RoomQuerySet.as_manager()

    class Meta:
        ordering = ["site__name", "name"]
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        indexes = [models.Index(fields=["change_number", "id"], name="room_changes")]

    def __str__(self):
        return f"{self.name} ({self.site.name})"

    @property
    def institution(self) -> Institution:
        return self.site.institution

    @property
    def institution_id(self) -> int:
        return self.site.institution_id


class StaffMembership(models.Model):
    """A user's role in one institution; the only source of what they may see and do there."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Institution admin")
        FACILITATOR = "facilitator", _("Facilitator")
        STAFF = "staff", _("Staff")
        AUDITOR = "auditor", _("Auditor")

    class Profession(models.TextChoices):
        PSYCHOLOGIST = "psychologist", _("Psychologist")
        PSYCHOTHERAPIST = "psychotherapist", _("Psychotherapist")
        SOCIAL_WORKER = "social_worker", _("Social worker")
        ADDICTION_THERAPIST = "addiction_therapist", _("Addiction therapist")
        PSYCHIATRIST = "psychiatrist", _("Psychiatrist")
        NURSE = "nurse", _("Nurse")
        CLERGY = "clergy", _("Clergy")
        ADMINISTRATIVE = "administrative", _("Administrative")
        OTHER = "other", _("Other")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="memberships",
        verbose_name=_("user"),
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="memberships",
        verbose_name=_("institution"),
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    profession = models.CharField(
        _("profession"), max_length=32, choices=Profession.choices, blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["institution__name", "user__username"]
        verbose_name = _("staff membership")
        verbose_name_plural = _("staff memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "institution"], name="one_membership_per_institution"
            )
        ]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} @ {self.institution}"


class Participant(models.Model):
    """A person known to one institution, by an automatic pseudonymous code and an alias.

    Identity (legal name, contact, year of birth) is held only with the health-data consent
    (GDPR art. 9); anonymous groups register an alias only. Erasure wipes identity and keeps
    the code so that aggregate statistics survive.
    """

    class Channel(models.TextChoices):
        NONE = "none", _("No reminders")
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")

    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="participants",
        verbose_name=_("institution"),
    )
    number = models.PositiveIntegerField(editable=False)
    code = models.CharField(_("code"), max_length=16, editable=False)
    alias = models.CharField(_("alias"), max_length=100)
    legal_name = EncryptedCharField(_("legal name"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    reminder_channel = models.CharField(
        _("reminder channel"), max_length=8, choices=Channel.choices, default=Channel.NONE
    )
    birth_year = models.PositiveSmallIntegerField(
        _("year of birth"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1900), MaxValueValidator(2100)],
    )
    language = models.CharField(_("language"), max_length=2, choices=LANGUAGE_CHOICES, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Moved by the database on every insert and update, whatever wrote the row (sync/: the
    # mobile app's sync tokens); never set here.
    change_number = models.BigIntegerField(default=0, db_default=0, editable=False)

    objects = ParticipantQuerySet.as_manager()

    IDENTITY_FIELDS = ("legal_name", "email", "phone", "birth_year")

    class Meta:
        ordering = ["institution", "number"]
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "number"], name="participant_number_unique"
            ),
            models.UniqueConstraint(fields=["institution", "code"], name="participant_code_unique"),
        ]
        indexes = [models.Index(fields=["change_number", "id"], name="participant_changes")]

    def __str__(self):
        # The code alone: safe wherever a participant is shown by accident (admin, logs).
        return self.code

    @staticmethod
    def code_for(number: int) -> str:
        return f"P-{number:05d}"

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def has_identity(self) -> bool:
        return any(getattr(self, f) for f in self.IDENTITY_FIELDS)
