"""The outbox: write a message once, send it once, retry what is transient."""

import datetime
import logging
import smtplib
import socket

from celery.exceptions import SoftTimeLimitExceeded
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
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
    SoftTimeLimitExceeded,  # a mail server that hangs: give up this try, not the message
    smtplib.SMTPException,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    SMSTemporaryError,
)
# Not worth retrying: the address or the content was refused (caught before the above).
PERMANENT_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, SMSError)

# A pending message nobody has tried for this long is dispatched again (its task may be lost).
STALE_AFTER = datetime.timedelta(minutes=15)
MAX_ATTEMPTS = 6


# --- Writing and sending ---------------------------------------------------------------------


def _stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def _dispatch(message_ids: list[int]) -> None:
    """Hand the messages to the workers once the transaction that wrote them has committed.

    `robust`: a broker that is down must not fail the request that already committed; the
    rows stay pending and `outbox_dispatch_stale` sends them later.
    """
    from ..tasks import send_message

    def send(pk):
        # A named function, not a partial: Django logs a robust callback's failure by its name.
        def send_message_after_commit():
            send_message.delay(pk)

        return send_message_after_commit

    for pk in message_ids:
        transaction.on_commit(send(pk), robust=True)


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


def _deliver(message: OutboxMessage) -> None:
    if message.channel == Channel.EMAIL:
        EmailMessage(subject=message.subject, body=message.body, to=[message.to]).send(
            fail_silently=False
        )
    else:
        send_sms(to=message.to, text=message.body)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def outbox_send(*, message_id: int) -> str:
    """Send one pending message if it is still wanted; returns the message's status.

    A transient error is recorded on the row (still pending) and raised again for the task to
    retry with backoff; any other error marks the message failed.
    """
    transient = None
    with transaction.atomic():
        now = timezone.now()
        # The claim: the row stays locked until this transaction ends, so a second worker's
        # UPDATE waits, then finds the message no longer pending. A worker killed mid-send
        # rolls the claim back and the redelivered task sends the message.
        claimed = OutboxMessage.objects.filter(pk=message_id, status=Status.PENDING).update(
            attempts=F("attempts") + 1, claimed_at=now, updated_at=now
        )
        if not claimed:
            return (
                OutboxMessage.objects.filter(pk=message_id).values_list("status", flat=True).first()
                or ""
            )
        message = OutboxMessage.objects.select_related(
            "participant", "user", "session", "enrollment", "follow_up"
        ).get(pk=message_id)
        reason = _why_not_send(message, now)
        if not reason:
            message.to = _address(message)
            reason = "" if message.to else "no address to send to"
        if reason:
            message.status = Status.SKIPPED
            message.last_error = reason
            message.save(update_fields=["status", "last_error", "to", "updated_at"])
            return message.status
        try:
            _deliver(message)
        except PERMANENT_ERRORS as exc:
            message.status = Status.FAILED
            message.last_error = _error_text(exc)
        except TRANSIENT_ERRORS as exc:
            message.last_error = _error_text(exc)
            transient = exc
        except Exception as exc:  # a bug or a misconfiguration: do not send it again blindly
            logger.exception("Sending outbox message %s failed", message_id)
            message.status = Status.FAILED
            message.last_error = _error_text(exc)
        else:
            message.status = Status.SENT
            message.sent_at = timezone.now()
            message.last_error = ""
            audit_record(
                actor=None,
                action="notification.sent",
                obj=message,
                details={"kind": message.kind, "channel": message.channel},
            )
        message.save()
    if transient is not None:
        raise transient
    return message.status


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
