"""Deep pages cost what the first page does: the audit log by cursor (UI and API), and the
browsing lists, which count a long list once rather than on every page."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from api import paginator
from audit.models import AuditEvent
from audit.services import audit_event, audit_record_many
from tests.api.errors import field_errors
from tests.factories import ParticipantFactory


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def log(ewa, anna, karim, institution_a, institution_b):
    """45 events in A, in bulk (so that many share one created_at, as a roster's do), and some
    in B that ewa never sees."""
    people = ParticipantFactory.create_batch(3, institution=institution_a)
    for round_ in range(15):
        audit_record_many(
            audit_event(actor=anna, action="participant.viewed", obj=p, details={"n": round_})
            for p in people
        )
    audit_record_many(
        audit_event(actor=karim, action="participant.viewed", obj=p)
        for p in ParticipantFactory.create_batch(4, institution=institution_b)
    )
    return AuditEvent.objects.filter(institution=institution_a).order_by("-created_at", "-id")


def api_as(user):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def sql_of(ctx) -> list[str]:
    return [q["sql"].upper() for q in ctx.captured_queries]


def walk_api(client, url):
    """Every page from `url` on, following `next`: (ids, queries of each page)."""
    ids, costs = [], []
    while url:
        with CaptureQueriesContext(connection) as ctx:
            body = client.get(url).json()
        ids += [e["id"] for e in body["results"]]
        costs.append(sql_of(ctx))
        url = body["next"]
    return ids, costs


def test_the_api_audit_log_pages_by_cursor_newest_first_every_event_once(ewa, log):
    ids, costs = walk_api(api_as(ewa), "/api/v1/audit-events/?page_size=7")
    assert ids == list(log.values_list("pk", flat=True))
    assert len(costs) == 7  # 45 events, 7 a page
    assert {len(c) for c in costs} == {len(costs[0])}  # page 1 and page 7 cost the same
    for queries in costs:
        assert not any("COUNT(" in q or "OFFSET" in q for q in queries)


def test_the_api_audit_log_goes_back_to_newer_pages_by_its_previous_link(ewa, log):
    client = api_as(ewa)
    first = client.get("/api/v1/audit-events/?page_size=10").json()
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    back = client.get(third["previous"]).json()
    assert [e["id"] for e in back["results"]] == [e["id"] for e in second["results"]]
    top = client.get(back["previous"]).json()
    assert [e["id"] for e in top["results"]] == [e["id"] for e in first["results"]]
    assert top["previous"] is None


def test_an_audit_cursor_that_was_not_given_is_a_400_naming_it(ewa, log):
    response = api_as(ewa).get("/api/v1/audit-events/", {"older": "not-a-cursor"})
    assert response.status_code == 400
    assert field_errors(response)["older"]


def test_the_audit_page_of_the_staff_ui_costs_the_same_on_its_fifth_page(client, ewa, log):
    client.force_login(ewa)
    url, costs, seen = reverse("audit:log"), [], []
    # 45 events are under one page of 50: more, so that there are pages to walk.
    audit_record_many(
        audit_event(actor=ewa, action="report.downloaded", institution=ewa.memberships.get().institution)
        for _ in range(210)
    )  # fmt: skip
    client.get(url)  # the first request of a signed-in session writes the session
    query = ""
    for _page in range(5):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url + query)
        page = response.context["page"]
        seen += [e.pk for e in page.object_list]
        costs.append(sql_of(ctx))
        query = f"?older={page.older}"
    assert len(seen) == len(set(seen)) == 250
    assert len(costs[0]) == len(costs[4])
    assert not any("COUNT(" in q or "OFFSET" in q for q in costs[4] if "AUDIT_AUDITEVENT" in q)


def test_a_long_browsing_list_is_counted_once_not_on_every_page(anna, institution_a, monkeypatch):
    monkeypatch.setattr(paginator, "EXACT_UP_TO", 5)
    ParticipantFactory.create_batch(12, institution=institution_a)
    client = api_as(anna)
    costs = []
    for page in (1, 4):
        with CaptureQueriesContext(connection) as ctx:
            body = client.get("/api/v1/participants/", {"page_size": 3, "page": page}).json()
        assert body["count"] == 12
        costs.append(sql_of(ctx))
    counts = [[q for q in queries if "COUNT(" in q] for queries in costs]
    assert len(counts[0]) == 2  # bounded first, then the whole list, once
    assert counts[1] == []  # page 4: the count kept from page 1
    assert len(costs[1]) == len(costs[0]) - 2
    assert body["next"] is None and body["previous"]


def test_a_short_browsing_list_is_counted_exactly_on_every_page(anna, institution_a):
    ParticipantFactory.create_batch(4, institution=institution_a)
    client = api_as(anna)
    assert client.get("/api/v1/participants/", {"page_size": 3}).json()["count"] == 4
    ParticipantFactory(institution=institution_a)
    with CaptureQueriesContext(connection) as ctx:
        body = client.get("/api/v1/participants/", {"page_size": 3, "page": 2}).json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert any("LIMIT 1001" in q for q in sql_of(ctx) if "COUNT(" in q)  # never the whole list


def test_the_count_kept_for_one_user_is_not_anothers(
    anna, karim, institution_a, institution_b, monkeypatch
):
    monkeypatch.setattr(paginator, "EXACT_UP_TO", 2)
    ParticipantFactory.create_batch(6, institution=institution_a)
    ParticipantFactory.create_batch(3, institution=institution_b)
    assert api_as(anna).get("/api/v1/participants/").json()["count"] == 6
    assert api_as(karim).get("/api/v1/participants/").json()["count"] == 3
