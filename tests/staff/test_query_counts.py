"""The cost of a page does not grow with what is on it (no N+1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

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
