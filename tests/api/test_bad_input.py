"""Bad input to every write endpoint: a 400 with a message, and nothing written."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from audit.models import AuditEvent
from tests.api.errors import field_errors
from tests.factories import SessionFactory

HUGE = 99999999999999999999999


def _snapshot():
    counted = [
        "audit.AuditEvent",
        "clinics.Participant",
        "group_sessions.SupportGroup",
        "group_sessions.GroupFacilitator",
        "group_sessions.Session",
        "group_sessions.SessionNote",
        "group_sessions.NoteAddendum",
        "attendance.Enrollment",
        "attendance.Consent",
        "attendance.AttendanceRecord",
        "api.IdempotencyKey",
    ]
    state = {label: apps.get_model(label).objects.count() for label in counted}
    state["changed"] = sorted(
        str(m.objects.order_by("-updated_at").values_list("updated_at", flat=True).first())
        for m in (
            apps.get_model("group_sessions.Session"),
            apps.get_model("attendance.Enrollment"),
            apps.get_model("attendance.Consent"),
            apps.get_model("clinics.Participant"),
        )
    )
    return state


def _cases(a, b):
    """(method, url, [bad bodies]) for every write endpoint."""
    inst_a, inst_b = a.institution.pk, b.institution.pk
    return [
        ("post", "/api/v1/auth/token/", [{}, {"username": ["anna"], "password": 1}]),
        (
            "post",
            "/api/v1/participants/",
            [
                {},
                {"institution": "one", "alias": "A"},
                {"institution": inst_b, "alias": "A"},
                {"institution": HUGE, "alias": "A"},
                {"institution": inst_a, "alias": ["x"]},
                {"institution": inst_a, "alias": "A", "birth_year": 3000},
                {"institution": inst_a, "alias": "A", "legal_name": "Jan Kowalski"},
                {"institution": inst_a, "alias": "A", "consents": [{"purpose": "gossip"}]},
            ],
        ),
        (
            "patch",
            f"/api/v1/participants/{a.first.pk}/",
            [
                {"alias": ""},
                {"institution": inst_b},
                {"birth_year": "old"},
                {"reminder_channel": "sms"},
            ],
        ),
        (
            "post",
            "/api/v1/groups/",
            [
                {},
                {
                    "institution": inst_b,
                    "name": "G",
                    "category": "depression",
                    "starts_on": "2026-01-01",
                },
                {"institution": inst_a, "name": "G", "category": "nope", "starts_on": "2026-01-01"},
                {
                    "institution": inst_a,
                    "name": "G",
                    "category": "depression",
                    "starts_on": "2026-02-30",
                },
                {
                    "institution": inst_a,
                    "name": "G",
                    "category": "depression",
                    "starts_on": "99999-01-01",
                },
                {
                    "institution": inst_a,
                    "name": "G",
                    "category": "depression",
                    "starts_on": "2026-01-01",
                    "facilitators": [{"user": b.group.facilitators.get().pk, "role": "lead"}],
                },
                {
                    "institution": inst_a,
                    "name": "G",
                    "category": "depression",
                    "starts_on": "2026-01-01",
                    "min_size": 30,
                    "capacity": 5,
                },
            ],
        ),
        (
            "patch",
            f"/api/v1/groups/{a.group.pk}/",
            [{"capacity": "many"}, {"default_room": b.room.pk}, {"ends_on": "1999-01-01"}],
        ),
        (
            "post",
            f"/api/v1/groups/{a.group.pk}/facilitators/",
            [
                {},
                {"user": b.group.facilitators.get().pk, "role": "lead"},
                {"user": HUGE, "role": "lead"},
            ],
        ),
        ("post", f"/api/v1/groups/{a.group.pk}/remove-facilitator/", [{}, {"user": "me"}]),
        (
            "post",
            f"/api/v1/groups/{a.group.pk}/schedule/",
            [
                {},
                {
                    "weekdays": [9],
                    "start_time": "18:00",
                    "duration_minutes": 90,
                    "starts_on": "2027-01-01",
                    "count": 3,
                },
                {
                    "weekdays": [1],
                    "start_time": "18:00",
                    "duration_minutes": 90,
                    "starts_on": "2027-01-01",
                },
                {
                    "weekdays": [1],
                    "start_time": "18:00",
                    "duration_minutes": 90,
                    "starts_on": "2027-01-01",
                    "count": 100000,
                },
                {
                    "weekdays": [1],
                    "start_time": "18:00",
                    "duration_minutes": 90,
                    "starts_on": "2027-01-01",
                    "count": 3,
                    "room": b.room.pk,
                },
            ],
        ),
        (
            "post",
            "/api/v1/sessions/",
            [
                {},
                {
                    "group": b.group.pk,
                    "starts_at": "2027-01-01T18:00:00Z",
                    "ends_at": "2027-01-01T19:00:00Z",
                },
                {
                    "group": a.group.pk,
                    "starts_at": "10000-01-01T18:00:00Z",
                    "ends_at": "2027-01-01T19:00:00Z",
                },
                {
                    "group": a.group.pk,
                    "starts_at": "2027-01-01T18:00:00Z",
                    "ends_at": "2027-01-01T17:00:00Z",
                },
                {
                    "group": a.group.pk,
                    "starts_at": "2027-01-01T18:00:00Z",
                    "ends_at": "2027-01-01T19:00:00Z",
                },
            ],
        ),
        (
            "patch",
            f"/api/v1/sessions/{a.later.pk}/",
            [
                {"starts_at": "soon"},
                {"substitute_facilitator": b.group.facilitators.get().pk},
                {"group": b.group.pk},
            ],
        ),
        (
            "post",
            f"/api/v1/sessions/{a.later.pk}/cancel/",
            [{}, {"reason": ""}, {"reason": "x", "cancelled_by": "god"}],
        ),
        ("post", f"/api/v1/sessions/{a.later.pk}/not-held/", [{}]),
        (
            "put",
            f"/api/v1/sessions/{a.session.pk}/attendance/",
            [
                {},
                {"marks": "all"},
                {"marks": [{"participant": b.first.pk, "status": "present"}]},
                {"marks": [1, 2]},
            ],
        ),
        (
            "post",
            "/api/v1/notes/",
            [
                {},
                {"session": b.session.pk, "text": "x"},
                {"session": a.session.pk, "text": ""},
                {"session": a.session.pk, "text": "x", "kind": "diary"},
            ],
        ),
        ("patch", f"/api/v1/notes/{a.note.pk}/", [{"text": ""}, {"kind": "private"}]),
        ("post", f"/api/v1/notes/{a.note.pk}/sign/", []),
        ("post", f"/api/v1/notes/{a.note.pk}/addenda/", [{}, {"text": "late thought"}]),
        (
            "post",
            "/api/v1/enrollments/",
            [
                {},
                {"participant": b.outsider.pk, "group": a.group.pk},
                {"participant": a.first.pk, "group": a.group.pk},
                {"participant": a.outsider.pk, "group": a.group.pk, "referral_source": "rumour"},
            ],
        ),
        ("post", f"/api/v1/enrollments/{a.enrollment.pk}/admit/", [{}, {"on": "2026-13-01"}]),
        ("post", f"/api/v1/enrollments/{a.enrollment.pk}/waitlist/", [{}]),
        (
            "post",
            f"/api/v1/enrollments/{a.enrollment.pk}/withdraw/",
            [{}, {"reason": "moved", "on": "1900-01-01"}],
        ),
        ("post", f"/api/v1/enrollments/{a.enrollment.pk}/complete/", [{"on": "yesterday"}]),
        (
            "post",
            "/api/v1/consents/",
            [
                {},
                {
                    "participant": b.first.pk,
                    "purpose": "contact",
                    "method": "verbal",
                    "text_version": "v1",
                },
                {
                    "participant": a.first.pk,
                    "purpose": "contact",
                    "method": "telepathy",
                    "text_version": "v1",
                },
                {
                    "participant": a.first.pk,
                    "purpose": "disclosure",
                    "method": "verbal",
                    "text_version": "v1",
                },
                {
                    "participant": a.first.pk,
                    "purpose": "contact",
                    "method": "verbal",
                    "text_version": "v1",
                    "granted_at": "2099-01-01T00:00:00Z",
                },
            ],
        ),
        ("post", f"/api/v1/consents/{a.consent.pk}/withdraw/", [{"reason": ["no"]}]),
        (
            "patch",
            f"/api/v1/attendance/{a.record.pk}/",
            [
                {"status": "asleep"},
                {"arrived_at": "noon"},
                {"status": "unexcused", "arrived_at": "18:00"},
            ],
        ),
    ]


def test_every_write_endpoint_answers_bad_input_with_400_and_writes_nothing(
    api, anna, world_a, world_b
):
    client = api(anna)
    failures = []
    for method, url, bodies in _cases(world_a, world_b):
        malformed = getattr(client, method)(
            url, data='{"broken": ', content_type="application/json"
        )
        if malformed.status_code != 400 or "detail" not in malformed.json():
            failures.append((method, url, "malformed JSON", malformed.status_code))
        for body in bodies:
            before = _snapshot()
            response = getattr(client, method)(url, body, format="json")
            try:
                payload = response.json()
            except ValueError:
                payload = None
            if response.status_code != 400 or not payload:
                failures.append((method, url, body, response.status_code, payload))
            elif _snapshot() != before:
                failures.append((method, url, body, "wrote something"))
    assert failures == [], "\n".join(map(repr, failures))


def test_a_signed_note_takes_addenda_but_an_unsigned_one_refuses(api, anna, world_a):
    client = api(anna)
    refused = client.post(f"/api/v1/notes/{world_a.note.pk}/addenda/", {"text": "x"}, format="json")
    assert refused.status_code == 400
    assert client.post(f"/api/v1/notes/{world_a.note.pk}/sign/").status_code == 200
    added = client.post(f"/api/v1/notes/{world_a.note.pk}/addenda/", {"text": "x"}, format="json")
    assert added.status_code == 201
    assert added.json()["addenda"][0]["text"] == "x"
    again = client.post(f"/api/v1/notes/{world_a.note.pk}/sign/")
    assert (
        again.status_code == 400 and "already signed" in field_errors(again)["non_field_errors"][0]
    )


@pytest.mark.parametrize("header", ["text/plain", "application/x-www-form-urlencoded"])
def test_only_json_bodies_are_accepted(api, anna, world_a, header):
    response = api(anna).generic("POST", "/api/v1/participants/", "alias=A", content_type=header)
    assert response.status_code == 415
    assert response.json()["detail"]
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize("kind", ["group", "private"])
def test_a_group_or_private_note_is_written_without_naming_a_participant(api, anna, world_a, kind):
    session = SessionFactory(group=world_a.group, starts_at=timezone.now() - timedelta(hours=2))
    response = api(anna).post(
        "/api/v1/notes/", {"session": session.pk, "kind": kind, "text": "We talked."}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == kind and response.json()["participant"] is None
