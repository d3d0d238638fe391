"""Mass assignment: the API ignores or refuses whatever a client may not set — the institution,
who recorded or wrote something, when, an object's status or code — and another institution's
ids in any writable field are refused exactly like missing ones."""

import pytest

from attendance.models import Consent, Enrollment
from clinics.models import Participant
from sessions.models import SessionNote
from tests.api.errors import field_errors

OLD = "2000-01-01T00:00:00Z"


def refused(response, field):
    assert response.status_code == 400, response.content
    errors = field_errors(response)
    assert field in errors, errors
    return errors[field]


# --- Participants ------------------------------------------------------------------------------


def test_registering_ignores_code_number_author_dates_and_erasure(api, anna, karim, world_a):
    response = api(anna).post(
        "/api/v1/participants/",
        {
            "institution": world_a.institution.pk,
            "alias": "Newcomer",
            "id": 424242,
            "code": "P-99999",
            "number": 99999,
            "registered_by": karim.pk,
            "is_erased": True,
            "erased_at": OLD,
            "created_at": OLD,
            "updated_at": OLD,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    participant = Participant.objects.get(pk=response.json()["id"])
    assert participant.pk != 424242
    assert participant.code != "P-99999" and participant.number != 99999
    assert participant.registered_by == anna
    assert participant.erased_at is None
    assert participant.created_at.year > 2000


def test_registering_in_another_institution_is_refused_like_a_missing_one(
    api, anna, world_a, world_b
):
    theirs = refused(
        api(anna).post(
            "/api/v1/participants/",
            {"institution": world_b.institution.pk, "alias": "X"},
            format="json",
        ),
        "institution",
    )
    missing = refused(
        api(anna).post(
            "/api/v1/participants/", {"institution": 987654, "alias": "X"}, format="json"
        ),
        "institution",
    )
    assert theirs == [m.replace("987654", str(world_b.institution.pk)) for m in missing]
    assert not Participant.objects.filter(alias="X").exists()


def test_a_participant_cannot_be_moved_or_recoded(api, anna, karim, world_a, world_b):
    url = f"/api/v1/participants/{world_a.first.pk}/"
    refused(
        api(anna).patch(url, {"institution": world_b.institution.pk}, format="json"), "institution"
    )
    before = Participant.objects.get(pk=world_a.first.pk)
    response = api(anna).patch(
        url,
        {"code": "P-77777", "registered_by": karim.pk, "created_at": OLD, "alias": "Renamed"},
        format="json",
    )
    assert response.status_code == 200, response.content
    after = Participant.objects.get(pk=world_a.first.pk)
    assert (after.alias, after.code, after.registered_by_id, after.created_at) == (
        "Renamed",
        before.code,
        before.registered_by_id,
        before.created_at,
    )


# --- Enrollments and consents ------------------------------------------------------------------


def test_an_enrollment_starts_as_a_referral_whatever_the_client_says(
    api, anna, karim, world_a, world_b
):
    response = api(anna).post(
        "/api/v1/enrollments/",
        {
            "participant": world_a.outsider.pk,
            "group": world_a.group.pk,
            "institution": world_b.institution.pk,
            "status": "active",
            "joined_on": "2000-01-01",
            "admitted_with_override": True,
            "created_by": karim.pk,
            "created_at": OLD,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    enrollment = Enrollment.objects.get(pk=response.json()["id"])
    assert enrollment.status == Enrollment.Status.REFERRED
    assert enrollment.joined_on is None and not enrollment.admitted_with_override
    assert enrollment.institution == world_a.institution
    assert enrollment.created_by == anna
    assert enrollment.created_at.year > 2000


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("participant", lambda a, b: {"participant": b.outsider.pk, "group": a.group.pk}),
        ("group", lambda a, b: {"participant": a.outsider.pk, "group": b.group.pk}),
        (
            "session",
            lambda a, b: {
                "participant": a.outsider.pk,
                "group": a.group.pk,
                "walk_in": True,
                "session": b.session.pk,
            },
        ),
    ],
)
def test_an_enrollment_refuses_another_institutions_ids(
    api, anna, world_a, world_b, field, payload
):
    count = Enrollment.objects.count()
    refused(api(anna).post("/api/v1/enrollments/", payload(world_a, world_b), format="json"), field)
    assert Enrollment.objects.count() == count


def test_a_consent_is_recorded_by_the_signed_in_user_and_starts_granted(
    api, marek, karim, world_a, world_b
):
    response = api(marek).post(
        "/api/v1/consents/",
        {
            "participant": world_a.outsider.pk,
            "purpose": "contact",
            "method": "verbal",
            "text_version": "v1",
            "institution": world_b.institution.pk,
            "recorded_by": karim.pk,
            "status": "withdrawn",
            "withdrawn_by": karim.pk,
            "withdrawn_at": OLD,
            "created_at": OLD,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    consent = Consent.objects.get(pk=response.json()["id"])
    assert (consent.recorded_by, consent.status, consent.withdrawn_by) == (
        marek,
        Consent.Status.GRANTED,
        None,
    )
    assert consent.institution == world_a.institution
    assert consent.created_at.year > 2000


def test_a_consent_for_another_institutions_participant_is_refused(api, marek, world_b):
    refused(
        api(marek).post(
            "/api/v1/consents/",
            {
                "participant": world_b.outsider.pk,
                "purpose": "contact",
                "method": "verbal",
                "text_version": "v1",
            },
            format="json",
        ),
        "participant",
    )


# --- Notes, sessions, groups, attendance, reports ----------------------------------------------


def test_a_note_is_written_by_the_signed_in_user_and_unsigned(api, anna, karim, world_a):
    response = api(anna).post(
        "/api/v1/notes/",
        {
            "session": world_a.session.pk,
            "kind": "participant",
            "participant": world_a.first.pk,
            "text": "Came late, quiet.",
            "author": karim.pk,
            "signed_at": OLD,
            "signed_by": karim.pk,
            "created_at": OLD,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    note = SessionNote.objects.get(pk=response.json()["id"])
    assert (note.author, note.signed_at, note.signed_by) == (anna, None, None)


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("session", lambda a, b: {"session": b.session.pk, "kind": "group", "text": "x"}),
        (
            "participant",
            lambda a, b: {
                "session": a.session.pk,
                "kind": "participant",
                "participant": b.first.pk,
                "text": "x",
            },
        ),
    ],
)
def test_a_note_refuses_another_institutions_ids(api, anna, world_a, world_b, field, payload):
    count = SessionNote.objects.count()
    refused(api(anna).post("/api/v1/notes/", payload(world_a, world_b), format="json"), field)
    assert SessionNote.objects.count() == count


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("room", lambda b, karim: b.room.pk),
        ("substitute_facilitator", lambda b, karim: karim.pk),
        ("group", lambda b, karim: b.group.pk),
    ],
)
def test_a_session_refuses_another_institutions_ids(
    api, ewa, karim, world_a, world_b, field, value
):
    url = f"/api/v1/sessions/{world_a.later.pk}/"
    refused(api(ewa).patch(url, {field: value(world_b, karim)}, format="json"), field)


def test_a_session_ignores_its_institution_status_and_number(api, ewa, world_a, world_b):
    before = world_a.later
    response = api(ewa).patch(
        f"/api/v1/sessions/{before.pk}/",
        {
            "institution": world_b.institution.pk,
            "status": "cancelled",
            "sequence": 99,
            "cancelled_at": OLD,
            "theme": "Anniversaries",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    before.refresh_from_db()
    assert (before.institution, before.status, before.sequence, before.theme) == (
        world_a.institution,
        "scheduled",
        2,
        "Anniversaries",
    )


@pytest.mark.parametrize(
    ("field", "extra"),
    [
        ("institution", lambda a, b, karim: {"institution": b.institution.pk}),
        (
            "default_room",
            lambda a, b, karim: {"institution": a.institution.pk, "default_room": b.room.pk},
        ),
        (
            "facilitators",
            lambda a, b, karim: {
                "institution": a.institution.pk,
                "facilitators": [{"user": karim.pk, "role": "lead"}],
            },
        ),
    ],
)
def test_a_group_refuses_another_institutions_ids(api, ewa, karim, world_a, world_b, field, extra):
    payload = {
        "name": "Smuggled",
        "category": world_a.group.category,
        "membership_mode": "open",
        "capacity": 10,
        "min_size": 3,
        "starts_on": "2026-12-01",
        **extra(world_a, world_b, karim),
    }
    response = api(ewa).post("/api/v1/groups/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in str(response.json())
    assert not world_a.group.__class__.objects.filter(name="Smuggled").exists()


def test_a_roster_refuses_another_institutions_participant(api, anna, world_a, world_b):
    response = api(anna).put(
        f"/api/v1/sessions/{world_a.session.pk}/attendance/",
        {"marks": [{"participant": world_b.first.pk, "status": "present"}]},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert str(world_b.first.pk) in str(response.json())


def test_an_attendance_correction_ignores_session_participant_and_author(
    api, anna, karim, world_a, world_b
):
    record = world_a.record
    response = api(anna).patch(
        f"/api/v1/attendance/{record.pk}/",
        {
            "status": "late",
            "session": world_b.session.pk,
            "participant": world_b.first.pk,
            "recorded_by": karim.pk,
            "institution": world_b.institution.pk,
            "version": 99,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    record.refresh_from_db()
    assert (record.session, record.participant, record.recorded_by, record.institution) == (
        world_a.session,
        world_a.first,
        anna,
        world_a.institution,
    )
    assert record.status == "late" and record.version == 2


@pytest.mark.parametrize(
    ("report_type", "parameters"),
    [
        (
            "group_register",
            lambda b: {"group": b.group.pk, "start": "2026-01-01", "end": "2026-12-31"},
        ),
        ("sign_in_sheet", lambda b: {"session": b.session.pk}),
        ("participant_export", lambda b: {"participant": b.first.pk}),
        (
            "activity_summary",
            lambda b: {"institution": b.institution.pk, "start": "2026-01-01", "end": "2026-03-31"},
        ),
    ],
)
def test_a_report_about_another_institution_is_refused(
    api, ewa, world_a, world_b, report_type, parameters
):
    response = api(ewa).post(
        "/api/v1/reports/",
        {"type": report_type, "language": "en", "parameters": parameters(world_b)},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert any(path.startswith("parameters") for path in field_errors(response))
