"""Withdrawing the participation consent ends membership (SPEC): the person's active
memberships and waiting places in that institution end at once (reason: consent withdrawn) and
they leave future rosters. Erasure ends every membership the same way."""

import datetime

import pytest
from django.utils import timezone, translation

from attendance.models import Consent, Enrollment
from attendance.services import consent_withdraw, session_roster
from clinics.services import participant_erase

from .factories import (
    ConsentFactory,
    EnrollmentFactory,
    GroupFactory,
    ParticipantFactory,
    SessionFactory,
)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def member(group_a, institution_a):
    """A member of group_a and waiting for another group, with a general participation consent."""
    participant = ParticipantFactory(institution=institution_a)
    consent = ConsentFactory(participant=participant, purpose=Consent.Purpose.PARTICIPATION)
    active = EnrollmentFactory(group=group_a, participant=participant)
    other = GroupFactory(institution=institution_a)
    waiting = EnrollmentFactory(
        group=other, participant=participant, status="waitlisted", joined_on=None
    )
    coming = SessionFactory(group=group_a, starts_at=timezone.now() + datetime.timedelta(days=3))
    return participant, consent, active, waiting, coming


def test_withdrawing_participation_ends_memberships_and_waiting_places_at_once(member, marek):
    participant, consent, active, waiting, coming = member
    assert active in session_roster(coming)

    consent_withdraw(consent=consent, by=marek, reason="Does not want to continue")

    active.refresh_from_db()
    waiting.refresh_from_db()
    assert (active.status, active.end_reason) == (
        "withdrawn",
        "Consent to participation withdrawn.",
    )
    assert active.left_on == timezone.localdate()
    assert waiting.status == "withdrawn"
    assert active not in session_roster(coming)


def test_a_group_consent_left_in_force_keeps_that_membership(member, marek, group_a):
    participant, consent, active, waiting, coming = member
    ConsentFactory(participant=participant, purpose=Consent.Purpose.PARTICIPATION, group=group_a)

    consent_withdraw(consent=consent, by=marek)

    assert Enrollment.objects.get(pk=active.pk).status == "active"
    assert Enrollment.objects.get(pk=waiting.pk).status == "withdrawn"


def test_erasure_ends_every_membership(member, ewa):
    participant, consent, active, waiting, coming = member

    participant_erase(participant=participant, by=ewa, reason="Request")

    assert set(
        Enrollment.objects.filter(participant=participant).values_list("status", flat=True)
    ) == {"withdrawn"}
    assert not session_roster(coming)
