"""The roster of a session, and writes that survive a bad connection: ETag / If-Match and
Idempotency-Key replay."""

import datetime

from django.utils import timezone

from api.models import IdempotencyKey
from attendance.models import AttendanceRecord, AttendanceRevision
from audit.models import AuditEvent
from tests.api.errors import field_errors, under
from tests.factories import SessionFactory


def _roster_url(world):
    return f"/api/v1/sessions/{world.session.pk}/attendance/"


def test_the_roster_lists_members_on_that_day_with_their_marks_by_alias(api, anna, world_a):
    response = api(anna).get(_roster_url(world_a))
    assert response.status_code == 200
    marks = {m["participant"]["id"]: m for m in response.json()["marks"]}
    assert set(marks) == {world_a.first.pk, world_a.second.pk}
    assert marks[world_a.first.pk]["status"] == "present"
    assert marks[world_a.second.pk]["status"] is None
    assert marks[world_a.first.pk]["participant"]["display"] == world_a.first.alias
    assert response["ETag"]


def test_a_put_records_every_mark_at_once(api, anna, world_a):
    response = api(anna).put(
        _roster_url(world_a),
        {
            "marks": [
                {"participant": world_a.first.pk, "status": "late", "arrived_at": "18:05"},
                {"participant": world_a.second.pk, "status": "excused", "left_at": None},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    marks = {m["participant"]["id"]: m for m in response.json()["marks"]}
    assert marks[world_a.first.pk]["status"] == "late"
    assert marks[world_a.first.pk]["arrived_at"] == "18:05:00"
    assert marks[world_a.second.pk]["status"] == "excused"
    assert response.json()["session_status"] == "held"
    # The correction keeps the earlier version.
    assert AttendanceRevision.objects.filter(record=world_a.record, status="present").exists()


def test_a_put_with_one_refused_mark_writes_nothing_and_names_the_person(api, anna, world_a):
    before = AttendanceRecord.objects.count()
    response = api(anna).put(
        _roster_url(world_a),
        {
            "marks": [
                {"participant": world_a.second.pk, "status": "present"},
                {"participant": world_a.outsider.pk, "status": "present"},
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    errors = under(response, "marks")
    assert list(errors) == [str(world_a.outsider.pk)]
    assert "not on the roster" in errors[str(world_a.outsider.pk)][0]
    assert AttendanceRecord.objects.count() == before


def test_bad_marks_are_refused_per_person(api, anna, world_a):
    response = api(anna).put(
        _roster_url(world_a),
        {
            "marks": [
                {"participant": world_a.first.pk, "status": "asleep"},
                {"participant": world_a.second.pk, "status": "present", "arrived_at": "25:99"},
                {"status": "present"},
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    errors = under(response, "marks")
    assert f"{world_a.first.pk}.status" in errors
    assert f"{world_a.second.pk}.arrived_at" in errors
    assert "#2.participant" in errors


def test_an_absence_with_an_arrival_time_is_refused_by_the_service(api, anna, world_a):
    response = api(anna).put(
        _roster_url(world_a),
        {
            "marks": [
                {"participant": world_a.second.pk, "status": "unexcused", "arrived_at": "18:00"}
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    assert "absence" in under(response, "marks")[str(world_a.second.pk)][0]


def test_attendance_of_a_session_that_has_not_begun_is_refused(api, anna, world_a):
    response = api(anna).put(
        f"/api/v1/sessions/{world_a.later.pk}/attendance/",
        {"marks": [{"participant": world_a.first.pk, "status": "present"}]},
        format="json",
    )
    assert response.status_code == 400
    assert "begins" in field_errors(response)["non_field_errors"][0]


def test_a_stale_if_match_gets_412_and_writes_nothing(api, anna, marek, world_a):
    etag = api(anna).get(_roster_url(world_a))["ETag"]
    # Someone else marks in the meantime.
    api(marek).put(
        _roster_url(world_a),
        {"marks": [{"participant": world_a.second.pk, "status": "present"}]},
        format="json",
    )
    response = api(anna).put(
        _roster_url(world_a),
        {"marks": [{"participant": world_a.second.pk, "status": "unexcused"}]},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert response.status_code == 412
    assert response.json()["detail"]
    assert AttendanceRecord.objects.get(participant=world_a.second).status == "present"


def test_a_current_if_match_is_accepted(api, anna, world_a):
    etag = api(anna).get(_roster_url(world_a))["ETag"]
    response = api(anna).put(
        _roster_url(world_a),
        {"marks": [{"participant": world_a.second.pk, "status": "present"}]},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert response.status_code == 200
    assert response["ETag"] != etag


def test_a_stale_if_match_on_an_object_gets_412(api, anna, world_a):
    client = api(anna)
    url = f"/api/v1/sessions/{world_a.later.pk}/"
    etag = client.get(url)["ETag"]
    assert (
        client.patch(url, {"theme": "Grief"}, format="json", HTTP_IF_MATCH=etag).status_code == 200
    )
    stale = client.patch(url, {"theme": "Hope"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    stale_verb = client.post(url + "cancel/", {"reason": "Ill"}, format="json", HTTP_IF_MATCH=etag)
    assert stale_verb.status_code == 412
    world_a.later.refresh_from_db()
    assert world_a.later.theme == "Grief" and world_a.later.status == "scheduled"


def test_if_none_match_answers_304_when_nothing_changed(api, anna, world_a):
    client = api(anna)
    url = f"/api/v1/sessions/{world_a.session.pk}/"
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_the_same_idempotency_key_and_body_replays_the_first_answer(api, anna, world_a):
    client = api(anna)
    body = {"marks": [{"participant": world_a.second.pk, "status": "present"}]}
    first = client.put(_roster_url(world_a), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    events = AuditEvent.objects.count()
    again = client.put(_roster_url(world_a), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["ETag"] == first["ETag"]
    assert AuditEvent.objects.count() == events  # nothing written the second time
    assert AttendanceRecord.objects.get(participant=world_a.second).version == 1


def test_a_replayed_create_does_not_create_twice(api, marek, world_a):
    client = api(marek)
    body = {"institution": world_a.institution.pk, "alias": "Walk-in"}
    first = client.post("/api/v1/participants/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    again = client.post("/api/v1/participants/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert world_a.institution.participants.filter(alias="Walk-in").count() == 1


def test_the_same_key_with_another_body_is_422(api, anna, world_a):
    client = api(anna)
    url = _roster_url(world_a)
    client.put(
        url,
        {"marks": [{"participant": world_a.second.pk, "status": "present"}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    response = client.put(
        url,
        {"marks": [{"participant": world_a.second.pk, "status": "late"}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]
    assert AttendanceRecord.objects.get(participant=world_a.second).status == "present"


def test_idempotency_keys_are_per_user(api, anna, marek, world_a):
    body = {"institution": world_a.institution.pk, "alias": "Same key"}
    api(anna).post("/api/v1/participants/", body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    api(marek).post("/api/v1/participants/", body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert world_a.institution.participants.filter(alias="Same key").count() == 2


def test_a_refused_request_is_not_stored_so_a_fixed_retry_runs(api, anna, world_a):
    client = api(anna)
    url = f"/api/v1/sessions/{world_a.later.pk}/cancel/"
    refused = client.post(url, {"reason": ""}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    assert refused.status_code == 400
    assert not IdempotencyKey.objects.filter(key="c-1").exists()
    done = client.post(url, {"reason": "Ill"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    assert done.status_code == 200 and done.json()["status"] == "cancelled"


def test_idempotency_keys_are_kept_a_day_and_then_purged(anna, world_a):
    from api.services import idempotency_keys_purge

    fresh = IdempotencyKey.objects.create(user=anna, key="fresh", fingerprint="x", status_code=200)
    old = IdempotencyKey.objects.create(user=anna, key="old", fingerprint="x", status_code=200)
    IdempotencyKey.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=3)
    )
    IdempotencyKey.objects.filter(pk=fresh.pk).update(
        created_at=timezone.now() - datetime.timedelta(hours=25)
    )
    assert idempotency_keys_purge() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


def test_the_housekeeping_task_forgets_old_keys_and_expired_tokens(anna):
    from knox.models import AuthToken

    from api.tasks import purge_api_state

    IdempotencyKey.objects.create(user=anna, key="old", fingerprint="x", status_code=200)
    IdempotencyKey.objects.update(created_at=timezone.now() - datetime.timedelta(days=3))
    AuthToken.objects.create(user=anna, expiry=datetime.timedelta(seconds=-1))
    AuthToken.objects.create(user=anna)
    assert purge_api_state() == {
        "idempotency_keys": 1,
        "tokens": 1,
        "tombstones": 0,
        "scope_changes": 0,
    }
    assert AuthToken.objects.filter(user=anna).count() == 1


def test_a_put_repeating_a_start_in_the_repeated_autumn_hour_is_not_a_move(
    api, anna, group_a, time_machine
):
    # 31 October 2027 in Warsaw: 02:00–03:00 happens twice. The session began at the second
    # 02:30 (01:30 UTC); it is 02:50 winter time.
    time_machine.move_to(datetime.datetime(2027, 10, 31, 1, 50, tzinfo=datetime.UTC), tick=False)
    session = SessionFactory(
        group=group_a, starts_at=datetime.datetime(2027, 10, 31, 1, 30, tzinfo=datetime.UTC)
    )
    client = api(anna)
    url = f"/api/v1/sessions/{session.pk}/"
    current = client.get(url).json()
    assert current["starts_at"].endswith("+01:00")
    body = {k: current[k] for k in ("starts_at", "ends_at", "online_link")}
    response = client.put(url, {**body, "group": group_a.pk, "theme": "Sleep"}, format="json")
    assert response.status_code == 200, response.content
    session.refresh_from_db()
    assert session.theme == "Sleep"
    assert session.starts_at == datetime.datetime.fromisoformat(current["starts_at"])


def test_a_put_of_a_session_that_began_may_change_its_theme_but_not_move_it(api, anna, world_a):
    client = api(anna)
    url = f"/api/v1/sessions/{world_a.session.pk}/"
    current = client.get(url).json()
    body = {
        "group": current["group"]["id"],
        "starts_at": current["starts_at"],
        "ends_at": current["ends_at"],
        "online_link": current["online_link"],
        "theme": "Anger",
    }
    response = client.put(url, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["theme"] == "Anger"
    moved = client.patch(url, {"starts_at": "2030-01-01T10:00:00Z"}, format="json")
    assert moved.status_code == 400
    assert "begun" in field_errors(moved)["non_field_errors"][0]
