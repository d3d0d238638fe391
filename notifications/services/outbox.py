"""The outbox: write a message once, send it once, retry what is transient."""

import datetime
import logging
import smtplib
import socket
from email.utils import parseaddr

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from attendance.models import Consent, Enrollment, FollowUpTask
from attendance.services import (
    has_consent,
)
from audit.services import audit_record
from clinics.models import Participant
from sessions.models import Session

from ..models import OutboxMessage
from ..sms import SMSError, SMSTemporaryError, send_sms

logger = logging.getLogger(__name__)

Kind = OutboxMessage.Kind
Channel = OutboxMessage.Channel
Status = OutboxMessage.Status

# Worth retrying with backoff: the mail server or SMS provider could not be reached for now.
TRANSIENT_ERRORS = (
    smtplib.SMTPException,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    SMSTemporaryError,
)
# Not worth retrying: the address or the content was refused. SMSTemporaryError is an SMSError
# too (a provider's code may catch either): it is told apart first, in `_classify`.
PERMANENT_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, SMSError)

# A pending message nobody has tried for this long is dispatched again (its task may be lost).
STALE_AFTER = datetime.timedelta(minutes=15)
MAX_ATTEMPTS = 6
# A message whose fate is unknown (its sender died mid-send) is sent again once, no more.
MAX_UNCERTAIN_ATTEMPTS = 2


class OutboxBusy(Exception):
    """Another worker claimed the message and may still be talking to the provider."""

    def __init__(self, seconds: float):
        super().__init__(f"being sent; look again in {seconds:.0f} s")
        self.seconds = seconds


def sending_timeout() -> datetime.timedelta:
    """How long a claim protects a message being sent: past it, its sender is dead (the task's
    hard time limit has killed it) and nobody knows whether the provider got the message."""
    return datetime.timedelta(seconds=settings.OUTBOX_SENDING_TIMEOUT)


# --- Writing and sending ---------------------------------------------------------------------


def _stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def _dispatch(message_ids: list[int]) -> None:
    """Hand the messages to the workers once the transaction that wrote them has committed.

    One publication for the batch (a worker fans it out), without Kombu's publish retries: a
    broker that is down costs the request one refused connection, not 0.6 s a message, and
    never fails it (`robust`); the rows stay pending and `outbox_dispatch_stale` hands them
    over when the broker is back.
    """
    if not message_ids:
        return
    from ..tasks import send_messages

    ids = list(message_ids)

    # A named function, not a lambda: Django logs a robust callback's failure by its name.
    def publish_outbox_messages():
        send_messages.apply_async((ids,), retry=False)

    transaction.on_commit(publish_outbox_messages, robust=True)


def outbox_enqueue(
    *,
    key: str,
    kind: str,
    institution,
    channel: str,
    body: str,
    subject: str = "",
    to: str = "",
    participant: Participant | None = None,
    user=None,
    session: Session | None = None,
    enrollment: Enrollment | None = None,
    follow_up: FollowUpTask | None = None,
) -> OutboxMessage | None:
    """Write one message to the outbox, or nothing when a message with this key exists."""
    if OutboxMessage.objects.filter(key=key).exists():
        return None
    try:
        # A savepoint: a concurrent writer of the same key must not spoil the caller's transaction.
        with transaction.atomic():
            return OutboxMessage.objects.create(
                key=key,
                kind=kind,
                institution=institution,
                channel=channel,
                subject=subject[:200],
                body=body,
                to=to,
                participant=participant,
                user=user,
                session=session,
                session_starts_at=session.starts_at if session is not None else None,
                enrollment=enrollment,
                follow_up=follow_up,
            )
    except IntegrityError:
        return None


def _why_not_send(message: OutboxMessage, now) -> str:
    """Why a pending message must not go out any more ("" when it may)."""
    participant = message.participant
    if participant is not None:
        if participant.is_erased:
            return "the participant's data was erased"
        if not has_consent(participant, Consent.Purpose.CONTACT, when=now):
            return "no active contact consent"
        if participant.reminder_channel != message.channel:
            return "the participant's reminder channel changed"
    if message.user is not None and not message.user.is_active:
        return "the user is no longer active"
    session = message.session
    if session is not None and message.kind in (Kind.REMINDER, Kind.SESSION_MOVED):
        if session.status == Session.Status.CANCELLED:
            return "the session was cancelled"
        if session.starts_at != message.session_starts_at:
            return "the session was moved since"
        if message.kind == Kind.REMINDER and session.has_begun(now):
            return "the session has begun"
    if session is not None and message.kind in (Kind.SESSION_CANCELLED, Kind.SESSION_MOVED):
        # A notice about a session already past helps nobody (a job that ran late).
        if (message.session_starts_at or session.starts_at) <= now:
            return "the session is already past"
    enrollment = message.enrollment
    if enrollment is not None and message.kind in (Kind.SEAT_OFFERED, Kind.SEAT_OFFERED_STAFF):
        if enrollment.status != Enrollment.Status.WAITLISTED:
            return "the offer was taken up or withdrawn"
        if enrollment.offer_expires_at is None or enrollment.offer_expires_at <= now:
            return "the offer has lapsed"
    task = message.follow_up
    if task is not None:  # a follow-up notice
        if task.status != FollowUpTask.Status.OPEN:
            return "the follow-up is done"
        if task.assigned_to_id != message.user_id:
            return "the follow-up was given to someone else"
    return ""


def _address(message: OutboxMessage) -> str:
    if message.participant is not None:
        participant = message.participant
        return participant.email if message.channel == Channel.EMAIL else participant.phone
    if message.user is not None:
        return message.user.email
    return message.to


def _reference(message: OutboxMessage) -> str:
    """The message's Message-ID (e-mail) or provider reference (SMS), the same on a resend."""
    if message.channel == Channel.SMS:
        return f"krag-outbox-{message.pk}"
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "krag.local"
    return f"<krag-outbox-{message.pk}@{domain}>"


def _deliver(message: OutboxMessage) -> None:
    if message.channel == Channel.EMAIL:
        EmailMessage(
            subject=message.subject,
            body=message.body,
            to=[message.to],
            headers={"Message-ID": message.reference},
        ).send(fail_silently=False)
    else:
        send_sms(to=message.to, text=message.body, reference=message.reference)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _classify(exc: BaseException) -> str:
    if isinstance(exc, SMSTemporaryError):
        return "transient"
    if isinstance(exc, PERMANENT_ERRORS):
        return "permanent"
    if isinstance(exc, TRANSIENT_ERRORS):
        return "transient"
    return "bug"


def _claim(message_id: int) -> OutboxMessage | str:
    """Claim a pending message for one send, committed before anyone talks to the provider.

    Returns the claimed message, or the status of one that must not be sent (now). Raises
    OutboxBusy while another worker's claim may still be sending it.
    """
    with transaction.atomic():
        now = timezone.now()
        message = (
            OutboxMessage.objects.select_for_update(of=("self",))
            .select_related("participant", "user", "session", "enrollment", "follow_up")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.status != Status.PENDING:
            return message.status if message else ""
        fields = ["status", "last_error", "to", "reference", "attempts", "claimed_at"]
        fields += ["sending_since", "uncertain_attempts", "updated_at"]
        if message.sending_since is not None:
            busy_until = message.sending_since + sending_timeout()
            if busy_until > now:
                raise OutboxBusy((busy_until - now).total_seconds())
            # Its sender died, or ran out of time, talking to the provider: it may have gone out.
            message.uncertain_attempts += 1
            message.sending_since = None
            audit_record(
                actor=None,
                action="notification.fate_unknown",
                obj=message,
                details={"kind": message.kind, "uncertain_attempts": message.uncertain_attempts},
            )
            if message.uncertain_attempts >= MAX_UNCERTAIN_ATTEMPTS:
                message.status = Status.UNKNOWN
                message.last_error = "handed to the provider twice without an answer; not resent"
                message.save(update_fields=fields)
                return message.status
        reason = _why_not_send(message, now)
        if not reason:
            message.to = _address(message)
            reason = "" if message.to else "no address to send to"
        if reason:
            message.status = Status.SKIPPED
            message.last_error = reason
            message.save(update_fields=fields)
            return message.status
        message.reference = message.reference or _reference(message)
        message.attempts += 1
        message.claimed_at = message.sending_since = now
        message.save(update_fields=fields)
        return message


def _record_outcome(message: OutboxMessage, *, status: str, error: str = "") -> bool:
    """Write what the provider answered, in its own transaction, if the claim is still ours."""
    with transaction.atomic():
        now = timezone.now()
        changes = {"sending_since": None, "last_error": error, "updated_at": now}
        if status != Status.PENDING:
            changes["status"] = status
        if status == Status.SENT:
            changes["sent_at"] = now
        ours = OutboxMessage.objects.filter(
            pk=message.pk, status=Status.PENDING, sending_since=message.sending_since
        ).update(**changes)
        if ours and status == Status.SENT:
            audit_record(
                actor=None,
                action="notification.sent",
                obj=message,
                details={"kind": message.kind, "channel": message.channel},
            )
        return bool(ours)


def outbox_send(*, message_id: int) -> str:
    """Send one pending message if it is still wanted; returns the message's status.

    Three commits: the claim, then the provider is called outside any transaction, then the
    outcome. A worker killed between the first and the last leaves the claim standing; the
    next try, once the claim has timed out, counts the message as of unknown fate and sends it
    again, once, under the same Message-ID or reference. A transient error is recorded (still
    pending) and raised again for the task to retry with backoff; any other error marks the
    message failed.
    """
    claimed = _claim(message_id)
    if isinstance(claimed, str):
        return claimed
    message = claimed
    try:
        _deliver(message)
    except SoftTimeLimitExceeded:
        # Out of time mid-send: the provider may have taken it. The claim stays, and the next
        # try, after it timed out, counts this attempt as one of unknown fate.
        raise OutboxBusy(sending_timeout().total_seconds()) from None
    except Exception as exc:
        kind = _classify(exc)
        if kind == "bug":  # a bug or a misconfiguration: do not send it again blindly
            logger.exception("Sending outbox message %s failed", message_id)
        status = Status.PENDING if kind == "transient" else Status.FAILED
        _record_outcome(message, status=status, error=_error_text(exc))
        if kind == "transient":
            raise
        return status
    _record_outcome(message, status=Status.SENT)
    return Status.SENT


def outbox_mark_failed(*, message_id: int, error: str) -> bool:
    """Give up on a message after its last retry."""
    return bool(
        OutboxMessage.objects.filter(pk=message_id, status=Status.PENDING).update(
            status=Status.FAILED, last_error=error[:2000], updated_at=timezone.now()
        )
    )


def outbox_dispatch_stale(*, now=None) -> list[int]:
    """Dispatch pending messages nobody has tried lately (a broker down when they were
    written, a task lost); give up on those that used up their attempts."""
    now = now or timezone.now()
    stale = OutboxMessage.objects.pending().filter(created_at__lt=now - STALE_AFTER)
    stale = stale.filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE_AFTER))
    stale.filter(attempts__gte=MAX_ATTEMPTS).update(
        status=Status.FAILED, last_error="gave up after repeated failures", updated_at=now
    )
    ids = list(stale.filter(attempts__lt=MAX_ATTEMPTS).values_list("pk", flat=True))
    _dispatch(ids)
    return ids
