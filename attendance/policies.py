"""Questions about attendance with one answer each (STYLE.md 11): the service, the API and
the staff UI ask these functions, never a copy of their rule."""

import datetime

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sessions.models import Session


def attendance_opens_at(session: Session) -> datetime.datetime:
    """When the roster opens: the institution's `attendance_opens_minutes_before` ahead of the
    start, since people are marked at the door as they arrive."""
    minutes = session.institution.attendance_opens_minutes_before
    return session.starts_at - datetime.timedelta(minutes=minutes)


def attendance_is_open(session: Session, now: datetime.datetime | None = None) -> bool:
    """Whether marks may be recorded now: from the opening on, for a session that was neither
    cancelled nor found not held. Corrections later stay possible."""
    if session.status in (Session.Status.CANCELLED, Session.Status.NOT_HELD):
        return False
    return (now or timezone.now()) >= attendance_opens_at(session)


def attendance_refusal(session: Session, now: datetime.datetime | None = None) -> str:
    """Why marks cannot be recorded now, or "": the service refuses with it and the session
    screen says it (with the time the roster opens) before anyone taps."""
    if session.status == Session.Status.CANCELLED:
        return _("The session was cancelled; it has no attendance.")
    if session.status == Session.Status.NOT_HELD:
        return _("The session was not held; it has no attendance.")
    if not attendance_is_open(session, now):
        opens = timezone.localtime(attendance_opens_at(session), session.institution.tzinfo)
        return _("Attendance can be taken from %(time)s, shortly before the session begins.") % {
            "time": opens.strftime("%H:%M")
        }
    return ""


# --- Membership on a date --------------------------------------------------------------------

# Statuses of a membership that began: waiting or referred people are on no roster.
_NOT_JOINED = ("referred", "waitlisted")


def member_on_q(day: datetime.date) -> Q:
    """The Q of enrollments whose member is on the roster of `day`'s sessions: joined on or
    before it and not yet left (who leaves on day D is off the roster of D's sessions)."""
    return (
        Q(joined_on__isnull=False, joined_on__lte=day)
        & (Q(left_on__isnull=True) | Q(left_on__gt=day))
        & ~Q(status__in=_NOT_JOINED)
    )


def is_member_on(
    joined_on: datetime.date | None, left_on: datetime.date | None, day: datetime.date
) -> bool:
    """The same rule as `member_on_q`, for a membership already in memory."""
    return joined_on is not None and joined_on <= day and (left_on is None or left_on > day)


# --- Admission: may this person be admitted on that date? -------------------------------------


def _day_start(group, day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=group.institution.tzinfo)


def next_session(group, on: datetime.date) -> Session | None:
    """The group's first session on or after `on` that was not cancelled."""
    return (
        group.sessions.exclude(status=Session.Status.CANCELLED)
        .filter(starts_at__gte=_day_start(group, on))
        .order_by("starts_at", "id")
        .first()
    )


def next_entry_session(group, on: datetime.date) -> Session | None:
    """A semi-open group's first scheduled entry session on or after `on`."""
    return (
        group.sessions.filter(
            status=Session.Status.SCHEDULED,
            is_entry_point=True,
            starts_at__gte=_day_start(group, on),
        )
        .order_by("starts_at", "id")
        .first()
    )


def admission_refusal(group, on: datetime.date, *, override: bool = False) -> str:
    """Why no one can become a member of `group` from `on`, or "" (the mode and the dates;
    the seat, the consent and the waiting list are the enrollment service's). The admit form,
    walk-ins, the offer job and the API all ask here."""
    from sessions.models import SupportGroup

    Mode = SupportGroup.MembershipMode
    if group.status == SupportGroup.Status.ENDED or (group.ends_on and on > group.ends_on):
        return _("The group has ended; refer the person to another group.")
    if override:
        return ""
    if group.membership_mode == Mode.CLOSED and on > group.starts_on:
        return _(
            "This closed group started on %(date)s and admits no one after its start without an "
            "admin's override."
        ) % {"date": group.starts_on.isoformat()}
    if group.membership_mode == Mode.SEMI_OPEN and on > group.starts_on:
        session = next_session(group, on)
        if session is None or not session.is_entry_point:
            entry = next_entry_session(group, on)
            return _(
                "This semi-open group admits newcomers only at its entry sessions; the next one "
                "is on %(date)s: admit them from that day."
            ) % {"date": entry.local_date().isoformat() if entry else "–"}
    return ""


def first_admission_day(group, today: datetime.date) -> datetime.date | None:
    """The first day from `today` on when someone could join without an override: today, or
    in a semi-open group the day of its next entry session; None when no such day comes."""
    from sessions.models import SupportGroup

    if not admission_refusal(group, today):
        return today
    if group.membership_mode == SupportGroup.MembershipMode.SEMI_OPEN:
        entry = next_entry_session(group, today)
        if entry is not None and not admission_refusal(group, entry.local_date()):
            return entry.local_date()
    return None
