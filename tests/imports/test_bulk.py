"""The bulk write path of an import: participant_register_many and consent_grant_many refuse
what participant_register and consent_grant refuse (they share their checks), write the same
records and audit events, keep names encrypted, and cost statements per batch, not per row."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attendance.models import Consent, ConsentText
from attendance.services import consent_grant, consent_grant_many
from audit.models import AuditEvent
from clinics.fields import decrypt_str
from clinics.models import Participant
from clinics.services import Refused, participant_register, participant_register_many
from imports import participants as participant_import
from imports.models import ImportJob
from imports.services import import_apply, import_upload
from tests.factories import ConsentFactory, ParticipantFactory

from .conftest import upload

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _consent(purpose, **extra):
    return {
        "purpose": purpose,
        "method": "signed_form",
        "text_version": "v1",
        "granted_at": timezone.now() - 30 * DAY,
        **extra,
    }


HEALTH, CONTACT = _consent("health_data"), _consent("contact")

# (what is asked, the fields the refusal names)
REFUSALS = {
    "a name without the health-data consent": (
        {"alias": "Ala", "legal_name": "Alicja Nowak", "consents": [_consent("participation")]},
        {"legal_name"},
    ),
    "an e-mail and a year of birth without it": (
        {"alias": "Ala", "email": "a@example.org", "birth_year": 1980},
        {"email", "birth_year"},
    ),
    "reminders without the contact consent": (
        {
            "alias": "Ala",
            "email": "a@example.org",
            "reminder_channel": "email",
            "consents": [HEALTH],
        },
        {"reminder_channel"},
    ),
    "e-mail reminders without an address": (
        {"alias": "Ala", "reminder_channel": "email", "consents": [HEALTH, CONTACT]},
        {"email"},
    ),
    "a consent text version the institution does not have": (
        {"alias": "Ala", "consents": [_consent("health_data", text_version="v9")]},
        {"text_version"},
    ),
    "a consent without its text version": (
        {"alias": "Ala", "consents": [_consent("research", text_version="")]},
        {"text_version"},
    ),
    "a consent granted in the future": (
        {"alias": "Ala", "consents": [_consent("research", granted_at=timezone.now() + DAY)]},
        {"granted_at"},
    ),
    "a disclosure without its recipient": (
        {"alias": "Ala", "consents": [_consent("disclosure")]},
        {"recipient"},
    ),
    "the same consent twice": (
        {"alias": "Ala", "consents": [HEALTH, HEALTH]},
        {"purpose"},
    ),
    "no alias": ({"alias": "  "}, {"alias"}),
    "an alias too long": ({"alias": "A" * 101}, {"alias"}),
    "a field the client may not set": ({"alias": "Ala", "number": 7}, {"number"}),
    "a wrong e-mail address": (
        {"alias": "Ala", "email": "not-an-address", "consents": [HEALTH]},
        {"email"},
    ),
}


@pytest.fixture
def texts(institution_a, ewa):
    """The institution keeps a health-data text "v1" (so another version is refused)."""
    ConsentText.objects.create(
        institution=institution_a,
        purpose="health_data",
        language="pl",
        version="v1",
        body="Zgoda…",
        valid_from=datetime.date(2026, 1, 1),
        created_by=ewa,
    )


def _register(path, institution, by, entry) -> ValidationError | Participant:
    if path == "single":
        entry = dict(entry)
        try:
            return participant_register(institution=institution, by=by, **entry)
        except ValidationError as exc:
            return exc
    [outcome] = participant_register_many(institution=institution, by=by, people=[entry])
    return outcome.error if isinstance(outcome, Refused) else outcome


@pytest.mark.parametrize("path", ["single", "bulk"])
@pytest.mark.parametrize("case", list(REFUSALS))
def test_the_bulk_registration_refuses_what_the_single_one_refuses(
    path, case, ewa, institution_a, texts
):
    entry, fields = REFUSALS[case]
    outcome = _register(path, institution_a, ewa, entry)
    assert isinstance(outcome, ValidationError), outcome
    assert set(outcome.message_dict) == fields
    assert not Participant.objects.exists()
    assert not Consent.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["participant.registered", "consent.granted"])


@pytest.mark.parametrize("case", list(REFUSALS))
def test_both_paths_refuse_in_the_same_words_and_codes(case, ewa, institution_a, texts):
    entry, _fields = REFUSALS[case]
    single = _register("single", institution_a, ewa, entry)
    bulk = _register("bulk", institution_a, ewa, entry)

    def said(exc):
        return {f: sorted((e.code, m) for e in es for m in e.messages) for f, es in
                exc.error_dict.items()}  # fmt: skip

    assert said(single) == said(bulk)


def test_a_refused_entry_names_the_consent_it_was_and_the_others_are_written(ewa, institution_a):
    people = [
        {"alias": "Ala", "legal_name": "Alicja Nowak", "consents": [HEALTH]},
        {"alias": "Ola", "consents": [_consent("participation"), _consent("disclosure")]},
        {"alias": "Ela", "email": "e@example.org", "reminder_channel": "email",
         "consents": [HEALTH, CONTACT]},
    ]  # fmt: skip
    ala, refused, ela = participant_register_many(institution=institution_a, by=ewa, people=people)
    assert isinstance(refused, Refused) and refused.consent == 1
    assert (ala.code, ela.code) == ("P-00001", "P-00002")  # refused entries draw no number
    institution_a.refresh_from_db()
    assert institution_a.last_participant_number == 2
    assert list(Participant.objects.values_list("alias", flat=True)) == ["Ala", "Ela"]
    assert Consent.objects.count() == 3


def test_the_bulk_path_writes_what_the_single_one_writes_and_the_same_audit_events(
    ewa, institution_a
):
    entry = {
        "alias": "Ala",
        "legal_name": "Alicja Nowak",
        "email": "a@example.org",
        "reminder_channel": "email",
        "consents": [HEALTH, CONTACT],
    }
    single = participant_register(institution=institution_a, by=ewa, **entry)
    [bulk] = participant_register_many(institution=institution_a, by=ewa, people=[entry])

    def written(person):
        person = Participant.objects.get(pk=person.pk)
        consents = sorted(
            person.consents.values_list("purpose", "method", "text_version", "granted_at")
        )
        about = Q(object_type="clinics.participant", object_id=str(person.pk)) | Q(
            object_type="attendance.consent",
            object_id__in=[str(c.pk) for c in person.consents.all()],
        )
        events = [
            (e.action, e.actor_id, e.institution_id, e.object_type, e.details)
            for e in AuditEvent.objects.filter(about).order_by("pk")
        ]
        for event in events:
            event[4].pop("participant", None)  # each names its own code
        fields = [getattr(person, f) for f in ("alias", "legal_name", "email", "reminder_channel")]
        return fields, consents, events

    assert written(single) == written(bulk)
    assert [e[0] for e in written(bulk)[2]] == [
        "consent.granted",
        "consent.granted",
        "participant.registered",
    ]
    assert (
        AuditEvent.objects.get(
            action="participant.registered", object_id=str(bulk.pk)
        ).actor_username
        == "ewa"
    )


def test_names_stay_encrypted_at_rest_after_a_bulk_insert(ewa, institution_a):
    [person] = participant_register_many(
        institution=institution_a,
        by=ewa,
        people=[{"alias": "Ala", "legal_name": "Alicja Żółć", "consents": [HEALTH]}],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT legal_name FROM {Participant._meta.db_table} WHERE id = %s",  # noqa: S608
            [person.pk],
        )
        [stored] = cursor.fetchone()
    assert "Alicja" not in stored and stored.startswith("gAAAA")  # a Fernet token
    assert decrypt_str(stored) == "Alicja Żółć"
    assert Participant.objects.get(pk=person.pk).legal_name == "Alicja Żółć"


def test_the_bulk_grant_refuses_what_consent_grant_refuses(ewa, institution_a, texts):
    person = ParticipantFactory(institution=institution_a)
    erased = ParticipantFactory(institution=institution_a, erased_at=timezone.now())
    ConsentFactory(participant=person, purpose="participation", recorded_by=ewa)
    grants = [
        {"participant": person, **_consent("participation")},  # in force already
        {"participant": person, **_consent("health_data", text_version="v9")},
        {"participant": erased, **_consent("research")},
        {"participant": person, **_consent("research", recipient="Sąd")},
        {"participant": person, **_consent("disclosure", recipient="Sąd Rejonowy")},
        {"participant": person, **_consent("disclosure", recipient="sąd rejonowy")},  # same one
    ]
    singles = []
    for grant in grants:
        grant = dict(grant)
        try:
            consent_grant(by=ewa, **grant)
            singles.append(None)
        except ValidationError as exc:
            singles.append(exc.messages)
    written_alone = list(Consent.objects.values_list("purpose", "recipient").order_by("pk"))
    Consent.objects.exclude(pk=Consent.objects.earliest("pk").pk).delete()
    outcomes = consent_grant_many(grants=grants, by=ewa)
    bulk = [o.error.messages if isinstance(o, Refused) else None for o in outcomes]
    assert bulk == singles
    assert bulk[4] is None and all(bulk[i] for i in (0, 1, 2, 3, 5))
    assert list(Consent.objects.values_list("purpose", "recipient").order_by("pk")) == (
        written_alone
    )
    assert AuditEvent.objects.filter(action="consent.granted").count() == 2  # one each way


def _participants_file(rows: int, first: int = 1) -> str:
    lines = [
        "id,alias,legal_name,email,reminder_channel,"
        "consent_participation_date,consent_participation_version,"
        "consent_health_data_date,consent_health_data_version,"
        "consent_contact_date,consent_contact_version"
    ]
    lines += [
        f"B-{n},Osoba {n},Imię Nazwisko {n},osoba{n}@example.org,email,"
        "2026-09-01,v1,2026-09-01,v1,2026-09-01,v1"
        for n in range(first, first + rows)
    ]
    return "\n".join(lines) + "\n"


def _apply_counting(ewa, content: str) -> tuple[ImportJob, int]:
    job = import_upload(kind="participants", file=upload("p.csv", content), by=ewa)
    assert job.status == "preview", job.problems
    with CaptureQueriesContext(connection) as queries:
        job = import_apply(job=job, by=ewa)
    return job, len(queries)


def test_the_statements_of_an_import_grow_with_its_batches_not_its_rows(ewa, settings, monkeypatch):
    monkeypatch.setattr(participant_import, "BATCH", 20)
    settings.IMPORT_BACKGROUND_ROWS = 1000
    rows = 40  # 2 batches, then 160: 8 batches
    small, small_queries = _apply_counting(ewa, _participants_file(rows))
    large, large_queries = _apply_counting(ewa, _participants_file(4 * rows, first=1000))
    assert (small.status, small.created, large.status, large.created) == (
        "done",
        rows,
        "done",
        4 * rows,
    )
    # Each batch: its savepoint, the lock and its number block, each consent purpose's texts
    # once, one insert per table (people, consents — two on SQLite, whose statements take
    # fewer parameters —, audit events, the file's ids); and a dozen for the import itself.
    per_batch = (large_queries - small_queries) / 6
    assert per_batch <= 13, (small_queries, large_queries)
    assert small_queries <= 2 * 13 + 20, small_queries
    assert large_queries < large.rows  # even in batches of 20, fewer statements than rows
    assert Participant.objects.count() == 5 * rows
    assert Consent.objects.count() == 3 * 5 * rows
    registered = AuditEvent.objects.filter(action="participant.registered").count()
    assert registered == 5 * rows
    assert AuditEvent.objects.filter(action="consent.granted").count() == 3 * 5 * rows

    # The same file again: every row matched, nothing written, two reads a batch.
    again, again_queries = _apply_counting(ewa, _participants_file(4 * rows, first=1000))
    assert (again.status, again.created, again.updated, again.unchanged) == (
        "done",
        0,
        0,
        4 * rows,
    )
    assert again_queries <= 8 * 2 + 18, again_queries
    assert Participant.objects.count() == 5 * rows
    assert AuditEvent.objects.filter(action="participant.registered").count() == registered


def test_a_refusal_in_a_later_batch_is_reported_by_row_and_column_and_nothing_is_written(
    ewa, settings, monkeypatch, texts
):
    monkeypatch.setattr(participant_import, "BATCH", 5)
    settings.IMPORT_BACKGROUND_ROWS = 1000
    content = _participants_file(12)
    job = import_upload(kind="participants", file=upload("p.csv", content), by=ewa)
    assert job.status == "preview", job.problems
    # Between preview and import, the institution's health-data text "v1" is replaced by "v2":
    # the bulk grant refuses every row's "v1" (the check before the services cannot know).
    ConsentText.objects.filter(purpose="health_data").update(version="v2")
    job = import_apply(job=job, by=ewa)
    assert job.status == "invalid"
    assert {p["column"] for p in job.problems} == {"consent_health_data_version"}
    assert [p["row"] for p in job.problems] == list(range(2, 14))
    assert not Participant.objects.exists() and not Consent.objects.exists()
