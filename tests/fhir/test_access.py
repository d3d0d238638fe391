"""The API's guarantees through FHIR: sign-in, scoping (another institution's resource is a
404 and never in a search), roles (an auditor reads no participant's record), names, the
audit log, and the errors, each an OperationOutcome."""

import json

import pytest
from knox.models import AuthToken

from audit.models import AuditEvent

from .conftest import BASE, entries

pytestmark = pytest.mark.django_db

MISSING = 987654


def addresses(world) -> dict[str, str]:
    """One resource of each type in `world`'s institution."""
    return {
        "Organization": f"Organization/{world.institution.pk}",
        "Practitioner": f"Practitioner/{world.group.facilitator_roles.get(role='lead').user_id}",
        "Group": f"Group/{world.group.pk}",
        "Patient": f"Patient/{world.named.pk}",
        "Consent": f"Consent/{world.consents[0].pk}",
        "Appointment": f"Appointment/{world.held.pk}",
        "Encounter": f"Encounter/{world.held.pk}",
        "Encounter (member)": f"Encounter/{world.held.pk}-{world.named.pk}",
    }


def missing(address: str) -> str:
    resource_type, _slash, resource_id = address.partition("/")
    return (
        f"{resource_type}/{MISSING}-{MISSING}"
        if "-" in resource_id
        else f"{resource_type}/{MISSING}"
    )


def outcome_code(body) -> str:
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]["code"]


def test_karim_gets_404_for_every_resource_of_institution_a_as_for_a_missing_one(
    fhir, karim, anna, world_a, world_b
):
    for name, address in addresses(world_a).items():
        theirs = fhir(karim).read(address, status=404)
        assert outcome_code(theirs) == "not-found", name
        assert theirs["issue"][0]["diagnostics"].startswith(address.split("/")[0])
        assert outcome_code(fhir(karim).read(missing(address), status=404)) == "not-found"
        fhir(anna).read(address)  # the address works for someone of A


def test_karims_searches_never_show_institution_a(fhir, karim, world_a, world_b):
    ids_a = {address: address.split("/")[1] for address in addresses(world_a).values()}
    for address, resource_id in ids_a.items():
        resource_type = address.split("/")[0]
        assert entries(fhir(karim).read(f"{resource_type}?_id={resource_id}")) == [], address
    text = json.dumps([fhir(karim).read(t) for t in {a.split("/")[0] for a in ids_a}])
    assert world_a.group.name not in text
    assert world_a.named.alias not in text and world_a.alias_only.alias not in text
    assert f'Organization/{world_a.institution.pk}"' not in text
    # Searching by A's rows finds nothing either.
    for query in (
        f"Encounter?subject=Group/{world_a.group.pk}",
        f"Encounter?patient={world_a.named.pk}",
        f"Consent?patient={world_a.named.pk}",
        f"Appointment?group={world_a.group.pk}",
        f"Group?member=Patient/{world_a.named.pk}",
        f"Patient?identifier={world_a.named.code}",
    ):
        for resource in entries(fhir(karim).read(query)):
            assert f"Organization/{world_b.institution.pk}" in json.dumps(resource), query


def test_olga_the_auditor_reads_no_patient_consent_or_encounter_and_no_names(
    fhir, olga, anna, world_a
):
    client = fhir(olga)
    for name in ("Patient", "Consent", "Encounter", "Encounter (member)"):
        address = addresses(world_a)[name]
        assert outcome_code(client.read(address, status=404)) == "not-found", name
        assert entries(client.read(address.split("/")[0])) == []
    group = client.read(f"Group/{world_a.group.pk}")
    assert "member" not in group and "quantity" not in group
    assert entries(client.read(f"Group?member=Patient/{world_a.named.pk}")) == []
    assert entries(client.read(f"Appointment?patient=Patient/{world_a.named.pk}")) == []
    for appointment in entries(client.read("Appointment")):
        actors = [p.get("actor", {}).get("reference", "") for p in appointment["participant"]]
        assert not [a for a in actors if a.startswith("Patient/")]
    everything = json.dumps([client.read(t) for t in ("Group", "Appointment", "Practitioner")])
    for participant in (world_a.named, world_a.alias_only):
        assert participant.legal_name not in everything
        assert participant.alias not in everything
    # What olga does see is there: the group, its sessions, the facilitators.
    assert entries(client.read("Appointment"))
    assert entries(fhir(anna).read(f"Encounter?subject=Group/{world_a.group.pk}"))


def test_the_apis_token_and_a_staff_session_sign_in_and_nothing_else_does(
    fhir, client, anna, world_a
):
    _token, key = AuthToken.objects.create(anna)
    address = BASE + addresses(world_a)["Patient"]
    assert fhir(None).get(address, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    refused = fhir(None).get(address, HTTP_AUTHORIZATION="Token not-a-token")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == "Token"
    assert outcome_code(refused.json()) == "login"
    anonymous = fhir(None).get(address)
    assert anonymous.status_code == 401 and outcome_code(anonymous.json()) == "login"
    client.force_login(anna)
    response = client.get(address)
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"
    assert response["Cache-Control"] == "no-store"


def test_writes_unknown_types_and_other_interactions_get_an_operation_outcome(fhir, anna, world_a):
    client = fhir(anna)
    address = BASE + addresses(world_a)["Group"]
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)(address, {}, format="json")
        assert response.status_code == 405, method
        assert outcome_code(response.json()) == "not-supported"
        assert response["Cache-Control"] == "no-store"
    options = client.options(address)
    assert options.status_code == 405 and outcome_code(options.json()) == "not-supported"
    assert outcome_code(client.read(addresses(world_a)["Group"] + "?_format=xml", status=406)) == (
        "not-supported"
    )
    assert client.read(addresses(world_a)["Group"] + "?_format=json")["resourceType"] == "Group"
    assert outcome_code(client.read("Observation", status=404)) == "not-supported"
    assert outcome_code(client.read("Patient/1/_history/1", status=404)) == "not-supported"
    assert outcome_code(client.read("Observation/1", status=404)) == "not-supported"


class NewEvents:
    def __enter__(self):
        self.last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        return self

    def __exit__(self, *exc):
        self.rows = list(AuditEvent.objects.filter(id__gt=self.last).order_by("id"))


def test_every_read_of_a_patient_consent_or_encounter_is_audited_like_the_apis(fhir, anna, world_a):
    client = fhir(anna)
    record = world_a.marks[0]
    reads = {
        addresses(world_a)["Patient"]: (
            "participant.viewed",
            "clinics.participant",
            world_a.named.pk,
        ),
        addresses(world_a)["Consent"]: (
            "consent.viewed",
            "attendance.consent",
            world_a.consents[0].pk,
        ),
        addresses(world_a)["Encounter"]: (
            "attendance.viewed",
            "group_sessions.session",
            world_a.held.pk,
        ),
        addresses(world_a)["Encounter (member)"]: (
            "attendance.viewed",
            "attendance.attendancerecord",
            record.pk,
        ),
    }
    for address, (action, object_type, object_id) in reads.items():
        with NewEvents() as events:
            client.read(address)
        assert [(e.action, e.object_type, e.object_id) for e in events.rows] == [
            (action, object_type, str(object_id))
        ], address
        assert events.rows[0].actor == anna
        assert events.rows[0].institution == world_a.institution

    # A search: one event per page, naming everyone shown (the API's participant.listed).
    with NewEvents() as events:
        first = client.read("Patient?_count=2")
    (event,) = events.rows
    assert event.action == "participant.listed"
    assert event.details["ids"] == [int(r["id"]) for r in entries(first)]
    with NewEvents() as events:
        client.read("Consent")
        client.read("Encounter?_count=50")
    assert [e.action for e in events.rows] == ["consent.listed", "attendance.listed"]
    assert events.rows[1].details["ids"] == [r.pk for r in world_a.marks]
    assert set(events.rows[1].details["sessions"]) == {
        s.pk for s in (world_a.held, world_a.online, world_a.cancelled)
    }
    # Reading the organisation, groups and sessions is not a read of anyone's record.
    with NewEvents() as events:
        for resource_type in ("Organization", "Practitioner", "Group", "Appointment"):
            client.read(resource_type)
    assert events.rows == []


def test_an_auditors_empty_search_leaves_no_listed_event(fhir, olga, world_a):
    with NewEvents() as events:
        fhir(olga).read("Patient")
    assert events.rows == []


READS = {  # resource type -> the personas of A who find A's resources there
    "Organization": {"ewa", "anna", "marek", "olga"},
    "Practitioner": {"ewa", "anna", "marek", "olga"},
    "Group": {"ewa", "anna", "marek", "olga"},
    "Appointment": {"ewa", "anna", "marek", "olga"},
    "Patient": {"ewa", "anna", "marek"},
    "Consent": {"ewa", "anna", "marek"},
    "Encounter": {"ewa", "anna", "marek"},
}


@pytest.mark.parametrize("persona", ["ewa", "anna", "marek", "olga", "karim"])
def test_every_persona_reads_what_its_role_allows_in_every_type(fhir, request, world_a, persona):
    client = fhir(request.getfixturevalue(persona))
    for resource_type, readers in READS.items():
        address = addresses(world_a)[resource_type]
        if persona in readers:
            assert client.read(address)["resourceType"] == resource_type
            assert entries(client.read(resource_type)), (persona, resource_type)
        else:
            client.read(address, status=404)
            found = {r["id"] for r in entries(client.read(resource_type))}
            assert address.split("/")[1] not in found, (persona, resource_type)
