"""The rules of session notes: written and read by the group's facilitators only, private notes
for their author alone, signed notes locked (changes are addenda), edits keep history."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation

from audit.models import AuditEvent
from sessions.models import NoteAddendum, NoteRevision, Session, SessionNote
from sessions.services import note_add_addendum, note_sign, note_write

from .factories import (
    EnrollmentFactory,
    GroupFacilitatorFactory,
    MembershipFactory,
    ParticipantFactory,
    SessionFactory,
    UserFactory,
)

NOT_A_FACILITATOR = (
    "Only the group's lead, co-facilitators and trainees write its session notes; "
    "ask the lead to change your role in the group."
)
LOCKED = "This note is signed and locked; add an addendum instead."


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def session(group_a):
    """A session that took place (notes are signed once their session is held)."""
    return SessionFactory(group=group_a, status=Session.Status.HELD)


def member(session):
    """A participant on the session's roster (participant notes are about members only)."""
    return EnrollmentFactory(group=session.group).participant


@pytest.fixture
def piotr(institution_a, group_a):
    """A co-facilitator of group_a."""
    user = UserFactory(username="piotr")
    MembershipFactory(user=user, institution=institution_a, role="facilitator")
    GroupFacilitatorFactory(group=group_a, user=user, role="co_facilitator")
    return user


def test_a_facilitator_writes_the_group_note_whose_theme_stays_inside_it(session, anna):
    note = note_write(session=session, by=anna, text=" We talked about sleep. ", theme="Sleep")

    assert (note.kind, note.author, note.text, note.theme) == (
        "group",
        anna,
        "We talked about sleep.",
        "Sleep",
    )
    session.refresh_from_db()
    assert session.theme == ""  # auditors and calendar feeds see sessions, never notes
    event = AuditEvent.objects.get()
    assert (event.action, event.details, event.institution) == (
        "note.created",
        {"kind": "group"},
        session.institution,
    )


def test_only_the_groups_facilitators_write_notes(session, ewa, marek):
    for user in (ewa, marek):
        with pytest.raises(PermissionDenied) as exc:
            note_write(session=session, by=user, text="Hello")
        assert str(exc.value) == NOT_A_FACILITATOR
    assert not SessionNote.objects.exists()


def test_the_auditor_and_another_institution_write_no_notes(session, olga, karim):
    for user in (olga, karim):
        with pytest.raises(PermissionDenied, match="write session notes"):
            note_write(session=session, by=user, text="Hello")


def test_the_sessions_substitute_writes_its_notes(session, institution_a):
    substitute = UserFactory(username="sub")
    MembershipFactory(user=substitute, institution=institution_a, role="facilitator")
    Session.objects.filter(pk=session.pk).update(substitute_facilitator=substitute)
    session.refresh_from_db()

    note = note_write(session=session, by=substitute, text="Covered for Anna.")

    assert note.author == substitute
    other = SessionFactory(group=session.group)
    with pytest.raises(PermissionDenied):
        note_write(session=other, by=substitute, text="Not mine.")


def test_a_cancelled_session_has_no_notes(group_a, anna):
    cancelled = SessionFactory(group=group_a, status=Session.Status.CANCELLED)

    with pytest.raises(ValidationError) as exc:
        note_write(session=cancelled, by=anna, text="Hello")

    assert exc.value.messages == ["A cancelled session has no notes."]


def test_a_note_needs_text_a_known_kind_and_its_participant(session, anna, institution_b):
    with pytest.raises(ValidationError) as exc:
        note_write(session=session, by=anna, text="  ")
    assert exc.value.message_dict == {"text": ["The note is empty."]}
    with pytest.raises(ValidationError) as exc:
        note_write(session=session, by=anna, text="x", kind="diary")
    assert exc.value.message_dict == {"kind": ["Unknown kind of note."]}
    with pytest.raises(ValidationError) as exc:
        note_write(session=session, by=anna, text="x", kind="participant")
    assert exc.value.message_dict == {"participant": ["Say whom the note is about."]}
    with pytest.raises(ValidationError) as exc:
        note_write(
            session=session,
            by=anna,
            text="x",
            kind="participant",
            participant=ParticipantFactory(institution=institution_b),
        )
    assert exc.value.message_dict == {"participant": ["Unknown participant."]}
    assert not AuditEvent.objects.exists()


def test_an_edit_of_an_unsigned_note_keeps_the_earlier_text(session, anna, piotr):
    note = note_write(session=session, by=anna, text="First draft", theme="Grief")

    edited = note_write(session=session, by=piotr, text="Second draft", theme="Loss")

    assert edited.pk == note.pk
    assert (edited.text, edited.theme, edited.author) == ("Second draft", "Loss", anna)
    revision = NoteRevision.objects.get()
    assert (revision.text, revision.theme, revision.edited_by) == ("First draft", "Grief", piotr)
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "note.created",
        "note.changed",
    ]


def test_a_signed_note_cannot_be_edited_only_amended(session, anna):
    note = note_write(session=session, by=anna, text="Signed text")
    note_sign(note=note, by=anna)
    events = AuditEvent.objects.count()

    with pytest.raises(ValidationError) as exc:
        note_write(session=session, by=anna, text="Changed text")

    assert exc.value.message_dict == {"text": [LOCKED]}
    note.refresh_from_db()
    assert note.text == "Signed text"
    assert AuditEvent.objects.count() == events
    addendum = note_add_addendum(note=note, by=anna, text=" Forgot: K. arrived late. ")
    assert (addendum.text, addendum.author) == ("Forgot: K. arrived late.", anna)
    assert AuditEvent.objects.order_by("-id").first().action == "note.addendum"


def test_signing_records_who_and_when_once(session, anna):
    note = note_write(session=session, by=anna, text="Text")

    signed = note_sign(note=note, by=anna)

    assert (signed.signed_by, signed.is_signed) == (anna, True)
    with pytest.raises(ValidationError) as exc:
        note_sign(note=signed, by=anna)
    assert exc.value.messages == ["This note is already signed."]
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "note.created",
        "note.signed",
    ]


def test_addenda_are_for_signed_notes_and_not_empty(session, anna):
    note = note_write(session=session, by=anna, text="Text")
    with pytest.raises(ValidationError) as exc:
        note_add_addendum(note=note, by=anna, text="More")
    assert exc.value.messages == [
        "An unsigned note can still be edited; addenda are for signed notes."
    ]

    note_sign(note=note, by=anna)
    with pytest.raises(ValidationError) as exc:
        note_add_addendum(note=note, by=anna, text=" ")
    assert exc.value.message_dict == {"text": ["The addendum is empty."]}
    assert not NoteAddendum.objects.exists()


def test_each_facilitator_has_their_own_private_note(session, anna, piotr):
    mine = note_write(session=session, by=anna, text="My worry about K.", kind="private")
    theirs = note_write(session=session, by=piotr, text="Piotr's thoughts", kind="private")

    assert mine.pk != theirs.pk
    assert not NoteRevision.objects.exists()


def test_a_private_note_is_signed_and_amended_by_its_author_alone(session, anna, piotr):
    note = note_write(session=session, by=anna, text="Private", kind="private")

    with pytest.raises(PermissionDenied) as exc:
        note_sign(note=note, by=piotr)
    assert str(exc.value) == "A private note is for its author alone."
    note_sign(note=note, by=anna)
    with pytest.raises(PermissionDenied):
        note_add_addendum(note=note, by=piotr, text="Mine too")


def test_a_participant_note_is_one_per_participant_and_session(session, anna):
    participant = member(session)

    first = note_write(
        session=session, by=anna, text="Calm", kind="participant", participant=participant
    )
    again = note_write(
        session=session, by=anna, text="Calmer", kind="participant", participant=participant
    )

    assert first.pk == again.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        SessionNote.objects.create(
            session=session, kind="participant", participant=participant, author=anna, text="x"
        )


def test_the_database_keeps_one_group_note_and_participants_on_participant_notes(session, anna):
    note_write(session=session, by=anna, text="Group")

    with pytest.raises(IntegrityError), transaction.atomic():
        SessionNote.objects.create(session=session, kind="group", author=anna, text="Another")
    with pytest.raises(IntegrityError), transaction.atomic():
        SessionNote.objects.create(session=session, kind="participant", author=anna, text="Who?")


# --- Who reads ---------------------------------------------------------------------------------


@pytest.fixture
def notes(session, anna, piotr):
    participant = member(session)
    return {
        "group": note_write(session=session, by=anna, text="Group"),
        "participant": note_write(
            session=session, by=anna, text="About K.", kind="participant", participant=participant
        ),
        "anna_private": note_write(session=session, by=anna, text="Anna's", kind="private"),
        "piotr_private": note_write(session=session, by=piotr, text="Piotr's", kind="private"),
    }


def readable(user, notes):
    ids = set(SessionNote.objects.readable_by(user).values_list("pk", flat=True))
    return sorted(name for name, note in notes.items() if note.pk in ids)


def test_facilitators_read_the_shared_notes_and_their_own_private_ones(notes, anna, piotr):
    assert readable(anna, notes) == ["anna_private", "group", "participant"]
    assert readable(piotr, notes) == ["group", "participant", "piotr_private"]


def test_admins_staff_auditors_and_other_institutions_read_no_notes(notes, ewa, marek, olga, karim):
    for user in (ewa, marek, olga, karim):
        assert readable(user, notes) == []


def test_an_auditor_reads_no_notes_even_when_listed_as_a_facilitator(notes, group_a, olga):
    GroupFacilitatorFactory(group=group_a, user=olga, role="observer")

    assert readable(olga, notes) == []


def test_a_former_member_of_staff_reads_no_notes(notes, anna):
    anna.memberships.update(is_active=False)
    next_request_user = type(anna).objects.get(pk=anna.pk)  # roles are read once per request

    assert readable(next_request_user, notes) == []


def test_the_substitute_reads_only_that_sessions_notes(notes, session, institution_a, anna):
    substitute = UserFactory(username="sub")
    MembershipFactory(user=substitute, institution=institution_a, role="facilitator")
    Session.objects.filter(pk=session.pk).update(substitute_facilitator=substitute)
    other = SessionFactory(group=session.group)
    other_note = note_write(session=other, by=anna, text="Next week")

    assert readable(substitute, {**notes, "other": other_note}) == ["group", "participant"]
