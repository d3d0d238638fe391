"""Who sees what: another institution's rows do not exist; auditors see no clinical records;
staff record attendance and consents but do not change a group's facilitators."""

import pytest

from attendance.models import AttendanceRecord, Consent
from clinics.models import Participant
from sessions.models import GroupFacilitator
from tests.api.errors import field_errors

# (list path, attribute of the world holding one of its objects)
RESOURCES = [
    ("institutions", "institution"),
    ("sites", "site"),
    ("rooms", "room"),
    ("participants", "first"),
    ("groups", "group"),
    ("sessions", "session"),
    ("notes", "note"),
    ("enrollments", "enrollment"),
    ("consents", "consent"),
    ("attendance", "record"),
]
CLINICAL = {"participants", "notes", "enrollments", "consents", "attendance"}
# Every detail sub-path (GET) and verb (POST) of an object.
SUB_PATHS = {
    "sessions": [
        ("get", "attendance/"),
        ("put", "attendance/"),
        ("post", "cancel/"),
        ("post", "not-held/"),
    ],
    "groups": [("post", "facilitators/"), ("post", "remove-facilitator/"), ("post", "schedule/")],
    "enrollments": [
        ("post", "admit/"),
        ("post", "waitlist/"),
        ("post", "withdraw/"),
        ("post", "complete/"),
    ],
    "consents": [("post", "withdraw/")],
    "notes": [("post", "sign/"), ("post", "addenda/")],
}


def _ids(response):
    body = response.json()
    return {row["id"] for row in body["results"]}


@pytest.mark.parametrize(("path", "attr"), RESOURCES)
def test_karim_sees_nothing_of_institution_a_in_any_list_or_detail(
    api, karim, world_a, world_b, path, attr
):
    client = api(karim)
    obj = getattr(world_a, attr)
    listed = client.get(f"/api/v1/{path}/")
    assert listed.status_code == 200
    assert obj.pk not in _ids(listed)
    assert getattr(world_b, attr).pk in _ids(listed)  # the walk would be empty by mistake otherwise
    detail = client.get(f"/api/v1/{path}/{obj.pk}/")
    assert detail.status_code == 404
    assert "detail" in detail.json()
    for method, sub in SUB_PATHS.get(path, []):
        response = getattr(client, method)(f"/api/v1/{path}/{obj.pk}/{sub}", {}, format="json")
        assert response.status_code == 404, (path, sub, response.content)
    for method in ("put", "patch"):
        response = getattr(client, method)(f"/api/v1/{path}/{obj.pk}/", {}, format="json")
        assert response.status_code in (404, 405), (path, method)


def test_a_404_for_another_institution_reads_exactly_like_a_missing_object(api, karim, world_a):
    client = api(karim)
    theirs = client.get(f"/api/v1/sessions/{world_a.session.pk}/")
    missing = client.get("/api/v1/sessions/987654/")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()


def test_karim_cannot_use_institution_a_ids_when_writing(api, karim, world_a, world_b):
    client = api(karim)
    response = client.post(
        "/api/v1/enrollments/",
        {"participant": world_a.outsider.pk, "group": world_b.group.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "does not exist" in field_errors(response)["participant"][0]
    response = client.post(
        "/api/v1/consents/",
        {
            "participant": world_b.outsider.pk,
            "purpose": "participation",
            "method": "verbal",
            "text_version": "v1",
            "group": world_a.group.pk,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "does not exist" in field_errors(response)["group"][0]


@pytest.mark.parametrize(("path", "attr"), RESOURCES)
def test_olga_the_auditor_sees_no_names_notes_or_clinical_records(api, olga, world_a, path, attr):
    client = api(olga)
    listed = client.get(f"/api/v1/{path}/")
    detail = client.get(f"/api/v1/{path}/{getattr(world_a, attr).pk}/")
    if path in CLINICAL:
        assert listed.json()["count"] == 0
        assert detail.status_code == 404
    else:
        assert listed.json()["count"] >= 1
        assert detail.status_code == 200


def test_olga_may_not_open_a_roster_of_a_session_she_can_see(api, olga, world_a):
    response = api(olga).get(f"/api/v1/sessions/{world_a.session.pk}/attendance/")
    assert response.status_code == 403
    assert "participants" in response.json()["detail"]


def test_olga_cannot_register_a_participant(api, olga, institution_a):
    response = api(olga).post(
        "/api/v1/participants/", {"institution": institution_a.pk, "alias": "X"}, format="json"
    )
    assert response.status_code == 400
    assert "does not exist" in field_errors(response)["institution"][0]


def test_marek_records_attendance_through_the_roster(api, marek, world_a):
    response = api(marek).put(
        f"/api/v1/sessions/{world_a.session.pk}/attendance/",
        {"marks": [{"participant": world_a.second.pk, "status": "late", "arrived_at": "18:05"}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    record = AttendanceRecord.objects.get(session=world_a.session, participant=world_a.second)
    assert record.status == "late" and record.recorded_by == marek and record.source == "mobile"


def test_marek_records_a_consent(api, marek, world_a):
    response = api(marek).post(
        "/api/v1/consents/",
        {
            "participant": world_a.second.pk,
            "purpose": "contact",
            "method": "verbal",
            "text_version": "v2",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    consent = Consent.objects.get(pk=response.json()["id"])
    assert consent.recorded_by == marek
    assert response.json()["recorded_by"]["id"] == marek.pk


def test_marek_cannot_change_a_groups_facilitators(api, marek, world_a, ewa):
    response = api(marek).post(
        f"/api/v1/groups/{world_a.group.pk}/facilitators/",
        {"user": ewa.pk, "role": "co_facilitator"},
        format="json",
    )
    assert response.status_code == 403
    assert "facilitators" in response.json()["detail"]
    assert not GroupFacilitator.objects.filter(group=world_a.group, user=ewa).exists()


def test_marek_cannot_set_facilitators_by_editing_the_group(api, marek, world_a, ewa):
    response = api(marek).patch(
        f"/api/v1/groups/{world_a.group.pk}/",
        {"facilitators": [{"user": ewa.pk, "role": "lead"}]},
        format="json",
    )
    assert response.status_code == 400
    assert "facilitators" in field_errors(response)


def test_marek_cannot_cancel_a_session(api, marek, world_a):
    response = api(marek).post(
        f"/api/v1/sessions/{world_a.later.pk}/cancel/", {"reason": "Flu"}, format="json"
    )
    assert response.status_code == 403
    world_a.later.refresh_from_db()
    assert world_a.later.status == "scheduled"


def test_session_notes_are_for_the_groups_facilitators_only(api, anna, marek, ewa, world_a):
    assert api(anna).get("/api/v1/notes/").json()["count"] == 1
    assert api(marek).get("/api/v1/notes/").json()["count"] == 0
    assert api(ewa).get(f"/api/v1/notes/{world_a.note.pk}/").status_code == 404


def test_clients_cannot_write_institution_recorded_by_or_creation_time(api, anna, world_a):
    response = api(anna).patch(
        f"/api/v1/attendance/{world_a.record.pk}/",
        {
            "status": "late",
            "recorded_by": 999,
            "created_at": "2000-01-01T00:00:00Z",
            "institution": 5,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    world_a.record.refresh_from_db()
    assert world_a.record.recorded_by == world_a.group.facilitators.get()
    assert world_a.record.institution == world_a.institution
    assert world_a.record.created_at.year > 2000


def test_anonymous_requests_are_refused_with_401(api, world_a):
    response = api(None).get("/api/v1/sessions/")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_anna_adds_a_co_facilitator_and_the_role_defaults_to_lead(api, anna, ewa, world_a):
    client = api(anna)
    response = client.post(
        f"/api/v1/groups/{world_a.group.pk}/facilitators/", {"user": ewa.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    roles = {f["user"]["id"]: f["role"] for f in response.json()["facilitators"]}
    assert roles == {anna.pk: "lead", ewa.pk: "lead"}
    removed = client.post(
        f"/api/v1/groups/{world_a.group.pk}/remove-facilitator/", {"user": ewa.pk}, format="json"
    )
    assert [f["user"]["id"] for f in removed.json()["facilitators"]] == [anna.pk]


def test_a_listed_page_of_participants_is_a_logged_read_found_by_each_code(
    api, client, anna, ewa, karim, olga, world_a
):
    from django.urls import reverse

    from audit.models import AuditEvent

    response = api(anna).get("/api/v1/participants/?page_size=2&ordering=number")
    assert response.status_code == 200
    shown = [p["id"] for p in response.json()["results"]]
    assert len(shown) == 2
    (event,) = AuditEvent.objects.filter(action="participant.listed")
    assert (event.actor_id, event.institution_id, event.details["ids"]) == (
        anna.pk,
        world_a.institution.pk,
        shown,
    )
    # Nothing shown, nothing logged: another institution, or a role that sees no records.
    for outsider in (karim, olga):
        assert api(outsider).get("/api/v1/participants/").json()["results"] == []
    assert AuditEvent.objects.filter(action__startswith="participant.").count() == 1

    # "Who saw this person's record?" finds the page for each person on it, and only them.
    client.force_login(ewa)
    for participant in Participant.objects.filter(pk__in=shown):
        page = client.get(reverse("audit:log"), {"participant": participant.code})
        assert [e.pk for e in page.context["page"].object_list] == [event.pk]
    not_shown = Participant.objects.filter(institution=world_a.institution).exclude(pk__in=shown)
    page = client.get(reverse("audit:log"), {"participant": not_shown.first().code})
    assert list(page.context["page"].object_list) == []
