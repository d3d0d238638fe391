"""The benchmark's floor answers with the same rows as the API it is compared with."""

import datetime
import io
import json

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.http import Http404
from django.test import RequestFactory
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from bench import floor
from clinics.models import Institution, StaffMembership
from sessions.models import Session

pytestmark = pytest.mark.django_db


@pytest.fixture
def facilitator():
    call_command(
        "seed_scale", skip_checks=True, stdout=io.StringIO(), stderr=io.StringIO(),
        institutions=2, groups=8, participants=60, weeks=6, seed=5,
    )  # fmt: skip
    institution = Institution.objects.annotate(n=Count("groups")).order_by("-n", "pk").first()
    return (
        StaffMembership.objects.filter(institution=institution, role="facilitator")
        .order_by("user__username")
        .first()
        .user
    )


@pytest.fixture
def token(facilitator):
    return AuthToken.objects.create(user=facilitator)[1]


def call_floor(view, token, query="", **kwargs):
    request = RequestFactory().get(f"/bench-floor/?{query}", HTTP_AUTHORIZATION=f"Token {token}")
    return json.loads(view(request, **kwargs).content)


def api(token, path):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_floor_lists_the_same_sessions_of_this_week(token, facilitator):
    mine = api(token, "/api/v1/sessions/?mine=true&week=today&page_size=100")
    bare = call_floor(floor.my_sessions_this_week, token, "page_size=100")
    assert mine["count"] == bare["count"] > 0
    assert [s["id"] for s in mine["results"]] == [s["id"] for s in bare["results"]]


def test_the_floor_shows_the_same_roster(token, facilitator):
    session = (
        Session.objects.filter(group__facilitator_roles__user=facilitator, status="held")
        .order_by("-starts_at")
        .first()
    )
    roster = api(token, f"/api/v1/sessions/{session.pk}/attendance/")["marks"]
    bare = call_floor(floor.roster, token, pk=session.pk)["marks"]
    assert [(m["participant"]["id"], m["status"]) for m in roster] == [
        (m["participant_id"], m["status"]) for m in bare
    ]


def test_the_floor_pages_the_same_participants(token):
    for page in (1, 2):
        query = f"page_size=10&page={page}"
        listed = api(token, f"/api/v1/participants/?{query}")
        bare = call_floor(floor.participants, token, query)
        assert listed["count"] == bare["count"]
        assert [p["id"] for p in listed["results"]] == [p["id"] for p in bare["results"]]


def test_the_floor_pages_the_same_attendance_records_changed_since(token):
    since = (timezone.now() - datetime.timedelta(days=14)).isoformat()
    query = f"updated_since={since.replace('+', '%2B')}&page_size=20"
    listed = api(token, f"/api/v1/attendance/?{query}")
    bare = call_floor(floor.attendance, token, query)
    assert listed["count"] == bare["count"] > 0
    assert [r["id"] for r in listed["results"]] == [r["id"] for r in bare["results"]]


def test_the_floor_answers_404_without_a_valid_token(facilitator):
    request = RequestFactory().get("/bench-floor/", HTTP_AUTHORIZATION="Token not-a-token")
    with pytest.raises(Http404):
        floor.participants(request)
