"""A real FHIR client (fhirpy's sync client) against a live server, signed in with the API's
token: it searches every resource type, follows next links through every page, and what it
receives validates as R4. karim's client reads nothing of institution A.

The server listens on the first free port of FHIR_TEST_PORTS (8140-8142 by default)."""

import os

import pytest
from django.test import override_settings
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound
from knox.models import AuthToken
from pytest_django.live_server_helper import LiveServer

from .conftest import validate

TYPES = ("Organization", "Practitioner", "Group", "Patient", "Consent", "Appointment", "Encounter")


@pytest.fixture
def server(transactional_db):
    """A live server on one of the ports set aside for these tests (pytest-django's helper,
    which shares an in-memory SQLite test database with the server's thread)."""
    ports = [int(p) for p in os.environ.get("FHIR_TEST_PORTS", "8140,8141,8142").split(",")]
    with override_settings(ALLOWED_HOSTS=["127.0.0.1"]):
        live = None
        for port in ports:
            try:
                live = LiveServer(f"127.0.0.1:{port}")
                break
            except OSError:
                continue
        if live is None:
            pytest.fail(f"none of the ports {ports} is free")
        try:
            yield f"{live.url}/fhir/r4"
        finally:
            live.stop()


def client_for(server, user) -> SyncFHIRClient:
    _instance, key = AuthToken.objects.create(user)
    return SyncFHIRClient(server, authorization=f"Token {key}")


def every(client, resource_type, **params) -> list:
    """Everything a search finds: fhirpy's iteration follows each Bundle's next link."""
    return list(client.resources(resource_type).search(**params).limit(2))


@pytest.mark.django_db(transaction=True)
def test_a_fhir_client_searches_every_type_follows_next_and_reads_back_r4(
    server, anna, world_a, world_b
):
    client = client_for(server, anna)
    statement = client.execute("metadata", method="get")
    assert validate(statement).fhirVersion == "4.0.1"
    for resource_type in TYPES:
        found = every(client, resource_type)
        one_page = client.resources(resource_type).search().limit(200).fetch()
        assert [r.id for r in found] == [r.id for r in one_page], resource_type
        assert found, resource_type
        for resource in found:
            validate(resource.serialize())
            assert resource.resourceType == resource_type
        # Read each back by its id, as a client following a reference would.
        again = client.reference(resource_type, found[0].id).to_resource()
        assert again.serialize() == found[0].serialize()

    # Searches with parameters, through the client's own query building.
    group = f"Group/{world_a.group.pk}"
    members = every(client, "Encounter", **{"part-of": f"Encounter/{world_a.held.pk}"})
    assert {r.subject.reference for r in members} == {
        f"Patient/{world_a.named.pk}",
        f"Patient/{world_a.alias_only.pk}",
    }
    sessions = every(client, "Encounter", subject=group, status="finished")
    assert {r.id for r in sessions} == {str(world_a.held.pk), str(world_a.online.pk)}
    consents = every(client, "Consent", patient=f"Patient/{world_a.named.pk}")
    assert len(consents) == 3
    assert every(client, "Appointment", group=group, date__ge="2000-01-01")


@pytest.mark.django_db(transaction=True)
def test_karims_client_gets_404_and_empty_searches_for_institution_a(
    server, karim, world_a, world_b
):
    client = client_for(server, karim)
    for resource_type, resource_id in (
        ("Group", world_a.group.pk),
        ("Patient", world_a.named.pk),
        ("Encounter", f"{world_a.held.pk}-{world_a.named.pk}"),
        ("Organization", world_a.institution.pk),
    ):
        with pytest.raises(ResourceNotFound):
            client.reference(resource_type, str(resource_id)).to_resource()
        assert every(client, resource_type, _id=str(resource_id)) == []
    assert every(client, "Encounter", subject=f"Group/{world_a.group.pk}") == []


@pytest.mark.django_db(transaction=True)
def test_olgas_client_reads_no_names_and_no_patient_or_encounter(server, olga, world_a):
    client = client_for(server, olga)
    assert every(client, "Patient") == []
    assert every(client, "Encounter") == []
    with pytest.raises(ResourceNotFound):
        client.reference("Patient", str(world_a.named.pk)).to_resource()
    (group,) = every(client, "Group")
    assert group.get("member") is None
    text = str([r.serialize() for r in every(client, "Appointment")])
    assert world_a.named.legal_name not in text and world_a.named.alias not in text
