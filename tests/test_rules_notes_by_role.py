"""Notes follow the facilitator's role (SPEC): an observer reads and writes nothing; a trainee
writes and signs, and the note locks when a lead, a co-facilitator or a supervisor co-signs
(audited, shown on the note, listed on their Today screen and through the API); notes belong to
sessions that have begun and are signed once held; a participant note is about a member."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from audit.models import AuditEvent
from sessions.models import Session, SessionNote
from sessions.policies import can_read_note
from sessions.services import note_add_addendum, note_cosign, note_sign, note_write

from .factories import (
    EnrollmentFactory,
    GroupFacilitatorFactory,
    MembershipFactory,
    ParticipantFactory,
    SessionFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def held(group_a):
    return SessionFactory(group=group_a, status=Session.Status.HELD)


def colleague(institution, group, username, role, **membership):
    user = UserFactory(username=username)
    MembershipFactory(user=user, institution=institution, role="facilitator", **membership)
    if group is not None:
        GroupFacilitatorFactory(group=group, user=user, role=role)
    return user


@pytest.fixture
def piotr_observer(institution_a, group_a):
    return colleague(institution_a, group_a, "piotr", "observer")


@pytest.fixture
def piotr_trainee(institution_a, group_a):
    return colleague(institution_a, group_a, "piotr", "trainee")


def test_an_observer_reads_and_writes_no_notes(held, anna, piotr_observer):
    note = note_write(session=held, by=anna, text="Group")

    with pytest.raises(PermissionDenied):
        note_write(session=held, by=piotr_observer, text="Mine")
    assert not SessionNote.objects.readable_by(piotr_observer).exists()
    assert not can_read_note(piotr_observer, note)


def test_a_trainees_signature_waits_for_a_co_signature_and_does_not_lock(held, anna, piotr_trainee):
    note = note_write(session=held, by=piotr_trainee, text="Trainee's account")
    signed = note_sign(note=note, by=piotr_trainee)

    assert signed.awaits_cosignature and not signed.is_signed
    assert list(SessionNote.objects.awaiting_cosignature_by(anna)) == [signed]
    assert not SessionNote.objects.awaiting_cosignature_by(piotr_trainee).exists()
    with pytest.raises(PermissionDenied):
        note_cosign(note=signed, by=piotr_trainee)

    locked = note_cosign(note=signed, by=anna)

    assert locked.is_signed and locked.cosigned_by == anna
    event = AuditEvent.objects.get(action="note.cosigned")
    assert (event.actor, event.details) == (anna, {"signed_by": piotr_trainee.pk})
    with pytest.raises(ValidationError, match="signed and locked"):
        note_write(session=held, by=piotr_trainee, text="Changed")
    note_add_addendum(note=locked, by=piotr_trainee, text="Later")


def test_the_institutions_supervisor_co_signs_without_facilitating_the_group(
    held, institution_a, piotr_trainee
):
    supervisor = colleague(institution_a, None, "zofia", None, is_supervisor=True)
    note = note_sign(note=note_write(session=held, by=piotr_trainee, text="T"), by=piotr_trainee)

    assert list(SessionNote.objects.awaiting_cosignature_by(supervisor)) == [note]
    assert note_cosign(note=note, by=supervisor).cosigned_by == supervisor


def test_an_observer_or_a_plain_colleague_cannot_co_sign(
    held, institution_a, piotr_trainee, group_a
):
    observer = colleague(institution_a, group_a, "olek", "observer")
    other = colleague(institution_a, None, "jan", None)
    note = note_sign(note=note_write(session=held, by=piotr_trainee, text="T"), by=piotr_trainee)

    for user in (observer, other):
        with pytest.raises(PermissionDenied):
            note_cosign(note=note, by=user)


def test_a_lead_signs_and_locks_at_once(held, anna):
    note = note_sign(note=note_write(session=held, by=anna, text="Lead"), by=anna)

    assert note.is_signed and not note.needs_cosignature


def test_notes_belong_to_sessions_that_have_begun_and_sign_once_held(group_a, anna):
    coming = SessionFactory(group=group_a, starts_at=timezone.now() + datetime.timedelta(days=1))
    begun = SessionFactory(group=group_a)  # began an hour ago, attendance not taken yet

    with pytest.raises(ValidationError, match="has not begun"):
        note_write(session=coming, by=anna, text="Too early")
    note = note_write(session=begun, by=anna, text="Written during the session")
    with pytest.raises(ValidationError, match="once its session is held"):
        note_sign(note=note, by=anna)


def test_a_participant_note_is_only_about_a_member_of_the_group(held, anna, institution_a):
    stranger = ParticipantFactory(institution=institution_a)
    member = EnrollmentFactory(group=held.group).participant

    with pytest.raises(ValidationError) as exc:
        note_write(session=held, by=anna, text="x", kind="participant", participant=stranger)
    assert "participant" in exc.value.message_dict
    assert note_write(session=held, by=anna, text="ok", kind="participant", participant=member)


def test_the_co_sign_list_is_on_today_and_in_the_api(client, held, anna, piotr_trainee):
    note = note_sign(note=note_write(session=held, by=piotr_trainee, text="T"), by=piotr_trainee)
    client.force_login(anna)

    page = client.get(reverse("staff:today")).content.decode()
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(anna)
    listed = api.get("/api/v1/notes/awaiting-cosignature/")
    cosigned = api.post(f"/api/v1/notes/{note.pk}/cosign/")

    assert reverse("staff:note_cosign", args=[note.pk]) in page
    assert listed.status_code == 200, listed.content
    assert [n["id"] for n in listed.json()["results"]] == [note.pk]
    assert cosigned.status_code == 200, cosigned.content
    assert cosigned.json()["cosigned_by"]["id"] == anna.pk
    note.refresh_from_db()
    assert note.is_signed
