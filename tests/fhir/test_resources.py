"""What each resource says, validated as R4 (fhir.resources 6.2.2, FHIR 4.0.1) on every read:
the fixtures' `read` parses every answer with the R4 model of its type."""

import pytest

from fhir.mapping.common import (
    ATTENDANCE_MARK_EXTENSION,
    ATTENDANCE_MARK_SYSTEM,
    participant_code_system,
)

from .conftest import entries, validate

pytestmark = pytest.mark.django_db


def by_id(bundle) -> dict[str, dict]:
    return {resource["id"]: resource for resource in entries(bundle)}


def test_the_capability_statement_lists_exactly_the_types_and_parameters_served(fhir):
    statement = fhir(None).read("metadata")
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["format"] == ["json"]
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(resources) == {
        "Appointment",
        "Consent",
        "Encounter",
        "Group",
        "Organization",
        "Patient",
        "Practitioner",
    }
    for resource in resources.values():
        assert [i["code"] for i in resource["interaction"]] == ["read", "search-type"]
    names = {t: {p["name"] for p in r["searchParam"]} for t, r in resources.items()}
    assert names["Encounter"] == {
        "_id",
        "_lastUpdated",
        "patient",
        "subject",
        "group",
        "part-of",
        "date",
        "status",
    }
    assert resources["Group"]["searchInclude"] == ["Group:member"]
    assert names["Appointment"] == {
        "_id",
        "_lastUpdated",
        "date",
        "status",
        "patient",
        "group",
        "supporting-info",
    }
    assert names["Practitioner"] == {"_id"}  # users keep no change time


def test_every_parameter_the_statement_lists_is_accepted_under_strict_handling(fhir, anna, world_a):
    statement = fhir(None).read("metadata")
    values = {"token": "x", "date": "ge2020-01-01", "reference": "Group/1"}
    client = fhir(anna)
    for resource in statement["rest"][0]["resource"]:
        for parameter in resource["searchParam"]:
            value = "1" if parameter["name"] == "_id" else values[parameter["type"]]
            client.read(
                f"{resource['type']}?{parameter['name']}={value}", HTTP_PREFER="handling=strict"
            )


def test_a_patient_is_identified_by_code_and_named_only_with_role_and_consent(
    fhir, ewa, anna, marek, world_a
):
    named, alias_only = world_a.named, world_a.alias_only
    for reader in (ewa, anna):  # the admin, and a facilitator of the person's group
        patients = by_id(fhir(reader).read("Patient"))
        patient = patients[str(named.pk)]
        assert patient["identifier"] == [
            {
                "use": "usual",
                "system": participant_code_system(world_a.institution.pk),
                "value": named.code,
            }
        ]
        assert {"use": "official", "text": "Janina Kowalska"} in patient["name"]
        assert {"use": "nickname", "text": named.alias} in patient["name"]
        assert patient["birthDate"] == "1980"
        assert patient["communication"][0]["language"]["coding"][0]["code"] == "pl"
        assert patient["managingOrganization"] == {
            "reference": f"Organization/{world_a.institution.pk}"
        }
        # A legal name stored without the health-data consent in force is never shown.
        hidden = patients[str(alias_only.pk)]
        assert hidden["name"] == [{"use": "nickname", "text": alias_only.alias}]
        assert "birthDate" not in hidden
    # Staff work with the alias: reports name people to admins and the group's facilitators.
    patient = by_id(fhir(marek).read("Patient"))[str(named.pk)]
    assert patient["name"] == [{"use": "nickname", "text": named.alias}]
    assert "birthDate" not in patient
    for resource in entries(fhir(ewa).read("Patient")):
        assert "telecom" not in resource and "address" not in resource


def test_a_facilitator_of_another_group_reads_the_alias_only(fhir, world_a, institution_a):
    from clinics.models import StaffMembership
    from tests.factories import MembershipFactory, UserFactory

    piotr = UserFactory(username="piotr")
    MembershipFactory(user=piotr, institution=institution_a, role=StaffMembership.Role.FACILITATOR)
    patient = fhir(piotr).read(f"Patient/{world_a.named.pk}")
    assert patient["name"] == [{"use": "nickname", "text": world_a.named.alias}]


def test_a_group_carries_its_category_organisation_and_members_with_their_periods(
    fhir, anna, world_a
):
    group = fhir(anna).read(f"Group/{world_a.group.pk}")
    assert (group["type"], group["actual"], group["active"]) == ("person", True, True)
    assert group["name"] == world_a.group.name
    assert group["managingEntity"] == {"reference": f"Organization/{world_a.institution.pk}"}
    (category,) = group["characteristic"]
    assert category["valueCodeableConcept"]["coding"][0]["code"] == world_a.group.category
    assert category["exclude"] is False
    members = {m["entity"]["reference"]: m for m in group["member"]}
    assert set(members) == {
        f"Patient/{p.pk}" for p in (world_a.named, world_a.alias_only, world_a.former)
    }
    former = members[f"Patient/{world_a.former.pk}"]
    assert former["inactive"] is True
    assert former["period"]["end"] == world_a.former.enrollments.get().left_on.isoformat()
    current = members[f"Patient/{world_a.named.pk}"]
    assert current["inactive"] is False
    assert current["period"] == {"start": world_a.group.starts_on.isoformat()}
    assert group["quantity"] == 2


def test_a_consent_maps_status_scope_category_period_and_the_disclosure_recipient(
    fhir, anna, world_a
):
    health, participation, disclosure, withdrawn = world_a.consents
    consents = by_id(fhir(anna).read("Consent?_count=10"))
    resource = consents[str(disclosure.pk)]
    assert resource["status"] == "active"
    assert resource["scope"]["coding"][0]["code"] == "patient-privacy"
    assert {"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"} in [
        c["coding"][0] for c in resource["category"]
    ]
    assert resource["patient"] == {"reference": f"Patient/{world_a.named.pk}"}
    assert resource["organization"] == [{"reference": f"Organization/{world_a.institution.pk}"}]
    assert "v1" in resource["sourceAttachment"]["title"]
    provision = resource["provision"]
    assert provision["type"] == "permit"
    assert provision["actor"][0]["reference"] == {"display": "District Court, Kraków"}
    assert provision["period"]["end"].startswith(disclosure.expires_at.date().isoformat()[:7])
    assert consents[str(participation.pk)]["scope"]["coding"][0]["code"] == "treatment"
    assert consents[str(participation.pk)]["provision"]["data"][0]["reference"] == {
        "reference": f"Group/{world_a.group.pk}"
    }
    gone = consents[str(withdrawn.pk)]
    assert gone["status"] == "inactive"
    assert "end" in gone["provision"]["period"]


def test_an_appointment_lists_facilitators_and_the_days_members_and_a_cancellation(
    fhir, anna, world_a
):
    appointments = by_id(fhir(anna).read("Appointment"))
    held = appointments[str(world_a.held.pk)]
    assert held["status"] == "fulfilled"
    actors = [p["actor"]["reference"] for p in held["participant"]]
    assert actors[0] == f"Practitioner/{world_a.group.facilitator_roles.get(role='lead').user_id}"
    assert f"Practitioner/{world_a.co.pk}" in actors
    # Members on that day: the one who left five days ago was still a member a week ago.
    patients = {a for a in actors if a.startswith("Patient/")}
    assert patients == {
        f"Patient/{p.pk}" for p in (world_a.named, world_a.alias_only, world_a.former)
    }
    later = appointments[str(world_a.later.pk)]
    assert later["status"] == "booked"
    assert f"Patient/{world_a.former.pk}" not in [
        p["actor"]["reference"] for p in later["participant"]
    ]
    cancelled = appointments[str(world_a.cancelled.pk)]
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelationReason"]["text"] == "The facilitator is ill."
    assert cancelled["cancelationReason"]["coding"][0]["code"] == "facilitator"
    assert held["supportingInformation"] == [{"reference": f"Group/{world_a.group.pk}"}]


def test_a_session_encounter_and_its_members_encounters_carry_the_marks(fhir, anna, world_a):
    encounters = by_id(fhir(anna).read("Encounter?_count=20"))
    # Sessions that took place or were called off; the one next week is an Appointment only.
    sessions = {k for k, e in encounters.items() if "partOf" not in e}
    assert sessions == {str(s.pk) for s in (world_a.held, world_a.online, world_a.cancelled)}
    held = encounters[str(world_a.held.pk)]
    assert held["status"] == "finished"
    assert held["class"]["code"] == "AMB"
    assert held["subject"] == {"reference": f"Group/{world_a.group.pk}"}
    assert encounters[str(world_a.online.pk)]["class"]["code"] == "VR"
    assert encounters[str(world_a.cancelled.pk)]["status"] == "cancelled"

    late = encounters[f"{world_a.held.pk}-{world_a.named.pk}"]
    assert late["partOf"] == {"reference": f"Encounter/{world_a.held.pk}"}
    assert late["subject"] == {"reference": f"Patient/{world_a.named.pk}"}
    assert late["status"] == "finished"
    assert late["extension"] == [
        {
            "url": ATTENDANCE_MARK_EXTENSION,
            "valueCoding": {"system": ATTENDANCE_MARK_SYSTEM, "code": "late", "display": "Late"},
        }
    ]
    assert late["period"]["start"].endswith(":10:00.000Z")  # arrived at 18:10 local time
    absent = encounters[f"{world_a.held.pk}-{world_a.alias_only.pk}"]
    assert absent["status"] == "cancelled"
    assert absent["extension"][0]["valueCoding"]["code"] == "unexcused"
    assert "period" not in absent


def test_practitioners_and_organizations_are_the_readers_institutions(fhir, anna, world_a):
    practitioners = by_id(fhir(anna).read("Practitioner"))
    # A co-facilitator without a membership here is still readable: sessions name them.
    assert "qualification" not in practitioners[str(world_a.co.pk)]
    assert practitioners[str(world_a.co.pk)]["active"] is False
    assert practitioners[str(anna.pk)]["qualification"][0]["issuer"] == {
        "reference": f"Organization/{world_a.institution.pk}"
    }
    organizations = entries(fhir(anna).read("Organization"))
    assert [o["name"] for o in organizations] == [world_a.institution.name]


def test_the_validation_refuses_what_r4_does_not_allow():
    """The check the other tests rely on can fail: R4B/R5 elements and missing required ones."""
    with pytest.raises(ValueError):
        validate({"resourceType": "Encounter", "status": "finished"})  # class is required in R4
    with pytest.raises(ValueError):
        validate({"resourceType": "Patient", "nickname": "x"})


def test_an_erased_participant_is_an_inactive_patient_known_by_code_only(fhir, ewa, world_a):
    from django.utils import timezone

    from clinics.models import Participant

    Participant.objects.filter(pk=world_a.named.pk).update(
        erased_at=timezone.now(), alias="", legal_name="", birth_year=None
    )
    patient = fhir(ewa).read(f"Patient/{world_a.named.pk}")
    assert patient["active"] is False
    assert patient["identifier"][0]["value"] == world_a.named.code
    assert "name" not in patient and "birthDate" not in patient


def _references(value):
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value["reference"]
        for inner in value.values():
            yield from _references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner)


@pytest.mark.parametrize("reader", ["anna", "olga"])
def test_every_reference_the_facade_gives_out_can_be_read(fhir, request, world_a, reader):
    user = request.getfixturevalue(reader)
    client = fhir(user)
    references = set()
    for resource_type in (
        "Organization",
        "Practitioner",
        "Group",
        "Patient",
        "Consent",
        "Appointment",
        "Encounter",
    ):
        references |= set(_references(entries(client.read(f"{resource_type}?_count=200"))))
    assert len(references) > (10 if reader == "anna" else 3)
    for address in sorted(references):
        client.read(address)
