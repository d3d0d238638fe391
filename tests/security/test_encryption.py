"""Encryption at rest: legal names and session notes are unreadable in the database, readable
through the application, and survive a key rotation."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from audit.models import AuditEvent
from clinics.fields import DecryptionError, check_encryption_keys
from clinics.models import Participant
from sessions.models import NoteAddendum, NoteRevision, SessionNote
from sessions.services import note_add_addendum, note_sign, note_write
from tests.factories import ParticipantFactory, SessionFactory

NAME = "Zofia Wiśniewska"
NOTE = "The group talked about the first winter without him."
THEME = "Anniversaries"


def raw_values(model, *columns) -> list[tuple]:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608
        return cursor.fetchall()


def raw_text_of_all_tables() -> str:
    """Every text value of the encrypted tables, as the database holds it."""
    out = []
    for model in (Participant, SessionNote, NoteRevision, NoteAddendum):
        columns = [f.column for f in model._meta.concrete_fields]
        out.extend(str(v) for row in raw_values(model, *columns) for v in row)
    return "\n".join(out)


@pytest.fixture
def notes(anna, group_a):
    session = SessionFactory(group=group_a, status="held")
    note = note_write(session=session, by=anna, text="A first draft.", theme="Draft")
    note = note_write(session=session, by=anna, text=NOTE, theme=THEME)
    note = note_sign(note=note, by=anna)
    note_add_addendum(note=note, by=anna, text="Added later: the second winter too.")
    return note


@pytest.fixture
def participant(institution_a):
    return ParticipantFactory(institution=institution_a, legal_name=NAME)


def test_the_database_holds_no_plaintext_of_names_and_notes(participant, notes):
    raw = raw_text_of_all_tables()
    for secret in (NAME, NOTE, THEME, "A first draft.", "Draft", "second winter"):
        assert secret not in raw
    [(stored_name,)] = raw_values(Participant, "legal_name")
    assert stored_name.startswith("gAAAAA")  # a Fernet token


def test_the_application_reads_names_and_notes_in_plaintext(participant, notes):
    assert Participant.objects.get(pk=participant.pk).legal_name == NAME
    note = SessionNote.objects.get(pk=notes.pk)
    assert (note.text, note.theme) == (NOTE, THEME)
    assert list(note.revisions.values_list("text", "theme")) == [("A first draft.", "Draft")]
    assert note.addenda.get().text == "Added later: the second winter too."


def test_an_empty_value_stays_empty_so_blank_checks_still_work(institution_a):
    anonymous = ParticipantFactory(institution=institution_a, legal_name="")
    assert raw_values(Participant, "legal_name") == [("",)]
    assert Participant.objects.filter(legal_name="").get() == anonymous


def test_a_legal_name_longer_than_200_characters_is_refused(institution_a):
    participant = ParticipantFactory.build(institution=institution_a, legal_name="x" * 201)
    with pytest.raises(ValidationError) as exc:
        participant.full_clean(exclude=["number", "code"])
    assert "legal_name" in exc.value.message_dict


def test_rotation_reencrypts_with_the_new_key_and_the_old_key_can_then_be_dropped(
    participant, notes, settings
):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    before = raw_values(SessionNote, "text")

    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, old_key]):
        # Both keys configured: old rows still read before the rotation runs.
        assert Participant.objects.get(pk=participant.pk).legal_name == NAME
        call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert raw_values(SessionNote, "text") != before
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):
        assert Participant.objects.get(pk=participant.pk).legal_name == NAME
        note = SessionNote.objects.get(pk=notes.pk)
        assert (note.text, note.theme) == (NOTE, THEME)
        assert note.addenda.get().text.startswith("Added later")
        assert note.revisions.get().text == "A first draft."


def test_rotation_does_not_touch_updated_at_and_is_audited(participant):
    before = Participant.objects.get(pk=participant.pk).updated_at
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Participant.objects.get(pk=participant.pk).updated_at == before
    event = AuditEvent.objects.get(action="encryption.keys_rotated")
    assert event.details["rows"]["clinics.Participant"] == 1


def test_a_value_is_unreadable_without_its_key(participant):
    with override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
        with pytest.raises(DecryptionError, match="rotate_encryption_keys"):
            Participant.objects.get(pk=participant.pk)


def test_malformed_keys_are_reported_by_the_system_check():
    with override_settings(FIELD_ENCRYPTION_KEYS=["not-a-key"]):
        [error] = check_encryption_keys()
    assert error.id == "clinics.E001"
    assert check_encryption_keys() == []


def test_the_command_generates_a_usable_key(capsys):
    call_command("rotate_encryption_keys", "--generate-key")
    key = capsys.readouterr().out.strip()
    assert Fernet(key.encode())


def test_the_migration_encrypts_rows_written_in_plaintext_and_skips_encrypted_ones(institution_a):
    from types import SimpleNamespace

    from django.apps import apps

    from clinics.fields import encrypt_columns

    plain = ParticipantFactory(institution=institution_a)
    already = ParticipantFactory(institution=institution_a, legal_name="Jan Kowalski")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE clinics_participant SET legal_name = %s WHERE id = %s", [NAME, plain.pk]
        )
    token_before = dict(raw_values(Participant, "id", "legal_name"))[already.pk]
    forward, backward = encrypt_columns("clinics.Participant", "legal_name")

    forward(apps, SimpleNamespace(connection=connection))

    stored = dict(raw_values(Participant, "id", "legal_name"))
    assert NAME not in stored.values()
    assert stored[already.pk] == token_before
    assert Participant.objects.get(pk=plain.pk).legal_name == NAME
    backward(apps, SimpleNamespace(connection=connection))
    assert dict(raw_values(Participant, "id", "legal_name"))[plain.pk] == NAME
