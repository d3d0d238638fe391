"""What members are told: session changes and reminders."""

import datetime
import functools

from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from attendance.models import Consent
from attendance.services import (
    session_roster,
)
from clinics.models import Institution, Participant
from sessions.models import Session

from ..models import OutboxMessage
from .outbox import _dispatch, _stamp, outbox_enqueue

Kind = OutboxMessage.Kind
Channel = OutboxMessage.Channel
Status = OutboxMessage.Status


REMINDER_AHEAD = datetime.timedelta(hours=24)


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
    transaction, so the notices exist exactly when the change does. A session that has
    already begun (a record put right afterwards, e.g. a past session marked cancelled) is
    news to nobody: no notice is written for it.
    """
    kinds = {"cancelled": Kind.SESSION_CANCELLED, "moved": Kind.SESSION_MOVED}
    if kind not in kinds:
        raise ValueError(f"Unknown session change: {kind}")
    session = Session.objects.select_related("institution", "room__site").get(pk=session.pk)
    if session.has_begun():
        return []
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
