"""A small world for the reports: group_a (anna) with six members over October 2026.

Sessions (Europe/Warsaw, 18:00): #1 Oct 6 held, #2 Oct 13 held, #3 Oct 20 cancelled,
#4 Oct 27 not held, #5 Nov 3 held. Marks of the held sessions, per member (P1…P6):

    P1: present, present, present      P4: unexcused, excused, present
    P2: late, unexcused, present       P5: present, left early, (no mark: "not recorded")
    P3: excused, present, present      P6: joined Oct 10 → not a member on #1; present, late

Legal names are set for all; P1 and P2 have an active health-data consent, so only they may be
named, and only to ewa (admin) or anna (the group's facilitator).
"""

import datetime
import zoneinfo

import pytest

from attendance.models import AttendanceRecord, Consent, Enrollment
from sessions.models import Session
from tests.factories import (
    AttendanceFactory,
    ConsentFactory,
    EnrollmentFactory,
    ParticipantFactory,
    SessionFactory,
)

WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")
S = AttendanceRecord.Status
NAMES = [
    "Zofia Wiśniewska",
    "Łukasz Żółkiewski",
    "Grzegorz Brzęczyszczykiewicz",
    "Małgorzata Dąbrowska",
    "Jędrzej Śliwiński",
    "Ewelina Kowalczyk",
]
MARKS = {
    0: [S.PRESENT, S.PRESENT, S.PRESENT],
    1: [S.LATE, S.UNEXCUSED, S.PRESENT],
    2: [S.EXCUSED, S.PRESENT, S.PRESENT],
    3: [S.UNEXCUSED, S.EXCUSED, S.PRESENT],
    4: [S.PRESENT, S.LEFT_EARLY, None],
    5: [None, S.PRESENT, S.LATE],
}
PERIOD = ("2026-10-01", "2026-11-15")
ISOLATES = dict.fromkeys(map(ord, "\u2066\u2067\u2068\u2069"))


def at(day: str, hour: int = 18) -> datetime.datetime:
    return datetime.datetime.combine(
        datetime.date.fromisoformat(day), datetime.time(hour), tzinfo=WARSAW
    )


class World:
    pass


@pytest.fixture(autouse=True)
def english():
    """Refusals and reasons are asserted in English, whatever the default language."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def world(group_a, anna, ewa, marek, olga, room_a):
    w = World()
    group_a.starts_on = datetime.date(2026, 9, 1)
    group_a.save()
    w.group = group_a
    plan = [
        ("2026-10-06", Session.Status.HELD),
        ("2026-10-13", Session.Status.HELD),
        ("2026-10-20", Session.Status.CANCELLED),
        ("2026-10-27", Session.Status.NOT_HELD),
        ("2026-11-03", Session.Status.HELD),
    ]
    w.sessions = [
        SessionFactory(
            group=group_a,
            sequence=i + 1,
            starts_at=at(day),
            ends_at=at(day) + datetime.timedelta(minutes=90),
            status=status,
            room=room_a,
            theme=f"Theme {i + 1}",
        )
        for i, (day, status) in enumerate(plan)
    ]
    held = [s for s in w.sessions if s.status == Session.Status.HELD]
    w.participants = []
    for i, name in enumerate(NAMES):
        p = ParticipantFactory(
            institution=group_a.institution, alias=f"Alias-{i + 1}", legal_name=name
        )
        joined = datetime.date(2026, 10, 10) if i == 5 else datetime.date(2026, 9, 1)
        enrollment = EnrollmentFactory(
            group=group_a, participant=p, joined_on=joined, status=Enrollment.Status.ACTIVE
        )
        for session, mark in zip(held, MARKS[i], strict=True):
            if mark is not None:
                AttendanceFactory(
                    session=session, participant=p, enrollment=enrollment, status=mark
                )
        w.participants.append(p)
    for p in w.participants[:2]:
        ConsentFactory(participant=p, purpose=Consent.Purpose.HEALTH_DATA)
    return w


def pdf_text(run) -> str:
    """The text of a rendered report, read back from the PDF (Arabic presentation forms folded
    to their letters, bidi isolates dropped)."""
    import io
    import unicodedata

    from pypdf import PdfReader

    run.file.open("rb")
    try:
        reader = PdfReader(io.BytesIO(run.file.read()))
    finally:
        run.file.close()
    text = "\n".join(page.extract_text() for page in reader.pages)
    return unicodedata.normalize("NFKC", text).translate(ISOLATES)


def squash(text: str) -> str:
    """Text without any white space: PDF text extraction spaces table cells unpredictably."""
    return "".join(text.split())


@pytest.fixture
def make_report(django_capture_on_commit_callbacks):
    """Request a report as `by` and let its rendering run (it is queued on commit)."""
    from reports.services import report_request

    def make(type, by, language="en", **parameters):  # noqa: A002
        with django_capture_on_commit_callbacks(execute=True):
            run = report_request(type=type, parameters=parameters, by=by, language=language)
        run.refresh_from_db()
        return run

    return make
