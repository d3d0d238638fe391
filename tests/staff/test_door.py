"""The door: marks open the institution's `attendance_opens_minutes_before` ahead of the start;
"late" takes the arrival time and "left early" the leaving time (now, unless one is typed)."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from attendance.models import AttendanceRecord
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

Status = AttendanceRecord.Status
# 17:40 in Warsaw on a Tuesday; the session starts at 18:00.
NOW = datetime.datetime(2026, 12, 8, 16, 40, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def door_clock():
    """The clock stands at NOW before any fixture builds the group and its members, so they
    joined before the session whatever day the suite runs on (KRAG_TEST_NOW)."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def evening_session(group_a, members_a, room_a):
    starts = NOW + datetime.timedelta(minutes=20)
    return SessionFactory(
        group=group_a,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=90),
        room=room_a,
        online_link="",
    )


def _tap(client, session, participant, status, **extra):
    return client.post(
        reverse("staff:session_mark", args=[session.pk]),
        {"participant": participant.pk, "status": status, **extra},
        HTTP_X_REQUESTED_WITH="fetch",
    )


def test_twenty_minutes_before_the_start_the_door_is_open(client, anna, evening_session, members_a):
    client.force_login(anna)
    page = client.get(reverse("staff:session", args=[evening_session.pk])).content.decode()
    assert "Attendance can be taken from" not in page
    assert 'value="present" title="Present" aria-pressed="false">' in page
    response = _tap(client, evening_session, members_a[0].participant, Status.PRESENT)
    assert response.status_code == 200, response.content
    assert AttendanceRecord.objects.get().status == Status.PRESENT


def test_before_the_institutions_opening_the_door_is_shut_and_says_when_it_opens(
    client, anna, evening_session, members_a, institution_a
):
    institution_a.attendance_opens_minutes_before = 10
    institution_a.save(update_fields=["attendance_opens_minutes_before"])
    client.force_login(anna)
    page = client.get(reverse("staff:session", args=[evening_session.pk])).content.decode()
    opens = timezone.localtime(evening_session.starts_at, institution_a.tzinfo)
    opens -= datetime.timedelta(minutes=10)
    assert f"Attendance can be taken from {opens:%H:%M}" in page
    response = _tap(client, evening_session, members_a[0].participant, Status.PRESENT)
    assert response.status_code == 400
    assert f"{opens:%H:%M}" in response.json()["error"]
    assert not AttendanceRecord.objects.exists()


@time_machine.travel(NOW + datetime.timedelta(minutes=32), tick=False)
def test_late_takes_the_arrival_time_now_by_default_and_keeps_it_when_tapped_again(
    client, anna, evening_session, members_a, institution_a
):
    client.force_login(anna)
    person = members_a[0].participant
    response = _tap(client, evening_session, person, Status.LATE)
    now = timezone.localtime(timezone.now(), institution_a.tzinfo)
    assert response.json()["time"] == f"arrived {now:%H:%M}"
    record = AttendanceRecord.objects.get()
    assert record.arrived_at == now.time().replace(second=0, microsecond=0)
    with time_machine.travel(NOW + datetime.timedelta(minutes=50), tick=False):
        _tap(client, evening_session, person, Status.LATE)
    record.refresh_from_db()
    assert record.arrived_at == now.time().replace(second=0, microsecond=0)


@time_machine.travel(NOW + datetime.timedelta(minutes=40), tick=False)
def test_a_typed_arrival_or_leaving_time_is_recorded(client, anna, evening_session, members_a):
    client.force_login(anna)
    late, leaver = members_a[0].participant, members_a[1].participant
    _tap(client, evening_session, late, Status.LATE, time="18:12")
    _tap(client, evening_session, leaver, Status.LEFT_EARLY, time="19:05")
    records = {r.participant_id: r for r in AttendanceRecord.objects.all()}
    assert records[late.pk].arrived_at == datetime.time(18, 12)
    assert records[leaver.pk].left_at == datetime.time(19, 5)
    page = client.get(reverse("staff:session", args=[evening_session.pk])).content.decode()
    assert "arrived 18:12" in page and "left 19:05" in page


@time_machine.travel(NOW + datetime.timedelta(minutes=40), tick=False)
def test_a_bad_time_is_refused_and_nothing_recorded(client, anna, evening_session, members_a):
    client.force_login(anna)
    response = _tap(client, evening_session, members_a[0].participant, Status.LATE, time="25:99")
    assert response.status_code == 400
    assert response.json()["error"] == "Give the time as HH:MM."
    assert not AttendanceRecord.objects.exists()
