"""Fixtures for the FHIR facade: a small world in each institution, a client per persona, and
the R4 validation every resource the facade returns goes through."""

import datetime
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from attendance.models import AttendanceRecord, Consent, Enrollment
from sessions.models import GroupFacilitator, Session
from tests.factories import (
    AttendanceFactory,
    ConsentFactory,
    EnrollmentFactory,
    GroupFacilitatorFactory,
    ParticipantFactory,
    SessionFactory,
    UserFactory,
)

BASE = "/fhir/r4/"


def validate(resource: dict):
    """`resource` parsed by fhir.resources' R4 (4.0.1) model of its type: unknown elements,
    wrong types and missing required elements all fail. Bundles validate their entries too."""
    from fhir.resources import get_fhir_model_class

    model = get_fhir_model_class(resource["resourceType"])
    return model.parse_obj(resource)


@pytest.fixture
def fhir():
    """fhir(user) -> a client signed in as `user` (fhir(None): anonymous) whose .read(path)
    GETs a FHIR address, checks the answer's media type and caching, and returns the JSON
    validated as R4."""

    class Client(APIClient):
        def read(self, path, status=200, **headers):
            if path.startswith("http"):  # a link from a Bundle
                parts = urlparse(path)
                path = f"{parts.path}?{parts.query}"
            response = self.get(path if path.startswith("/") else BASE + path, **headers)
            assert response.status_code == status, (path, response.content[:500])
            assert response["Content-Type"].startswith("application/fhir+json")
            assert response["Cache-Control"] == "no-store"
            body = response.json()
            validate(body)
            return body

    def make(user):
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


def entries(bundle) -> list[dict]:
    return [entry["resource"] for entry in bundle.get("entry", [])]


def next_link(bundle) -> str | None:
    for link in bundle["link"]:
        if link["relation"] == "next":
            return link["url"]
    return None


def _world(institution, group, facilitator):
    now = timezone.now()
    co = UserFactory(username=f"co-{institution.pk}", first_name="Co", last_name="Leader")
    GroupFacilitatorFactory(group=group, user=co, role=GroupFacilitator.Role.CO_FACILITATOR)
    held = SessionFactory(
        group=group,
        sequence=1,
        starts_at=now - datetime.timedelta(days=7),
        status=Session.Status.HELD,
        online_link="",
    )
    online = SessionFactory(
        group=group,
        sequence=2,
        starts_at=now - datetime.timedelta(days=3),
        status=Session.Status.HELD,
    )
    cancelled = SessionFactory(
        group=group,
        sequence=3,
        starts_at=now - datetime.timedelta(days=1),
        status=Session.Status.CANCELLED,
        cancelled_by=Session.CancelledBy.FACILITATOR,
        cancellation_reason="The facilitator is ill.",
        cancelled_at=now - datetime.timedelta(days=2),
        cancelled_by_user=facilitator,
    )
    later = SessionFactory(
        group=group, sequence=4, starts_at=now + datetime.timedelta(days=7), online_link=""
    )
    named = EnrollmentFactory(group=group, created_by=facilitator)
    alias_only = EnrollmentFactory(group=group, created_by=facilitator)
    former = EnrollmentFactory(
        group=group,
        created_by=facilitator,
        status=Enrollment.Status.WITHDRAWN,
        joined_on=group.starts_on,
        left_on=timezone.localdate() - datetime.timedelta(days=5),
        end_reason="Moved away.",
    )
    named.participant.legal_name = "Janina Kowalska"
    named.participant.birth_year = 1980
    named.participant.language = "pl"
    named.participant.save()
    alias_only.participant.legal_name = "Hidden Name"  # no health-data consent: never shown
    alias_only.participant.save()
    health = ConsentFactory(
        participant=named.participant,
        recorded_by=facilitator,
        purpose=Consent.Purpose.HEALTH_DATA,
    )
    participation = ConsentFactory(
        participant=named.participant,
        recorded_by=facilitator,
        purpose=Consent.Purpose.PARTICIPATION,
        group=group,
    )
    disclosure = ConsentFactory(
        participant=named.participant,
        recorded_by=facilitator,
        purpose=Consent.Purpose.DISCLOSURE,
        recipient="District Court, Kraków",
        expires_at=now + datetime.timedelta(days=90),
    )
    withdrawn = ConsentFactory(
        participant=alias_only.participant,
        recorded_by=facilitator,
        purpose=Consent.Purpose.CONTACT,
        status=Consent.Status.WITHDRAWN,
        withdrawn_at=now - datetime.timedelta(days=2),
        withdrawn_by=facilitator,
    )
    marks = [
        AttendanceFactory(
            session=held,
            enrollment=named,
            participant=named.participant,
            recorded_by=facilitator,
            status=AttendanceRecord.Status.LATE,
            arrived_at=datetime.time(18, 10),
        ),
        AttendanceFactory(
            session=held,
            enrollment=alias_only,
            participant=alias_only.participant,
            recorded_by=facilitator,
            status=AttendanceRecord.Status.UNEXCUSED,
        ),
        AttendanceFactory(
            session=online,
            enrollment=named,
            participant=named.participant,
            recorded_by=facilitator,
        ),
    ]
    return SimpleNamespace(
        institution=institution,
        group=group,
        co=co,
        held=held,
        online=online,
        cancelled=cancelled,
        later=later,
        named=named.participant,
        alias_only=alias_only.participant,
        former=former.participant,
        outsider=ParticipantFactory(institution=institution),
        consents=[health, participation, disclosure, withdrawn],
        marks=marks,
    )


@pytest.fixture
def world_a(institution_a, group_a, anna):
    return _world(institution_a, group_a, anna)


@pytest.fixture
def world_b(institution_b, group_b, karim):
    return _world(institution_b, group_b, karim)
