"""Every audited action leaves exactly one audit row, with the right actor and object, written
in the same transaction as the change: a change that fails leaves no row, and a row that
cannot be written undoes the change."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from attendance.models import AttendanceRecord, Consent, Enrollment
from attendance.services import (
    Mark,
    attendance_record,
    consent_grant,
    consent_withdraw,
    enrollment_refer,
    enrollment_withdraw,
)
from audit.models import AuditEvent
from sessions.models import SessionNote
from sessions.services import note_add_addendum, note_sign, note_write
from tests.factories import (
    ConsentFactory,
    EnrollmentFactory,
    GroupFactory,
    ParticipantFactory,
    SessionFactory,
)


@pytest.fixture
def world(institution_a, group_a, anna):
    participant = ParticipantFactory(institution=institution_a)
    ConsentFactory(participant=participant, recorded_by=anna)
    enrollment = EnrollmentFactory(group=group_a, participant=participant, created_by=anna)
    session = SessionFactory(group=group_a)  # began an hour ago
    return {"participant": participant, "enrollment": enrollment, "session": session}


class NewEvents:
    """The audit rows written inside the `with` block."""

    def __enter__(self):
        self.last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        return self

    def __exit__(self, *exc):
        self.rows = list(AuditEvent.objects.filter(id__gt=self.last).order_by("id"))

    def one(self, action):
        assert [e.action for e in self.rows] == [action]
        return self.rows[0]


def assert_event(event, *, actor, obj, institution):
    assert event.actor == actor
    assert event.actor_username == actor.get_username()
    assert (event.object_type, event.object_id) == (obj._meta.label_lower, str(obj.pk))
    assert event.institution_id == institution.pk


# --- Exactly one row per action ------------------------------------------------------------------


def test_granting_and_withdrawing_a_consent_each_leave_one_row(world, anna, institution_a):
    with NewEvents() as granted:
        consent = consent_grant(
            participant=world["participant"],
            purpose=Consent.Purpose.CONTACT,
            method=Consent.Method.VERBAL,
            text_version="v2",
            by=anna,
        )
    assert_event(granted.one("consent.granted"), actor=anna, obj=consent, institution=institution_a)
    with NewEvents() as withdrawn:
        consent_withdraw(consent=consent, by=anna, reason="changed her mind")
    assert_event(
        withdrawn.one("consent.withdrawn"), actor=anna, obj=consent, institution=institution_a
    )


def test_an_enrollment_change_leaves_one_row(world, anna, institution_a):
    other = GroupFactory(institution=institution_a)
    other.facilitator_roles.create(user=anna, role="lead")
    with NewEvents() as referred:
        enrollment = enrollment_refer(participant=world["participant"], group=other, by=anna)
    assert_event(
        referred.one("enrollment.referred"), actor=anna, obj=enrollment, institution=institution_a
    )
    with NewEvents() as withdrawn:
        enrollment_withdraw(enrollment=world["enrollment"], by=anna, reason="moved away")
    event = withdrawn.one("enrollment.withdrawn")
    assert_event(event, actor=anna, obj=world["enrollment"], institution=institution_a)


def test_recording_and_correcting_attendance_leave_one_row_each(world, anna, institution_a):
    mark = Mark(participant_id=world["participant"].pk, status=AttendanceRecord.Status.PRESENT)
    with NewEvents() as recorded:
        [record] = attendance_record(session=world["session"], marks=[mark], by=anna)
    assert_event(
        recorded.one("attendance.recorded"), actor=anna, obj=record, institution=institution_a
    )
    late = Mark(participant_id=world["participant"].pk, status=AttendanceRecord.Status.LATE)
    with NewEvents() as corrected:
        attendance_record(session=world["session"], marks=[late], by=anna)
    event = corrected.one("attendance.corrected")
    assert_event(event, actor=anna, obj=record, institution=institution_a)
    assert event.details == {"from": "present", "to": "late"}


def test_writing_signing_and_amending_a_note_leave_one_row_each(world, anna, institution_a):
    with NewEvents() as written:
        note = note_write(session=world["session"], by=anna, text="We talked.")
    assert_event(written.one("note.created"), actor=anna, obj=note, institution=institution_a)
    with NewEvents() as changed:
        note = note_write(session=world["session"], by=anna, text="We talked about grief.")
    assert_event(changed.one("note.changed"), actor=anna, obj=note, institution=institution_a)
    type(world["session"]).objects.filter(pk=world["session"].pk).update(status="held")
    with NewEvents() as signed:
        note = note_sign(note=note, by=anna)
    assert_event(signed.one("note.signed"), actor=anna, obj=note, institution=institution_a)
    with NewEvents() as amended:
        note_add_addendum(note=note, by=anna, text="And about hope.")
    assert_event(amended.one("note.addendum"), actor=anna, obj=note, institution=institution_a)


def test_reading_a_participants_record_in_the_ui_leaves_one_row(client, world, anna):
    client.force_login(anna)
    with NewEvents() as read:
        response = client.get(reverse("staff:participant", args=[world["participant"].pk]))
    assert response.status_code == 200
    event = read.one("participant.viewed")
    assert_event(
        event, actor=anna, obj=world["participant"], institution=world["participant"].institution
    )


def test_reading_a_participants_record_in_the_api_leaves_one_row(world, anna):
    api = APIClient(REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="Krag-Android/1.0")
    api.force_authenticate(anna)
    with NewEvents() as read:
        response = api.get(f"/api/v1/participants/{world['participant'].pk}/")
    assert response.status_code == 200
    event = read.one("participant.viewed")
    assert (event.actor, event.ip_address, event.client) == (
        anna,
        "198.51.100.4",
        "Krag-Android/1.0",
    )


def test_a_report_request_its_making_and_its_download_leave_one_row_each(
    world, ewa, group_a, django_capture_on_commit_callbacks
):
    api = APIClient()
    api.force_authenticate(ewa)
    with NewEvents() as requested, django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/reports/",
            {
                "type": "group_register",
                "language": "en",
                "parameters": {"group": group_a.pk, "start": "2026-01-01", "end": "2026-12-31"},
            },
            format="json",
        )
    assert response.status_code == 202, response.content
    assert [e.action for e in requested.rows] == ["report.request", "report.ready"]
    assert requested.rows[0].actor == ewa and requested.rows[1].actor is None
    with NewEvents() as downloaded:
        pdf = api.get(f"/api/v1/reports/{response.json()['id']}/download/")
    assert pdf.status_code == 200
    assert downloaded.one("report.download").actor == ewa


# --- Same transaction ------------------------------------------------------------------------


def test_a_refused_change_leaves_no_audit_row(world, anna, karim):
    stranger = ParticipantFactory(institution=world["participant"].institution)
    with NewEvents() as nothing:
        with pytest.raises(ValidationError):
            attendance_record(
                session=world["session"],
                marks=[Mark(participant_id=stranger.pk, status="present")],
                by=anna,
            )
        with pytest.raises(ValidationError):
            note_write(session=world["session"], by=anna, text="   ")
    assert nothing.rows == []
    assert not AttendanceRecord.objects.exists()


@pytest.fixture
def audit_fails_on(monkeypatch):
    """audit_fails_on(n): the n-th audit row written from now on cannot be written."""

    def arm(n):
        create, bulk_create = AuditEvent.objects.create, AuditEvent.objects.bulk_create
        calls = {"n": 0}

        def failing(**kwargs):
            calls["n"] += 1
            if calls["n"] == n:
                raise RuntimeError("the audit log is unavailable")
            return create(**kwargs)

        def failing_in_bulk(objs, *args, **kwargs):  # audit_record_many: one insert, many rows
            objs = list(objs)
            calls["n"] += len(objs)
            if calls["n"] - len(objs) < n <= calls["n"]:
                raise RuntimeError("the audit log is unavailable")
            return bulk_create(objs, *args, **kwargs)

        monkeypatch.setattr(AuditEvent.objects, "create", failing)
        monkeypatch.setattr(AuditEvent.objects, "bulk_create", failing_in_bulk)

    return arm


def test_a_change_whose_audit_row_cannot_be_written_is_undone(world, anna, audit_fails_on):
    audit_fails_on(1)
    with pytest.raises(RuntimeError):
        note_write(session=world["session"], by=anna, text="We talked.")
    assert not SessionNote.objects.exists()
    audit_fails_on(1)
    with pytest.raises(RuntimeError):
        consent_grant(
            participant=world["participant"],
            purpose=Consent.Purpose.CONTACT,
            method=Consent.Method.VERBAL,
            text_version="v2",
            by=anna,
        )
    assert not Consent.objects.filter(purpose=Consent.Purpose.CONTACT).exists()


def test_a_roster_whose_second_audit_row_fails_is_undone_whole(
    world, anna, group_a, audit_fails_on
):
    second = EnrollmentFactory(group=group_a, created_by=anna)
    marks = [
        Mark(participant_id=world["participant"].pk, status="present"),
        Mark(participant_id=second.participant_id, status="present"),
    ]
    audit_fails_on(2)
    with NewEvents() as nothing:
        with pytest.raises(RuntimeError):
            attendance_record(session=world["session"], marks=marks, by=anna)
    assert nothing.rows == []
    assert not AttendanceRecord.objects.exists()
    world["session"].refresh_from_db()
    assert world["session"].status == "scheduled"  # not even marked held


def test_an_enrollment_whose_audit_row_fails_is_not_kept(
    world, anna, institution_a, audit_fails_on
):
    other = GroupFactory(institution=institution_a)
    other.facilitator_roles.create(user=anna, role="lead")
    audit_fails_on(1)
    with pytest.raises(RuntimeError):
        enrollment_refer(participant=world["participant"], group=other, by=anna)
    assert not Enrollment.objects.filter(group=other).exists()
