"""Importing through the services: preview, all or nothing, again without duplicates."""

import hashlib

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from attendance.models import AttendanceRecord, Consent
from audit.models import AuditEvent
from clinics.models import Participant
from imports.services import import_apply, import_upload
from tests.factories import ParticipantFactory

from .conftest import SAMPLES, sample, upload

pytestmark = pytest.mark.django_db


def test_the_english_sample_registers_three_participants_with_their_paper_consents(ewa):
    job = import_upload(kind="participants", file=sample("participants_en.csv"), by=ewa)
    assert job.status == "preview", job.problems
    assert job.rows == 3
    job = import_apply(job=job, by=ewa)
    assert job.status == "done"
    assert (job.created, job.updated, job.unchanged) == (3, 0, 0)
    kasia = Participant.objects.get(alias="Kasia")
    assert kasia.legal_name == "Katarzyna Nowak"
    assert kasia.reminder_channel == "email"
    assert set(kasia.consents.values_list("purpose", flat=True)) == {
        "participation",
        "health_data",
        "contact",
    }


@pytest.mark.parametrize("name", ["participants_pl.csv", "participants_pl.xlsx"])
def test_the_polish_samples_are_read_with_polish_headers_words_and_dates(ewa, name):
    job = import_upload(kind="participants", file=sample(name), by=ewa)
    assert job.status == "preview", job.problems
    assert job.encoding == ("cp1250" if name.endswith(".csv") else "")
    import_apply(job=job, by=ewa)
    jola = Participant.objects.get(alias="Jola")
    assert jola.legal_name == "Jolanta Żółkiewska"
    assert jola.reminder_channel == "email"
    assert Participant.objects.get(alias="Staś").reminder_channel == "none"
    consent = Consent.objects.get(participant__alias="Gośka", purpose="health_data")
    assert consent.granted_at.astimezone(ewa_tz(ewa)).date().isoformat() == "2026-09-03"
    assert consent.method == "signed_form"


def ewa_tz(user):
    return user.memberships.get().institution.tzinfo


def _domain_counts():
    return (
        Participant.objects.count(),
        Consent.objects.count(),
        AttendanceRecord.objects.count(),
        AuditEvent.objects.exclude(action="import.uploaded").count(),
    )


def test_a_broken_file_lists_each_problem_by_row_and_column_and_writes_nothing(ewa):
    before = _domain_counts()
    job = import_upload(kind="participants", file=sample("participants_broken.csv"), by=ewa)
    assert job.status == "invalid"
    found = {(p["row"], p["column"], p["code"]) for p in job.problems}
    assert found == {
        (2, "consent_participation_date", "invalid"),
        (3, "code", "unknown_code"),
        (4, "legal_name", "consent_required"),
    }
    assert all(p["message"] for p in job.problems)
    assert _domain_counts() == before
    assert not job.file
    with pytest.raises(ValidationError):
        import_apply(job=job, by=ewa)
    assert _domain_counts() == before


def test_the_fixed_file_imports_and_importing_it_again_changes_nothing(ewa):
    job = import_apply(
        job=import_upload(kind="participants", file=sample("participants_fixed.csv"), by=ewa),
        by=ewa,
    )
    assert (job.status, job.created, job.updated, job.unchanged) == ("done", 3, 0, 0)
    after_first = _domain_counts()
    again = import_upload(kind="participants", file=sample("participants_fixed.csv"), by=ewa)
    assert again.status == "preview"
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)  # the preview says so
    again = import_apply(job=again, by=ewa)
    assert (again.status, again.created, again.updated, again.unchanged) == ("done", 0, 0, 3)
    assert _domain_counts()[:3] == after_first[:3]
    assert Participant.objects.filter(alias="Ewelina").count() == 1


def test_a_corrected_file_changes_only_what_changed(ewa):
    import_apply(
        job=import_upload(kind="participants", file=sample("participants_fixed.csv"), by=ewa),
        by=ewa,
    )
    marta = Participant.objects.get(alias="Marta")
    corrected = (
        (SAMPLES / "participants_fixed.csv")
        .read_text()
        .replace("C-2,,Jan,,2026-09-01,v1,,", "C-2,,Jan,,2026-09-01,v1,2026-09-02,v1")
        .replace("C-3,,Ewelina,Ewelina Kowalczyk", "C-3,,Ewelina,Ewelina Kowalczyk-Nowak")
    )
    job = import_apply(
        job=import_upload(kind="participants", file=upload("fixed.csv", corrected), by=ewa),
        by=ewa,
    )
    assert (job.created, job.updated, job.unchanged) == (0, 2, 1)
    assert Participant.objects.get(alias="Ewelina").legal_name == "Ewelina Kowalczyk-Nowak"
    assert Consent.objects.filter(participant__alias="Jan", purpose="health_data").exists()
    marta.refresh_from_db()
    assert marta.updated_at == Participant.objects.get(alias="Marta").updated_at


def test_an_id_known_for_another_alias_is_refused_rather_than_renaming_someone(ewa):
    import_apply(
        job=import_upload(kind="participants", file=sample("participants_fixed.csv"), by=ewa),
        by=ewa,
    )
    other = "id,alias,consent_participation_date,consent_participation_version\nC-1,Zenon,,\n"
    job = import_upload(kind="participants", file=upload("other.csv", other), by=ewa)
    assert [(p["row"], p["column"], p["code"]) for p in job.problems] == [(2, "id", "id_conflict")]


def test_a_withdrawn_paper_consent_is_not_granted_again_by_a_second_import(ewa):
    from attendance.services import consent_withdraw

    import_apply(
        job=import_upload(kind="participants", file=sample("participants_en.csv"), by=ewa),
        by=ewa,
    )
    tomek = Participant.objects.get(alias="Tomek")
    consent_withdraw(consent=tomek.consents.get(purpose="participation"), by=ewa)
    job = import_apply(
        job=import_upload(kind="participants", file=sample("participants_en.csv"), by=ewa),
        by=ewa,
    )
    assert job.unchanged == 3
    assert tomek.consents.filter(status="granted").count() == 0


def test_rows_matched_by_code_update_the_participant_named(ewa, institution_a):
    person = ParticipantFactory(institution=institution_a, alias="Old alias")
    content = f"code,alias\n{person.code},New alias\n"
    job = import_apply(
        job=import_upload(kind="participants", file=upload("codes.csv", content), by=ewa), by=ewa
    )
    assert (job.created, job.updated) == (0, 1)
    person.refresh_from_db()
    assert person.alias == "New alias"


def test_one_audit_event_per_import_names_the_files_checksum(ewa):
    job = import_apply(
        job=import_upload(kind="participants", file=sample("participants_en.csv"), by=ewa),
        by=ewa,
    )
    events = AuditEvent.objects.filter(action="import.applied")
    assert events.count() == 1
    assert (
        events.get().details["sha256"]
        == hashlib.sha256((SAMPLES / "participants_en.csv").read_bytes()).hexdigest()
        == job.sha256
    )
    assert AuditEvent.objects.filter(action="participant.registered").count() == 3


def test_only_institution_admins_import(anna, marek):
    for user in (anna, marek):
        with pytest.raises(PermissionDenied):
            import_upload(
                kind="participants",
                file=sample("participants_en.csv"),
                by=user,
                institution=user.memberships.get().institution,
            )


def test_the_attendance_samples_record_marks_from_the_import(ewa, register_group):
    group, members, sessions = register_group
    for name in ("attendance_en.csv", "attendance_pl.xlsx"):
        job = import_upload(kind="attendance", group=group, file=sample(name), by=ewa)
        assert job.status == "preview", job.problems
        job = import_apply(job=job, by=ewa)
        assert job.status == "done"
    records = AttendanceRecord.objects.filter(session__group=group)
    assert records.count() == 6
    assert set(records.values_list("source", flat=True)) == {"import"}
    late = records.get(participant=members[1], session=sessions[0])
    assert (late.status, late.arrived_at.isoformat()) == ("late", "18:20:00")
    # The Polish sheet says the same as the English one: the second import changed nothing.
    assert (job.created, job.updated, job.unchanged) == (0, 0, 6)
    assert not records.filter(version__gt=1).exists()


def test_attendance_rows_for_a_day_without_session_or_a_non_member_are_refused(
    ewa, register_group, institution_a
):
    group, members, sessions = register_group
    stranger = ParticipantFactory(institution=institution_a)
    content = (
        "code,date,status\n"
        f"{members[0].code},2026-10-07,present\n"
        f"{stranger.code},2026-10-06,present\n"
        f"{members[1].code},06.10.2026,obecny\n"
        f"{members[2].code},2026-10-06,sometimes\n"
    )
    job = import_upload(kind="attendance", group=group, file=upload("a.csv", content), by=ewa)
    assert {(p["row"], p["column"], p["code"]) for p in job.problems} == {
        (2, "date", "no_session"),
        (3, "code", "not_member"),
        (5, "status", "invalid_choice"),
    }
    assert AttendanceRecord.objects.count() == 0


def test_a_service_refusal_at_apply_time_rolls_back_every_row(ewa, register_group):
    group, members, sessions = register_group
    job = import_upload(kind="attendance", group=group, file=sample("attendance_en.csv"), by=ewa)
    assert job.status == "preview"
    # Between preview and import the second session is cancelled: its rows are refused, and
    # the first session's marks, clean, are not written either.
    sessions[1].status = "cancelled"
    sessions[1].save(update_fields=["status"])
    job = import_apply(job=job, by=ewa)
    assert job.status == "invalid"
    assert {p["code"] for p in job.problems} == {"no_session"}
    assert AttendanceRecord.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="attendance.").exists()


def test_the_preview_runs_small_files_through_the_services_themselves(ewa, register_group):
    group, members, sessions = register_group
    # Only attendance_record knows that an absence has no arrival time: the dry run asks it.
    content = f"code,date,status,arrived_at\n{members[0].code},2026-10-06,excused,18:05\n"
    with translation.override("en"):
        job = import_upload(kind="attendance", group=group, file=upload("a.csv", content), by=ewa)
    assert job.status == "invalid"
    assert [(p["row"], p["message"]) for p in job.problems] == [
        (2, "An absence has no arrival or leaving time.")
    ]
    assert AttendanceRecord.objects.count() == 0
