"""Questions about attendance with one answer each (STYLE.md 11): the service, the API and
the staff UI ask these functions, never a copy of their rule."""

import datetime

from django.utils import timezone

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
