"""Sync tokens and cursor pages (SPEC.md "Sync: the app's offline copy", docs/sync.md)."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.db.models import DateTimeField, ExpressionWrapper, Value
from django.db.models.functions import Now
from django.test.utils import CaptureQueriesContext

from attendance.models import AttendanceRecord
from clinics.models import Site
from sessions.models import GroupFacilitator
from sessions.services import group_facilitator_remove
from tests.factories import AttendanceFactory, EnrollmentFactory, SessionFactory


def sync_all(client, url, **params):
    """Follow a sync from its first page to its token: (rows by id, removed ids, token, pages)."""
    rows, removed, pages = {}, set(), 0
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        pages += 1
        for item in body["results"]:
            if item.get("removed"):
                removed.add(item["id"])
                rows.pop(item["id"], None)
            else:
                rows[item["id"]] = item
                removed.discard(item["id"])
        if body["next"] is None:
            return rows, removed, body["sync_token"], pages
        assert "sync_token" not in body
        response = client.get(body["next"])


def apply(copy: dict, client, url, token, **params):
    """Bring `copy` up to date from `token`; answers the next token."""
    rows, removed, token, _ = sync_all(client, url, sync_token=token, **params)
    for pk in removed:
        copy.pop(pk, None)
    copy.update(rows)
    return token


def test_a_full_copy_pages_by_cursor_and_ends_with_a_token(api, anna, world_a):
    for _ in range(4):
        enrollment = EnrollmentFactory(group=world_a.group, created_by=anna)
        AttendanceFactory(
            session=world_a.session,
            enrollment=enrollment,
            participant=enrollment.participant,
            recorded_by=anna,
        )
    rows, removed, token, pages = sync_all(
        api(anna), "/api/v1/attendance/", sync="start", page_size=2
    )
    expected = set(
        AttendanceRecord.objects.filter(institution=world_a.institution).values_list(
            "pk", flat=True
        )
    )
    assert set(rows) == expected and not removed
    assert pages == 3  # 5 rows, 2 a page: the third page is short and carries the token
    assert token


def test_no_sync_page_counts_or_skips_rows_by_offset(api, anna, world_a):
    client = api(anna)
    first = client.get("/api/v1/attendance/", {"sync": "start", "page_size": 1}).json()
    with CaptureQueriesContext(connection) as queries:
        client.get(first["next"])
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "COUNT(" not in sql and "OFFSET" not in sql


def test_a_token_sync_returns_what_changed_since_and_nothing_else(api, anna, world_a):
    client = api(anna)
    copy, _, token, _ = sync_all(client, "/api/v1/attendance/", sync="start")
    rows, removed, token2, _ = sync_all(client, "/api/v1/attendance/", sync_token=token)
    # Nothing changed: at most the rows of the last instant come again, none is new.
    assert set(rows) <= set(copy) and not removed
    AttendanceRecord.objects.filter(pk=world_a.record.pk).update(status="excused")
    rows, removed, _, _ = sync_all(client, "/api/v1/attendance/", sync_token=token2)
    assert rows[world_a.record.pk]["status"] == "excused"


def test_the_token_remembers_the_filters_it_was_made_with(api, anna, world_a):
    other = SessionFactory(group=world_a.group, sequence=3)
    client = api(anna)
    copy, _, token, _ = sync_all(client, "/api/v1/sessions/", sync="start", group=world_a.group.pk)
    assert set(copy) == {world_a.session.pk, world_a.later.pk, other.pk}
    SessionFactory(group=world_a.group, sequence=4)
    rows, _, _, _ = sync_all(client, "/api/v1/sessions/", sync_token=token)
    assert all(row["group"]["id"] == world_a.group.pk for row in rows.values())


def test_a_deleted_row_comes_back_as_removed(api, ewa, world_a):
    spare = Site.objects.create(institution=world_a.institution, name="Annex")
    client = api(ewa)
    copy, _, token, _ = sync_all(client, "/api/v1/sites/", sync="start")
    assert spare.pk in copy
    Site.objects.filter(pk=spare.pk).delete()
    rows, removed, _, _ = sync_all(client, "/api/v1/sites/", sync_token=token)
    assert spare.pk in removed and spare.pk not in rows


def test_a_facilitator_taken_off_a_group_gets_its_notes_as_removed(api, anna, ewa, world_a):
    piotr_like = world_a.group.facilitator_roles.exclude(user=anna).first()
    if piotr_like is None:
        from clinics.models import StaffMembership
        from tests.conftest import _persona

        other = _persona("lead2", world_a.institution, StaffMembership.Role.FACILITATOR)
        GroupFacilitator.objects.create(group=world_a.group, user=other)
    client = api(anna)
    copy, _, token, _ = sync_all(client, "/api/v1/notes/", sync="start")
    assert world_a.note.pk in copy
    group_facilitator_remove(group=world_a.group, user=anna, by=ewa)
    rows, removed, _, _ = sync_all(client, "/api/v1/notes/", sync_token=token)
    assert world_a.note.pk in removed and world_a.note.pk not in rows
    assert client.get(f"/api/v1/notes/{world_a.note.pk}/").status_code == 404


def test_a_user_who_loses_an_institution_gets_all_of_it_as_removed(api, anna, world_a):
    client = api(anna)
    copy, _, token, _ = sync_all(client, "/api/v1/participants/", sync="start")
    assert world_a.first.pk in copy
    anna.memberships.all().delete()
    rows, removed, _, _ = sync_all(client, "/api/v1/participants/", sync_token=token)
    assert not rows and set(copy) <= removed


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), lambda t: "made-up"]
)
def test_a_tampered_or_unknown_token_is_gone_with_its_code(api, anna, world_a, mangle):
    _, _, token, _ = sync_all(api(anna), "/api/v1/attendance/", sync="start")
    response = api(anna).get("/api/v1/attendance/", {"sync_token": mangle(token)})
    assert response.status_code == 410
    assert response.json()["code"] == "sync_token_invalid"


def test_a_token_of_another_list_or_user_is_gone(api, anna, marek, world_a):
    _, _, token, _ = sync_all(api(anna), "/api/v1/attendance/", sync="start")
    assert api(anna).get("/api/v1/notes/", {"sync_token": token}).status_code == 410
    assert api(marek).get("/api/v1/attendance/", {"sync_token": token}).status_code == 410


def test_a_token_is_kept_thirty_days_and_then_expires(api, anna, world_a):
    _, _, token, _ = sync_all(api(anna), "/api/v1/attendance/", sync="start")
    now = datetime.datetime.now(tz=datetime.UTC)
    with time_machine.travel(now + datetime.timedelta(days=31)):
        assert api(anna).get("/api/v1/attendance/", {"sync_token": token}).status_code == 200
    with time_machine.travel(now + datetime.timedelta(days=400)):
        response = api(anna).get("/api/v1/attendance/", {"sync_token": token})
    assert response.status_code == 410
    assert response.json()["code"] == "sync_token_expired"


def test_a_later_sync_page_costs_the_queries_of_the_first(api, anna, world_a):
    for _ in range(6):
        enrollment = EnrollmentFactory(group=world_a.group, created_by=anna)
        AttendanceFactory(
            session=world_a.session,
            enrollment=enrollment,
            participant=enrollment.participant,
            recorded_by=anna,
        )
    client = api(anna)
    counts, url, params = [], "/api/v1/attendance/", {"sync": "start", "page_size": 2}
    while url:
        with CaptureQueriesContext(connection) as queries:
            body = client.get(url, params).json()
        counts.append(len(queries))
        url, params = body["next"], {}
    # The first page also takes the watermark; the rest are alike, however deep.
    assert len(counts) == 4 and counts[1] == counts[2] <= counts[0]


def test_removals_outlive_every_token_still_accepted_and_are_then_forgotten(api, ewa, world_a):
    from sync.models import Tombstone
    from sync.services import KEPT_FOR, TOKEN_MAX_AGE, sync_records_purge

    spare = Site.objects.create(institution=world_a.institution, name="Annex")
    client = api(ewa)
    _, _, token, _ = sync_all(client, "/api/v1/sites/", sync="start")
    Site.objects.filter(pk=spare.pk).delete()
    tombstone = Tombstone.objects.filter(object_id=spare.pk)
    now = datetime.datetime.now(tz=datetime.UTC)

    def removal_aged(age):
        # The tombstone's time is the database's clock (a trigger's now()): aged on that clock.
        tombstone.update(
            created_at=ExpressionWrapper(Now() - Value(age), output_field=DateTimeField())
        )

    # As old as the oldest token still accepted: the nightly purge keeps it, the token gets it.
    removal_aged(TOKEN_MAX_AGE - datetime.timedelta(days=1))
    assert sync_records_purge()["tombstones"] == 0
    with time_machine.travel(now + TOKEN_MAX_AGE - datetime.timedelta(days=1)):
        _, removed, _, _ = sync_all(client, "/api/v1/sites/", sync_token=token)
    assert spare.pk in removed
    # Past every token that could ask for it (and a week's margin): forgotten.
    removal_aged(KEPT_FOR + datetime.timedelta(hours=1))
    assert sync_records_purge()["tombstones"] == 1
    assert not tombstone.exists()
