from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from clinics.querysets import TenantQuerySet


class OutboxQuerySet(TenantQuerySet):
    def pending(self):
        return self.filter(status=OutboxMessage.Status.PENDING)


class OutboxMessage(models.Model):
    """One e-mail or SMS that Krąg means to send, written before it is sent.

    `key` names what is said, to whom and about what (e.g.
    `reminder:session-7@2026-11-24T17:00:00+00:00:participant-3`): a job that runs twice finds
    the row already there and sends nothing twice.

    Sending is three steps, each committed on its own (notifications/services/outbox.py): the
    claim (`sending_since` set, `reference` fixed), the talk with the mail server or SMS
    provider outside any transaction, then `sent`. A row found with `sending_since` older than
    the task time limit belongs to a worker that died mid-send: its fate is unknown, it is
    counted in `uncertain_attempts`, sent again at most once under the same `reference`
    (the e-mail's Message-ID, the SMS's provider reference), and left `unknown` if that
    happens twice.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")

    class Kind(models.TextChoices):
        REMINDER = "reminder", _("Session reminder")
        DAY_PLAN = "day_plan", _("Facilitator's day plan")
        SESSION_CANCELLED = "session_cancelled", _("Session cancelled")
        SESSION_MOVED = "session_moved", _("Session moved")
        SEAT_OFFERED = "seat_offered", _("Seat offered (to the participant)")
        SEAT_OFFERED_STAFF = "seat_offered_staff", _("Seat offered (to the facilitators)")
        FOLLOW_UP = "follow_up", _("Follow-up after absences")
        CONSENT_EXPIRING = "consent_expiring", _("Consent about to expire")
        WAITLIST_LEFT = "waitlist_left", _("Left the waiting list")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        # Handed to the provider twice with no answer either time: not sent a third time.
        UNKNOWN = "unknown", _("Fate unknown")

    institution = models.ForeignKey(
        "clinics.Institution",
        on_delete=models.PROTECT,
        related_name="outbox_messages",
        verbose_name=_("institution"),
    )
    key = models.CharField(_("key"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    # The recipient is a participant (member-facing messages) or a staff user.
    participant = models.ForeignKey(
        "clinics.Participant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="outbox_messages",
        verbose_name=_("participant"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="outbox_messages",
        verbose_name=_("staff recipient"),
    )
    session = models.ForeignKey(
        "group_sessions.Session",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="outbox_messages",
        verbose_name=_("session"),
    )
    # The session's start the message speaks of: a reminder for a session moved since is stale.
    session_starts_at = models.DateTimeField(null=True, blank=True)
    # What a seat offer or a follow-up notice is about: checked again when it is sent, so a
    # notice about an offer taken or lapsed, or a follow-up already done, does not go out.
    enrollment = models.ForeignKey(
        "attendance.Enrollment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("enrollment"),
    )
    follow_up = models.ForeignKey(
        "attendance.FollowUpTask",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("follow-up task"),
    )
    to = models.CharField(_("address"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    claimed_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    # Set, committed, before the provider is called and cleared with the outcome: still set
    # after the time limit means the sender died and nobody knows whether it went out.
    sending_since = models.DateTimeField(_("sending since"), null=True, blank=True)
    uncertain_attempts = models.PositiveSmallIntegerField(_("attempts of unknown fate"), default=0)
    # The e-mail's Message-ID or the SMS's provider reference, fixed at the first claim and
    # reused on every resend, so a duplicate is recognisable as one.
    reference = models.CharField(_("reference"), max_length=200, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = OutboxQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(participant__isnull=True) | models.Q(user__isnull=True),
                name="outbox_one_recipient",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return self.key
