"""A certificate does not reveal a diagnosis (SPEC): it names the institution and "a support
group"; the group's name appears only when the disclosure consent says it may."""

import pytest
from django.utils import translation

from attendance.models import Consent
from tests.factories import ConsentFactory

START, END = "2026-09-01", "2026-12-31"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def certificate_page(world, ewa, make_report, client, *, discloses_group):
    participant = world.participants[2]
    ConsentFactory(
        participant=participant,
        purpose=Consent.Purpose.DISCLOSURE,
        recipient="Court",
        discloses_group=discloses_group,
    )
    run = make_report(
        "attendance_certificate",
        ewa,
        participant=participant.pk,
        group=world.group.pk,
        recipient="Court",
        start=START,
        end=END,
    )
    assert run.status == "ready", run.error
    return client.get(f"/verify/{run.verification_code}/").content.decode()


def test_a_certificate_says_a_support_group_without_the_consents_leave(
    world, ewa, make_report, client
):
    page = certificate_page(world, ewa, make_report, client, discloses_group=False)

    assert "a support group" in page
    assert world.group.name not in page


def test_a_certificate_names_the_group_when_the_disclosure_consent_allows_it(
    world, ewa, make_report, client
):
    page = certificate_page(world, ewa, make_report, client, discloses_group=True)

    assert world.group.name in page
