"""The cost of a page does not grow with what is on it (no N+1)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from attendance.models import Consent
from tests.factories import (
    AttendanceFactory,
    ConsentFactory,
    EnrollmentFactory,
    ParticipantFactory,
    SessionFactory,
)

pytestmark = pytest.mark.django_db


def _add_members(group, n):
    for _ in range(n):
        participant = ParticipantFactory(institution=group.institution)
        EnrollmentFactory(group=group, participant=participant)
        ConsentFactory(participant=participant, purpose=Consent.Purpose.PARTICIPATION)


def _queries(client, url):
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context)


@pytest.mark.parametrize("page", ["staff:session", "staff:group"])
def test_a_page_costs_the_same_for_three_members_or_ten(client, anna, begun_session, page):
    client.force_login(anna)
    target = begun_session if page == "staff:session" else begun_session.group
    url = reverse(page, args=[target.pk])
    _queries(client, url)  # warm the per-request caches (roles, content types)
    few = _queries(client, url)
    _add_members(begun_session.group, 7)
    client.post(reverse("staff:session_mark_all", args=[begun_session.pk]))
    many = _queries(client, url)
    assert many == few


def test_a_participants_page_costs_the_same_for_a_short_or_long_history(
    client, anna, begun_session, members_a
):
    client.force_login(anna)
    enrollment = members_a[0]
    url = reverse("staff:participant", args=[enrollment.participant_id])
    AttendanceFactory(
        session=SessionFactory(group=enrollment.group),
        enrollment=enrollment,
        participant=enrollment.participant,
    )
    _queries(client, url)
    few = _queries(client, url)
    for _ in range(45):
        AttendanceFactory(
            session=SessionFactory(group=enrollment.group),
            enrollment=enrollment,
            participant=enrollment.participant,
        )
    assert _queries(client, url) == few


def _register(institution, n):
    """`n` more participants of the institution, in one insert (none of them in the group)."""
    from clinics.models import Participant

    start = institution.participants.count()
    Participant.objects.bulk_create(
        Participant(
            institution=institution,
            number=start + i + 1,
            code=Participant.code_for(start + i + 1),
            alias=f"Person {i}",
        )
        for i in range(n)
    )


@pytest.mark.parametrize(
    "page", ["staff:group", "staff:participants", "staff:session", "staff:calendar"]
)
def test_a_page_costs_the_same_for_ten_or_two_thousand_participants(
    client, anna, begun_session, institution_a, page
):
    """Choosing a person is a search: no page lists the institution, so none grows with it."""
    client.force_login(anna)
    url = {
        "staff:group": reverse("staff:group", args=[begun_session.group_id]),
        "staff:session": reverse("staff:session", args=[begun_session.pk]),
    }.get(page) or reverse(page)
    _register(institution_a, 10)
    _queries(client, url)
    few = _queries(client, url)
    _register(institution_a, 1990)
    response_size = len(client.get(url).content)
    assert _queries(client, url) == few
    assert response_size < 200_000


# Each page's queries (issue 16: at most 12), the same for a small institution and a large one:
# the four of every signed-in page (the session, the user, the roles, the institution) and the
# page's own. A change here is a change of cost: say why in the commit.
BUDGET = {
    "today": 10,
    "session": 9,
    "group": 11,
    "participant": 11,
    "calendar month": 7,
    "calendar month, everyone's": 7,
    "calendar day": 7,
    "audit log": 8,
}


def _grow(institution, group, anna, members):
    """Much more of everything the pages show: members with marks at twenty held sessions, a
    waiting list and referrals, sessions today and later this week, a busy day of other
    groups, the audit events of all that."""
    from attendance.models import Enrollment
    from audit.services import audit_record
    from tests.factories import GroupFactory

    now = timezone.now()
    extra = []
    for _ in range(12):
        participant = ParticipantFactory(institution=institution)
        extra.append(EnrollmentFactory(group=group, participant=participant))
        ConsentFactory(participant=participant, purpose=Consent.Purpose.PARTICIPATION)
    for status, n in ((Enrollment.Status.WAITLISTED, 4), (Enrollment.Status.REFERRED, 3)):
        for _ in range(n):
            EnrollmentFactory(
                group=group,
                participant=ParticipantFactory(institution=institution),
                status=status,
                waitlisted_at=now if status == Enrollment.Status.WAITLISTED else None,
            )
    for week in range(1, 21):
        starts = now - datetime.timedelta(days=7 * week)
        held = SessionFactory(
            group=group, starts_at=starts, ends_at=starts + datetime.timedelta(hours=1)
        )
        held.status = "held"
        held.save(update_fields=["status"])
        for enrollment in [*members, *extra]:
            AttendanceFactory(
                session=held, enrollment=enrollment, participant=enrollment.participant
            )
    for hours in (1, 2, 26, 50):
        starts = now + datetime.timedelta(hours=hours)
        SessionFactory(group=group, starts_at=starts, ends_at=starts + datetime.timedelta(hours=1))
    for i in range(8):  # other groups' sessions on the same day: more than a month's day shows
        starts = now + datetime.timedelta(minutes=5 * i)
        SessionFactory(
            group=GroupFactory(institution=institution, name=f"Other group {i}"),
            starts_at=starts,
            ends_at=starts + datetime.timedelta(hours=1),
        )
    for enrollment in extra:
        audit_record(actor=anna, action="participant.viewed", obj=enrollment.participant)


@pytest.mark.parametrize("page", BUDGET)
def test_each_staff_page_keeps_its_query_budget_however_large_the_institution(
    client, anna, ewa, begun_session, members_a, institution_a, page
):
    day = timezone.localtime(begun_session.starts_at, institution_a.tzinfo).date().isoformat()
    url = {
        "today": reverse("staff:today"),
        "session": reverse("staff:session", args=[begun_session.pk]),
        "group": reverse("staff:group", args=[begun_session.group_id]),
        "participant": reverse("staff:participant", args=[members_a[0].participant_id]),
        "calendar month": reverse("staff:calendar") + f"?view=month&date={day}",
        "calendar month, everyone's": reverse("staff:calendar")
        + f"?view=month&whose=all&date={day}",
        "calendar day": reverse("staff:calendar") + f"?view=day&whose=all&date={day}",
        "audit log": reverse("audit:log"),
    }[page]
    client.force_login(anna)
    client.post(reverse("staff:session_mark_all", args=[begun_session.pk]))  # a history of one
    client.force_login(ewa if page == "audit log" else anna)
    _queries(client, url)  # the first request of a signed-in session writes the session
    assert _queries(client, url) == BUDGET[page]
    _grow(institution_a, begun_session.group, anna, members_a)
    assert _queries(client, url) == BUDGET[page]
    assert BUDGET[page] <= 12
