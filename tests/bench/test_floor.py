"""The benchmark's floor does the API's work: the same answer, whole, and the same audit row."""

import datetime
import io
import json
import urllib.parse

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db.models import Count
from django.http import Http404
from django.test import RequestFactory
from knox.models import AuthToken
from rest_framework.test import APIClient

from api import paginator
from audit.models import AuditEvent
from bench import floor
from clinics.models import Institution, StaffMembership
from sessions.models import Session

pytestmark = pytest.mark.django_db
NOW = "2026-11-18T12:00:00+01:00"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def institution():
    call_command(
        "seed_scale", skip_checks=True, stdout=io.StringIO(), stderr=io.StringIO(),
        institutions=2, groups=8, participants=60, weeks=10, seed=5, now=NOW,
    )  # fmt: skip
    return Institution.objects.annotate(n=Count("groups")).order_by("-n", "pk").first()


def member(institution, role):
    return (
        StaffMembership.objects.filter(institution=institution, role=role)
        .order_by("user__username")
        .first()
        .user
    )


@pytest.fixture
def facilitator(institution):
    return member(institution, "facilitator")


@pytest.fixture
def token(facilitator):
    return AuthToken.objects.create(user=facilitator)[1]


def both(token, path, view, **kwargs):
    """The API's answer and the floor's to the same address (so their links compare too)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    api = client.get(path)
    assert api.status_code == 200, api.content
    request = RequestFactory().get(path, HTTP_AUTHORIZATION=f"Token {token}")
    bare = view(request, **kwargs)
    assert bare.status_code == 200
    return api, bare


def same(token, path, view, **kwargs):
    api, bare = both(token, path, view, **kwargs)
    assert api.json() == json.loads(bare.content)
    return api.json()


def month_query(**extra):
    start = datetime.datetime.fromisoformat(NOW) - datetime.timedelta(days=30)
    query = {"starts_after": start.isoformat(), "starts_before": NOW, "page_size": 7, **extra}
    return urllib.parse.urlencode(query)


def test_the_floor_answers_a_month_of_sessions_exactly_as_the_api(token):
    for page in (1, 2):
        body = same(token, f"/api/v1/sessions/?{month_query(page=page)}", floor.sessions)
        assert body["count"] > 7 and body["results"][0]["facilitators"]


def test_the_floor_answers_my_sessions_and_a_facilitators_as_the_api(token, facilitator):
    mine = same(token, f"/api/v1/sessions/?{month_query(mine='true')}", floor.sessions)
    by_id = same(
        token, f"/api/v1/sessions/?{month_query(facilitator=facilitator.pk)}", floor.sessions
    )
    assert mine["results"] and mine["results"] == by_id["results"]


def test_the_floor_counts_a_long_list_as_the_api_keeps_it(token, monkeypatch):
    monkeypatch.setattr(paginator, "EXACT_UP_TO", 3)
    for page in (1, 3):
        same(token, f"/api/v1/sessions/?{month_query(page=page)}", floor.sessions)


def test_the_floor_shows_the_same_roster_with_the_same_etag(token, facilitator):
    session = (
        Session.objects.filter(group__facilitator_roles__user=facilitator, status="held")
        .order_by("-starts_at")
        .first()
    )
    path = f"/api/v1/sessions/{session.pk}/attendance/"
    api, bare = both(token, path, floor.roster, pk=session.pk)
    assert api.json() == json.loads(bare.content)
    assert api["ETag"] == bare["ETag"]


def test_the_floor_pages_the_same_participants_legal_names_and_logs_the_same_read(token):
    for page in (1, 2):
        before = AuditEvent.objects.count()
        body = same(token, f"/api/v1/participants/?page_size=10&page={page}", floor.participants)
        assert any(p["legal_name"] for p in body["results"])
        api_event, floor_event = AuditEvent.objects.order_by("id")[before:]
        for field in ("actor_id", "institution_id", "action", "object_type", "details"):
            assert getattr(api_event, field) == getattr(floor_event, field)
        assert floor_event.action == "participant.listed"


def test_the_floor_pages_the_audit_log_by_the_same_cursor(institution):
    admin_token = AuthToken.objects.create(user=member(institution, "admin"))[1]
    path = "/api/v1/audit-events/?page_size=20"
    first = same(admin_token, path, floor.audit_events)
    assert len(first["results"]) == 20 and first["next"]
    second = same(admin_token, first["next"], floor.audit_events)
    assert second["previous"] and second["results"][0]["id"] != first["results"][0]["id"]


def test_the_floor_pages_the_same_attendance_records_changed_since(token):
    # Before anything the scale seed writes, whatever day the suite runs on.
    since = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC).isoformat()
    path = f"/api/v1/attendance/?updated_since={urllib.parse.quote(since)}&page_size=20"
    api, bare = both(token, path, floor.attendance)
    listed, rows = api.json(), json.loads(bare.content)
    assert listed["count"] == rows["count"] > 0
    assert [r["id"] for r in listed["results"]] == [r["id"] for r in rows["results"]]


def _signed(url):
    from django.core import signing

    from api import sync

    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    return signing.loads(query["cursor"][0], salt=sync.SALT)


def test_the_floor_walks_the_same_sync_pages_by_the_same_cursor(token):
    path = "/api/v1/attendance/?sync=start&page_size=20"
    api, bare = both(token, path, floor.attendance)
    listed, rows = api.json(), json.loads(bare.content)
    assert len(listed["results"]) == 20 and listed["results"] == rows["results"]
    # The cursors carry the same position (their signatures' timestamps differ by the clock).
    assert _signed(listed["next"]) == _signed(rows["next"])
    second_api, second_bare = both(token, listed["next"], floor.attendance)
    second = second_api.json()
    assert second["results"] == json.loads(second_bare.content)["results"]
    assert second["results"][0]["id"] not in {r["id"] for r in listed["results"]}


def test_the_floor_answers_404_without_a_valid_token(institution):
    request = RequestFactory().get("/bench-floor/", HTTP_AUTHORIZATION="Token not-a-token")
    with pytest.raises(Http404):
        floor.participants(request)
