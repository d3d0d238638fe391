"""What the notification side does: write messages to the outbox, send each of them once, and
the periodic jobs that decide who hears what.

Every message is first an `OutboxMessage` row whose unique key says what, to whom and about
what; a job that runs twice finds its rows already there. Sending claims the row with a
conditional UPDATE inside the sending transaction, so a second worker waits and then finds it
sent, and a worker killed mid-send leaves the row pending for the redelivered task.

Members are contacted only with an active contact consent, checked when the message is written
and again when it is sent. Member-facing texts carry the date, time, place and the
institution's name, never the group's name or category (that alone can reveal a diagnosis).
"""

import datetime
import functools
import logging
import smtplib
import socket

from celery.exceptions import SoftTimeLimitExceeded
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from attendance.models import AttendanceRecord, Consent, Enrollment, FollowUpTask
from attendance.services import (
    enrollment_offer_lapse,
    enrollment_offer_seat,
    has_consent,
    seats_taken,
    session_roster,
)
from audit.services import audit_record
from clinics.models import Institution, Participant, StaffMembership
from clinics.services import participant_erase
from sessions.models import Session, SupportGroup

from .models import OutboxMessage
from .sms import SMSError, SMSTemporaryError, send_sms

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

REMINDER_AHEAD = datetime.timedelta(hours=24)
CONSENT_WARNING = datetime.timedelta(days=getattr(settings, "CONSENT_EXPIRY_WARNING_DAYS", 14))
SEAT_OFFER_HOURS = getattr(settings, "WAITLIST_OFFER_HOURS", 72)
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
    from .tasks import send_message

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
    if enrollment is not None:  # a seat offer
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


# --- What members are told -------------------------------------------------------------------


def _language(participant: Participant | None, institution: Institution) -> str:
    return (participant.language if participant else "") or institution.language


def _when(session: Session) -> tuple[str, str]:
    local = session.local_starts_at()
    return formats.date_format(local, "DATE_FORMAT"), formats.time_format(local, "H:i")


def _place(session: Session) -> str:
    parts = []
    if session.room_id:
        room = session.room
        site = room.site
        address = ", ".join(line.strip() for line in site.address.splitlines() if line.strip())
        parts.append(", ".join(p for p in (room.name, site.name, address) if p))
    if session.online_link:
        parts.append(_("online: %(link)s") % {"link": session.online_link})
    return "; ".join(parts) or _("the place will be announced")


def _member_text(kind: str, session: Session) -> tuple[str, str]:
    """Subject and text of a message to a member: date, time, place, institution; nothing
    about the group itself."""
    date, time = _when(session)
    facts = {
        "date": date,
        "time": time,
        "place": _place(session),
        "institution": session.institution.name,
    }
    if kind == Kind.REMINDER:
        subject = _("Reminder: meeting on %(date)s at %(time)s") % facts
        body = _(
            "This is a reminder of your meeting at %(institution)s on %(date)s at %(time)s.\n"
            "Place: %(place)s"
        )
    elif kind == Kind.SESSION_CANCELLED:
        subject = _("Meeting on %(date)s at %(time)s is cancelled") % facts
        body = _(
            "The meeting at %(institution)s on %(date)s at %(time)s is cancelled.\n"
            "We are sorry for the inconvenience."
        )
    else:
        subject = _("Meeting moved to %(date)s at %(time)s") % facts
        body = _(
            "Your meeting at %(institution)s has been moved. It now takes place on %(date)s "
            "at %(time)s.\nPlace: %(place)s"
        )
    return subject, body % facts


def _contactable(participants) -> list[Participant]:
    """Those of `participants` who may be contacted now: a channel, an address and an active
    contact consent."""
    candidates = [
        p
        for p in participants
        if not p.is_erased
        and (
            (p.reminder_channel == Participant.Channel.EMAIL and p.email)
            or (p.reminder_channel == Participant.Channel.SMS and p.phone)
        )
    ]
    consenting = set(
        Consent.objects.active()
        .filter(purpose=Consent.Purpose.CONTACT, participant__in=candidates)
        .values_list("participant_id", flat=True)
    )
    return [p for p in candidates if p.pk in consenting]


def _enqueue_to_member(
    *, key: str, kind: str, participant: Participant, session, texts, enrollment=None
):
    """Write a member-facing message in the member's language; `texts` renders it."""
    if OutboxMessage.objects.filter(key=key).exists():
        return None
    with translation.override(_language(participant, participant.institution)):
        subject, body = texts()
    return outbox_enqueue(
        key=key,
        kind=kind,
        institution=participant.institution,
        channel=participant.reminder_channel,
        subject=subject,
        body=body,
        participant=participant,
        session=session,
        enrollment=enrollment,
    )


def _session_notices(session: Session, kind: str) -> list[int]:
    members = [e.participant for e in session_roster(session)]
    created = []
    for participant in _contactable(members):
        participant.institution = session.institution
        if kind == Kind.SESSION_CANCELLED:
            key = f"{kind}:session-{session.pk}:participant-{participant.pk}"
        else:
            key = f"{kind}:session-{session.pk}@{_stamp(session.starts_at)}:participant-{participant.pk}"
        message = _enqueue_to_member(
            key=key,
            kind=kind,
            participant=participant,
            session=session,
            texts=functools.partial(_member_text, kind, session),
        )
        if message is not None:
            created.append(message.pk)
    return created


@transaction.atomic
def session_change_notices_enqueue(*, session: Session, kind: str) -> list[int]:
    """A session was cancelled or moved: write a notice to each consenting member.

    Called by `notifications.hooks.session_changed` inside the cancelling or moving
    transaction, so the notices exist exactly when the change does.
    """
    kinds = {"cancelled": Kind.SESSION_CANCELLED, "moved": Kind.SESSION_MOVED}
    if kind not in kinds:
        raise ValueError(f"Unknown session change: {kind}")
    session = Session.objects.select_related("institution", "room__site").get(pk=session.pk)
    created = _session_notices(session, kinds[kind])
    _dispatch(created)
    return created


@transaction.atomic
def reminders_enqueue(*, now=None) -> list[int]:
    """Remind consenting members of their sessions in the next 24 hours (once per session and
    start time: a moved session is reminded of again)."""
    now = now or timezone.now()
    sessions = Session.objects.filter(
        status=Session.Status.SCHEDULED, starts_at__gt=now, starts_at__lte=now + REMINDER_AHEAD
    ).select_related("institution", "room__site")
    created = []
    for session in sessions:
        created += _session_notices(session, Kind.REMINDER)
    _dispatch(created)
    return created


# --- What staff are told ---------------------------------------------------------------------


def _staff_users(institution_id: int, roles) -> list:
    memberships = StaffMembership.objects.filter(
        institution_id=institution_id, role__in=roles, is_active=True, user__is_active=True
    ).exclude(user__email="")
    return [m.user for m in memberships.select_related("user").order_by("user_id")]


def _enqueue_to_user(
    *, key: str, kind: str, user, institution, texts, session=None, enrollment=None, follow_up=None
):
    if OutboxMessage.objects.filter(key=key).exists():
        return None
    with translation.override(institution.language):
        subject, body = texts()
    return outbox_enqueue(
        key=key,
        kind=kind,
        institution=institution,
        channel=Channel.EMAIL,
        subject=subject,
        body=body,
        to=user.email,
        user=user,
        session=session,
        enrollment=enrollment,
        follow_up=follow_up,
    )


def _day_plan_text(institution: Institution, day: datetime.date, sessions: list[Session]):
    lines = []
    for session in sessions:
        _date, time = _when(session)
        line = f"{time}  {session.group.name} (#{session.sequence}) — {_place(session)}"
        if session.theme:
            line += f" — {session.theme}"
        lines.append(line)
    facts = {"date": formats.date_format(day, "DATE_FORMAT"), "institution": institution.name}
    subject = _("Your sessions today, %(date)s") % facts
    body = _("Your sessions at %(institution)s today, %(date)s:") % facts
    return subject, body + "\n\n" + "\n".join(lines)


def _facilitators_of(session: Session) -> set[int]:
    users = {role.user_id for role in session.group.facilitator_roles.all()}
    if session.substitute_facilitator_id:
        users.add(session.substitute_facilitator_id)
    return users


@transaction.atomic
def day_plans_enqueue(*, now=None) -> list[int]:
    """E-mail each facilitator the plan of their sessions today, once the morning has come in
    the institution's time zone (the job runs hourly; the key allows one plan a day)."""
    now = now or timezone.now()
    morning = getattr(settings, "DAY_PLAN_HOUR", 6)
    created = []
    for institution in Institution.objects.all():
        tz = institution.tzinfo
        local_now = timezone.localtime(now, tz)
        if local_now.hour < morning:
            continue
        day = local_now.date()
        start = datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
        end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tz)
        sessions = list(
            Session.objects.filter(institution=institution, starts_at__gte=start, starts_at__lt=end)
            .exclude(status=Session.Status.CANCELLED)
            .select_related("group", "room__site", "institution")
            .prefetch_related("group__facilitator_roles")
            .order_by("starts_at")
        )
        if not sessions:
            continue
        staff = {u.pk: u for u in _staff_users(institution.pk, StaffMembership.Role.values)}
        plans: dict[int, list[Session]] = {}
        for session in sessions:
            for user_id in _facilitators_of(session):
                if user_id in staff:
                    plans.setdefault(user_id, []).append(session)
        for user_id, own in plans.items():
            message = _enqueue_to_user(
                key=f"{Kind.DAY_PLAN}:user-{user_id}:institution-{institution.pk}:{day.isoformat()}",
                kind=Kind.DAY_PLAN,
                user=staff[user_id],
                institution=institution,
                texts=functools.partial(_day_plan_text, institution, day, own),
            )
            if message is not None:
                created.append(message.pk)
    _dispatch(created)
    return created


def _follow_up_text(task: FollowUpTask):
    enrollment = task.enrollment
    facts = {
        "code": enrollment.participant.code,
        "group": enrollment.group.name,
        "date": formats.date_format(task.trigger_session.local_date(), "DATE_FORMAT"),
    }
    subject = _("Follow-up: %(code)s missed two sessions in a row") % facts
    body = _(
        "%(code)s of the group “%(group)s” missed two sessions in a row without an explanation "
        "(the last on %(date)s). Please reach out and record the outcome of the follow-up."
    )
    return subject, body % facts


@transaction.atomic
def follow_up_notices_enqueue() -> list[int]:
    """E-mail the assigned facilitator about each open follow-up task, once per task."""
    tasks = (
        FollowUpTask.objects.filter(
            status=FollowUpTask.Status.OPEN,
            assigned_to__isnull=False,
            assigned_to__is_active=True,
        )
        .exclude(assigned_to__email="")
        .select_related(
            "assigned_to",
            "institution",
            "enrollment__participant",
            "enrollment__group",
            "trigger_session__institution",
        )
    )
    created = []
    for task in tasks:
        message = _enqueue_to_user(
            key=f"{Kind.FOLLOW_UP}:task-{task.pk}:user-{task.assigned_to_id}",
            kind=Kind.FOLLOW_UP,
            user=task.assigned_to,
            institution=task.institution,
            texts=functools.partial(_follow_up_text, task),
            session=task.trigger_session,
            follow_up=task,
        )
        if message is not None:
            created.append(message.pk)
    _dispatch(created)
    return created


def _consent_text(consent: Consent):
    facts = {
        "code": consent.participant.code,
        "purpose": consent.get_purpose_display(),
        "date": formats.date_format(
            timezone.localtime(consent.expires_at, consent.institution.tzinfo), "DATE_FORMAT"
        ),
    }
    subject = _("Consent of %(code)s expires on %(date)s") % facts
    body = _(
        "The consent of %(code)s to “%(purpose)s” expires on %(date)s. Renew it with the "
        "participant if it is still needed."
    )
    return subject, body % facts


@transaction.atomic
def expiring_consent_notices_enqueue(*, now=None) -> list[int]:
    """Flag consents that expire within the warning period to the institution's admins and
    staff, once per consent and person."""
    now = now or timezone.now()
    consents = (
        Consent.objects.active(now)
        .filter(
            status=Consent.Status.GRANTED,
            expires_at__lte=now + CONSENT_WARNING,
            participant__erased_at__isnull=True,
        )
        .select_related("participant", "institution")
        .order_by("expires_at", "pk")
    )
    staff_by_institution: dict[int, list] = {}
    created = []
    for consent in consents:
        if consent.institution_id not in staff_by_institution:
            staff_by_institution[consent.institution_id] = _staff_users(
                consent.institution_id, (StaffMembership.Role.ADMIN, StaffMembership.Role.STAFF)
            )
        for user in staff_by_institution[consent.institution_id]:
            message = _enqueue_to_user(
                key=f"{Kind.CONSENT_EXPIRING}:consent-{consent.pk}:user-{user.pk}",
                kind=Kind.CONSENT_EXPIRING,
                user=user,
                institution=consent.institution,
                texts=functools.partial(_consent_text, consent),
            )
            if message is not None:
                created.append(message.pk)
    _dispatch(created)
    return created


# --- The waiting list ------------------------------------------------------------------------


def _seat_offer_member_text(enrollment: Enrollment):
    facts = {
        "institution": enrollment.group.institution.name,
        "date": formats.date_format(
            timezone.localtime(enrollment.offer_expires_at, enrollment.group.institution.tzinfo),
            "DATETIME_FORMAT",
        ),
    }
    subject = _("A place is available for you at %(institution)s") % facts
    body = _(
        "A place you have been waiting for at %(institution)s is now available. We keep it for "
        "you until %(date)s: please contact us to confirm."
    )
    return subject, body % facts


def _seat_offer_staff_text(enrollment: Enrollment):
    facts = {
        "code": enrollment.participant.code,
        "group": enrollment.group.name,
        "date": formats.date_format(
            timezone.localtime(enrollment.offer_expires_at, enrollment.group.institution.tzinfo),
            "DATETIME_FORMAT",
        ),
    }
    subject = _("A seat in “%(group)s” was offered to %(code)s") % facts
    body = _(
        "A seat in the group “%(group)s” was offered to %(code)s, the first on the waiting list, "
        "until %(date)s. Admit them when they confirm; if they do not, the seat goes to the next."
    )
    return subject, body % facts


def _offer_notices(enrollment: Enrollment) -> list[int]:
    created = []
    stamp = _stamp(enrollment.offered_at)
    group = enrollment.group
    participant = enrollment.participant
    for member in _contactable([participant]):
        message = _enqueue_to_member(
            key=f"{Kind.SEAT_OFFERED}:enrollment-{enrollment.pk}@{stamp}:participant-{member.pk}",
            kind=Kind.SEAT_OFFERED,
            participant=member,
            session=None,
            texts=functools.partial(_seat_offer_member_text, enrollment),
            enrollment=enrollment,
        )
        if message is not None:
            created.append(message.pk)
    staff = {u.pk: u for u in _staff_users(group.institution_id, StaffMembership.Role.values)}
    for role in group.facilitator_roles.all():
        if role.user_id not in staff:
            continue
        message = _enqueue_to_user(
            key=f"{Kind.SEAT_OFFERED_STAFF}:enrollment-{enrollment.pk}@{stamp}:user-{role.user_id}",
            kind=Kind.SEAT_OFFERED_STAFF,
            user=staff[role.user_id],
            institution=group.institution,
            texts=functools.partial(_seat_offer_staff_text, enrollment),
            enrollment=enrollment,
        )
        if message is not None:
            created.append(message.pk)
    return created


def _offer_free_seats(group: SupportGroup) -> list[int]:
    # Serialise per group: two runs at once cannot offer the same seat twice.
    group = SupportGroup.objects.select_for_update().select_related("institution").get(pk=group.pk)
    today = group.institution.local_now().date()
    if group.membership_mode == SupportGroup.MembershipMode.CLOSED and today > group.starts_on:
        return []  # a closed group that has started admits no one without an admin's override
    created = []
    while seats_taken(group) < group.capacity:
        # Those whose offer lapsed keep `offered_at`: they had their turn.
        nxt = group.enrollments.waitlist().filter(offered_at__isnull=True).first()
        if nxt is None:
            break
        try:
            enrollment = enrollment_offer_seat(enrollment=nxt, by=None, hours=SEAT_OFFER_HOURS)
        except ValidationError:
            break
        enrollment.group = group
        created += _offer_notices(enrollment)
    return created


@transaction.atomic
def waitlist_offers_run(*, now=None) -> list[int]:
    """Release offers of a seat that expired, then offer each free seat to the first on the
    group's waiting list who has not had an offer yet; the member and the facilitators hear."""
    now = now or timezone.now()
    for enrollment in Enrollment.objects.filter(
        status=Enrollment.Status.WAITLISTED, offer_expires_at__lte=now
    ):
        try:
            with transaction.atomic():
                enrollment_offer_lapse(enrollment=enrollment, by=None, now=now)
        except ValidationError:
            continue  # admitted or released meanwhile (another run, a member of staff)
    today = timezone.localdate(now)
    groups = (
        SupportGroup.objects.filter(
            status__in=[SupportGroup.Status.PLANNED, SupportGroup.Status.ACTIVE],
            enrollments__status=Enrollment.Status.WAITLISTED,
            enrollments__offered_at__isnull=True,
        )
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .distinct()
        .order_by("pk")
    )
    created = []
    for group in groups:
        created += _offer_free_seats(group)
    _dispatch(created)
    return created


# --- Retention -------------------------------------------------------------------------------


def retention_candidates(institution: Institution, *, now=None):
    """Participants of `institution` inactive for longer than its retention period.

    Inactive: registered, changed, attending, enrolled and consenting all before the cutoff,
    and not a current member or on a waiting list (an open enrollment is not inactivity).
    """
    now = now or timezone.now()
    cutoff = now - relativedelta(months=institution.retention_months)
    recent_attendance = AttendanceRecord.objects.filter(participant=OuterRef("pk")).filter(
        Q(updated_at__gte=cutoff) | Q(session__starts_at__gte=cutoff)
    )
    recent_enrollment = Enrollment.objects.filter(participant=OuterRef("pk")).filter(
        Q(updated_at__gte=cutoff) | Q(status__in=Enrollment.OPEN_STATUSES)
    )
    recent_consent = Consent.objects.filter(participant=OuterRef("pk"), updated_at__gte=cutoff)
    return (
        Participant.objects.filter(
            institution=institution,
            erased_at__isnull=True,
            created_at__lt=cutoff,
            updated_at__lt=cutoff,
        )
        .exclude(Exists(recent_attendance))
        .exclude(Exists(recent_enrollment))
        .exclude(Exists(recent_consent))
        .order_by("pk")
    )


def retention_erase_inactive(*, now=None) -> list[int]:
    """Pseudonymise every participant inactive past their institution's retention period
    (each in its own transaction, audited by `participant_erase`); returns their ids."""
    erased = []
    for institution in Institution.objects.all():
        for participant in retention_candidates(institution, now=now):
            try:
                # Also forgets the person's addresses in the outbox (notifications.erasure).
                participant_erase(participant=participant, by=None, reason="retention")
            except ValidationError:
                continue  # erased meanwhile (another run, an erasure request)
            erased.append(participant.pk)
    if erased:
        logger.info("Retention: pseudonymised %d inactive participants", len(erased))
    return erased
