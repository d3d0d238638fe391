"""Lists: filters, `updated_since`, bounded pages and query counts that do not grow."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attendance.models import AttendanceRecord
from sessions.models import Session
from tests.api.errors import field_errors
from tests.factories import EnrollmentFactory, GroupFacilitatorFactory, SessionFactory


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response


def _sessions(group, n, start):
    for i in range(n):
        SessionFactory(group=group, sequence=100 + i, starts_at=start + datetime.timedelta(days=i))


@pytest.mark.parametrize(
    "path",
    ["sessions", "groups", "participants", "enrollments", "consents", "attendance", "rooms"],
)
def test_a_list_of_100_costs_the_same_queries_as_a_list_of_10(api, anna, world_a, path):
    client = api(anna)
    url = f"/api/v1/{path}/?page_size=200"
    start = timezone.now() + datetime.timedelta(days=30)
    _grow(path, world_a, 10, start)
    small, response = _count_queries(client, url)
    assert response.json()["count"] >= 10
    _grow(path, world_a, 90, start + datetime.timedelta(days=20))
    large, response = _count_queries(client, url)
    assert response.json()["count"] >= 100
    assert large == small


def _grow(path, world, n, start):
    from tests.factories import ConsentFactory, RoomFactory

    for i in range(n):
        if path == "sessions":
            SessionFactory(
                group=world.group, sequence=100 + i, starts_at=start + datetime.timedelta(days=i)
            )
        elif path == "groups":
            from tests.factories import GroupFactory

            group = GroupFactory(institution=world.institution)
            GroupFacilitatorFactory(group=group, user=world.group.facilitators.get())
        elif path in ("participants", "enrollments"):
            EnrollmentFactory(group=world.group, created_by=world.group.facilitators.get())
        elif path == "consents":
            ConsentFactory(participant=world.first, recorded_by=world.group.facilitators.get())
        elif path == "attendance":
            enrollment = EnrollmentFactory(
                group=world.group, created_by=world.group.facilitators.get()
            )
            AttendanceRecord.objects.create(
                institution=world.institution,
                session=world.session,
                participant=enrollment.participant,
                enrollment=enrollment,
                status="present",
                recorded_by=world.group.facilitators.get(),
            )
        elif path == "rooms":
            RoomFactory(site=world.site)


def test_the_session_list_query_count_is_pinned(api, anna, world_a, django_assert_max_num_queries):
    _sessions(world_a.group, 30, timezone.now() + datetime.timedelta(days=1))
    with django_assert_max_num_queries(6):
        response = api(anna).get("/api/v1/sessions/?page_size=100")
    assert response.json()["count"] == 32


def test_updated_since_returns_exactly_the_rows_changed_since(api, anna, world_a):
    client = api(anna)
    cutoff = timezone.now()
    Session.objects.exclude(pk=world_a.later.pk).update(
        updated_at=cutoff - datetime.timedelta(seconds=5)
    )
    Session.objects.filter(pk=world_a.later.pk).update(updated_at=cutoff)
    response = client.get("/api/v1/sessions/", {"updated_since": cutoff.isoformat()})
    assert [row["id"] for row in response.json()["results"]] == [world_a.later.pk]
    after = (cutoff + datetime.timedelta(microseconds=1)).isoformat()
    assert client.get("/api/v1/sessions/", {"updated_since": after}).json()["count"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "institutions",
        "sites",
        "rooms",
        "participants",
        "groups",
        "sessions",
        "notes",
        "enrollments",
        "consents",
        "attendance",
    ],
)
def test_every_list_filters_by_updated_since_and_refuses_a_bad_one(api, anna, world_a, path):
    client = api(anna)
    future = (timezone.now() + datetime.timedelta(days=1)).isoformat()
    past = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    assert client.get(f"/api/v1/{path}/", {"updated_since": future}).json()["count"] == 0
    assert client.get(f"/api/v1/{path}/", {"updated_since": past}).json()["count"] >= 1
    bad = client.get(f"/api/v1/{path}/", {"updated_since": "yesterday-ish"})
    assert bad.status_code == 400
    assert "updated_since" in field_errors(bad)


def test_my_sessions_today_and_this_week(api, anna, ewa, world_a):
    tz = world_a.institution.tzinfo
    today = timezone.localtime(timezone.now(), tz).date()
    noon = datetime.datetime.combine(today, datetime.time(12), tzinfo=tz)
    todays = SessionFactory(group=world_a.group, sequence=50, starts_at=noon)
    tomorrows = SessionFactory(
        group=world_a.group, sequence=51, starts_at=noon + datetime.timedelta(days=1)
    )
    client = api(anna)
    mine_today = client.get("/api/v1/sessions/", {"mine": "true", "date": "today"}).json()
    ids = [row["id"] for row in mine_today["results"]]
    assert todays.pk in ids and tomorrows.pk not in ids
    week = client.get("/api/v1/sessions/", {"mine": "true", "week": "today"}).json()
    week_ids = [row["id"] for row in week["results"]]
    assert todays.pk in week_ids and world_a.later.pk not in week_ids
    on_date = client.get(
        "/api/v1/sessions/", {"date": (today + datetime.timedelta(days=1)).isoformat()}
    )
    assert [row["id"] for row in on_date.json()["results"]] == [tomorrows.pk]
    assert api(ewa).get("/api/v1/sessions/", {"mine": "true"}).json()["count"] == 0
    bad = client.get("/api/v1/sessions/", {"date": "someday"})
    assert bad.status_code == 400
    assert "date" in field_errors(bad)


def test_sessions_filter_by_start_group_facilitator_and_status(api, anna, ewa, world_a):
    client = api(anna)
    now = timezone.now()
    after = client.get("/api/v1/sessions/", {"starts_after": now.isoformat()}).json()
    assert [r["id"] for r in after["results"]] == [world_a.later.pk]
    before = client.get("/api/v1/sessions/", {"starts_before": now.isoformat()}).json()
    assert [r["id"] for r in before["results"]] == [world_a.session.pk]
    assert client.get("/api/v1/sessions/", {"facilitator": anna.pk}).json()["count"] == 2
    assert client.get("/api/v1/sessions/", {"facilitator": ewa.pk}).json()["count"] == 0
    assert client.get("/api/v1/sessions/", {"group": world_a.group.pk}).json()["count"] == 2
    assert client.get("/api/v1/sessions/", {"status": "cancelled"}).json()["count"] == 0
    assert client.get("/api/v1/groups/", {"facilitator": anna.pk}).json()["count"] == 1


def test_ordering_is_applied(api, anna, world_a):
    rows = api(anna).get("/api/v1/sessions/", {"ordering": "-starts_at"}).json()["results"]
    assert [r["id"] for r in rows] == [world_a.later.pk, world_a.session.pk]


@pytest.mark.parametrize("size", ["1000000", "0", "-3", "many", "201"])
def test_a_page_size_out_of_bounds_is_refused(api, anna, world_a, size):
    response = api(anna).get("/api/v1/sessions/", {"page_size": size})
    assert response.status_code == 400
    assert "200" in field_errors(response)["page_size"][0]


def test_pages_carry_a_next_link(api, anna, world_a):
    body = api(anna).get("/api/v1/sessions/", {"page_size": 1}).json()
    assert body["count"] == 2 and body["next"] and len(body["results"]) == 1


def test_a_roster_of_50_costs_the_same_queries_as_a_roster_of_5(api, anna, world_a):
    client = api(anna)
    url = f"/api/v1/sessions/{world_a.session.pk}/attendance/"
    for _ in range(3):
        EnrollmentFactory(group=world_a.group, created_by=anna)
    client.get(url)  # the first request also loads the user's roles (cached on the user)
    small, response = _count_queries(client, url)
    assert len(response.json()["marks"]) == 5
    for _ in range(45):
        enrollment = EnrollmentFactory(group=world_a.group, created_by=anna)
        AttendanceRecord.objects.create(
            institution=world_a.institution,
            session=world_a.session,
            participant=enrollment.participant,
            enrollment=enrollment,
            status="present",
            recorded_by=anna,
        )
    large, response = _count_queries(client, url)
    assert len(response.json()["marks"]) == 50
    assert large == small
