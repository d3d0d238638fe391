"""Taking attendance writes in bulk (one insert per table, one update for the corrections): the
rows written are the ones written one by one before — marks, earlier versions, audit events and
follow-ups, with the same fields, in the same order."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from attendance.models import AttendanceRecord, AttendanceRevision, FollowUpTask
from attendance.services import (
    Mark,
    attendance_record,
    attendance_record_roster,
    follow_up_resolve,
    roster_lines,
)
from attendance.services.follow_ups import _lead_facilitator_id
from audit.context import Origin, current_origin
from audit.models import AuditEvent
from audit.services import audit_event, audit_record, audit_record_many
from sessions.models import Session

from .factories import AttendanceFactory, EnrollmentFactory, GroupFacilitatorFactory, SessionFactory

ORIGIN = Origin(ip_address="192.0.2.7", client="krag-mobile/2.1")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def from_the_app():
    """A request from the mobile app: the address and client the audit log records."""
    token = current_origin.set(ORIGIN)
    yield ORIGIN
    current_origin.reset(token)


def fields(event: AuditEvent) -> tuple:
    return (
        event.actor_id,
        event.actor_username,
        event.institution_id,
        event.action,
        event.object_type,
        event.object_id,
        event.ip_address,
        event.client,
        event.details,
    )


# --- The audit log in bulk -------------------------------------------------------------------


def test_events_written_in_bulk_read_as_those_written_one_by_one(
    institution_a, group_a, anna, from_the_app
):
    kinds = [
        dict(actor=anna, action="x.done", obj=group_a, details={"n": 1}),
        dict(actor=None, action="x.raised", obj=group_a),
        dict(actor=anna, action="x.noted", institution=institution_a),
    ]
    started = timezone.now()

    one_by_one = [audit_record(**kind) for kind in kinds]
    in_bulk = audit_record_many(audit_event(**kind) for kind in kinds)

    assert [fields(e) for e in in_bulk] == [fields(e) for e in one_by_one]
    assert fields(in_bulk[0]) == (
        anna.pk,
        "anna",
        institution_a.pk,
        "x.done",
        "group_sessions.supportgroup",
        str(group_a.pk),
        "192.0.2.7",
        "krag-mobile/2.1",
        {"n": 1},
    )
    assert fields(in_bulk[1])[:2] == (None, "")
    written = list(AuditEvent.objects.filter(pk__in=[e.pk for e in in_bulk]).order_by("id"))
    assert [fields(e) for e in written] == [fields(e) for e in in_bulk]
    # bulk_create fills auto_now_add as save() does.
    assert all(started <= e.created_at <= timezone.now() for e in written)
    assert [e.created_at for e in written] == [e.created_at for e in in_bulk]


def test_an_event_already_written_is_not_written_again(institution_a, anna):
    event = audit_record(actor=anna, action="x.done", obj=institution_a)

    with pytest.raises(TypeError, match="append-only"):
        audit_record_many([audit_event(actor=anna, action="x.again"), event])

    assert list(AuditEvent.objects.all()) == [event]


def test_no_events_cost_no_query(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert audit_record_many([]) == []


# --- Marks and corrections -------------------------------------------------------------------


def ago(**kwargs) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(**kwargs)


@pytest.fixture
def session(group_a):
    return SessionFactory(group=group_a, starts_at=ago(hours=1))


@pytest.fixture
def members(group_a):
    return [EnrollmentFactory(group=group_a) for _n in range(3)]


def row(record: AttendanceRecord) -> tuple:
    return (
        record.pk,
        record.institution_id,
        record.session_id,
        record.participant_id,
        record.enrollment_id,
        record.status,
        record.arrived_at,
        record.left_at,
        record.recorded_by_id,
        record.recorded_at,
        record.source,
        record.version,
        record.created_at,
        record.updated_at,
    )


def test_first_marks_write_a_record_and_an_event_each_in_the_marks_order(
    session, members, marek, from_the_app
):
    # Not in the roster's order: records and events follow the marks.
    marks = [
        Mark(members[2].participant_id, "late", arrived_at=datetime.time(18, 10)),
        Mark(members[0].participant_id, "present"),
        Mark(members[1].participant_id, "excused"),
    ]

    records = attendance_record(session=session, marks=marks, by=marek, source="mobile")

    assert [r.participant_id for r in records] == [m.participant_id for m in marks]
    assert [r.enrollment_id for r in records] == [members[i].pk for i in (2, 0, 1)]
    written = AttendanceRecord.objects.in_bulk([r.pk for r in records])
    assert [row(written[r.pk]) for r in records] == [row(r) for r in records]
    assert {(r.version, r.recorded_by_id, r.source, r.institution_id) for r in records} == {
        (1, marek.pk, "mobile", session.institution_id)
    }
    assert records[0].arrived_at == datetime.time(18, 10)
    events = list(AuditEvent.objects.order_by("id"))
    assert [fields(e) for e in events] == [
        (
            marek.pk,
            "marek",
            session.institution_id,
            "attendance.recorded",
            "attendance.attendancerecord",
            str(record.pk),
            "192.0.2.7",
            "krag-mobile/2.1",
            {"status": mark.status},
        )
        for record, mark in zip(records, marks, strict=True)
    ]
    session.refresh_from_db()
    assert session.status == Session.Status.HELD


def test_corrections_keep_each_earlier_version_and_log_each_change(
    session, members, anna, marek, from_the_app
):
    first = attendance_record(
        session=session, marks=[Mark(m.participant_id, "present") for m in members], by=anna
    )
    logged = AuditEvent.objects.count()

    records = attendance_record(
        session=session,
        marks=[
            Mark(members[0].participant_id, "late", arrived_at=datetime.time(18, 20)),
            Mark(members[1].participant_id, "present"),  # unchanged
            Mark(members[2].participant_id, "unexcused"),
        ],
        by=marek,
        source="mobile",
    )

    assert [r.pk for r in records] == [r.pk for r in first]
    revisions = list(AttendanceRevision.objects.order_by("id"))
    assert [
        (
            v.record_id,
            v.version,
            v.status,
            v.arrived_at,
            v.left_at,
            v.recorded_by_id,
            v.recorded_at,
            v.source,
        )
        for v in revisions
    ] == [
        (r.pk, 1, "present", None, None, anna.pk, r.recorded_at, "web")
        for r in (first[0], first[2])
    ]
    assert all(v.superseded_at is not None for v in revisions)
    written = AttendanceRecord.objects.in_bulk([r.pk for r in records])
    assert [row(written[r.pk]) for r in records] == [row(r) for r in records]
    late, unchanged, absent = (written[r.pk] for r in records)
    assert (late.status, late.arrived_at, late.version, late.recorded_by, late.source) == (
        "late",
        datetime.time(18, 20),
        2,
        marek,
        "mobile",
    )
    assert (absent.status, absent.version) == ("unexcused", 2)
    # An UPDATE leaves auto_now alone: the service moves updated_at, which the app syncs by.
    assert late.updated_at > first[0].updated_at
    assert late.recorded_at > first[0].recorded_at
    assert row(unchanged) == row(first[1])
    events = list(AuditEvent.objects.order_by("id"))[logged:]
    assert [(e.action, e.object_id, e.details, e.actor_id, e.institution_id) for e in events] == [
        (
            "attendance.corrected",
            str(first[0].pk),
            {"from": "present", "to": "late"},
            marek.pk,
            session.institution_id,
        ),
        (
            "attendance.corrected",
            str(first[2].pk),
            {"from": "present", "to": "unexcused"},
            marek.pk,
            session.institution_id,
        ),
    ]


def test_a_refused_roster_writes_nothing_neither_marks_nor_corrections_nor_events(
    session, members, anna
):
    attendance_record(session=session, marks=[Mark(members[0].participant_id, "present")], by=anna)
    before = (
        list(AttendanceRecord.objects.values_list("pk", "status", "version", "updated_at")),
        AttendanceRevision.objects.count(),
        AuditEvent.objects.count(),
    )

    with pytest.raises(ValidationError) as exc:
        attendance_record(
            session=session,
            marks=[
                Mark(members[0].participant_id, "late"),  # a correction
                Mark(members[1].participant_id, "present"),  # a first mark
                Mark(members[2].participant_id, "excused", arrived_at=datetime.time(18, 5)),
            ],
            by=anna,
        )

    assert list(exc.value.message_dict) == [str(members[2].participant_id)]
    after = (
        list(AttendanceRecord.objects.values_list("pk", "status", "version", "updated_at")),
        AttendanceRevision.objects.count(),
        AuditEvent.objects.count(),
    )
    assert after == before


def test_a_refused_first_roster_leaves_the_session_scheduled(session, members, anna):
    with pytest.raises(ValidationError):
        attendance_record(
            session=session,
            marks=[Mark(members[0].participant_id, "present"), Mark(10**9, "present")],
            by=anna,
        )

    session.refresh_from_db()
    assert session.status == Session.Status.SCHEDULED
    assert not AttendanceRecord.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_roster_whose_audit_events_cannot_be_written_is_undone_whole(
    session, members, anna, monkeypatch
):
    def written():
        session.refresh_from_db()
        return (
            session.status,
            list(AttendanceRecord.objects.values_list("pk", "status", "version", "updated_at")),
            AttendanceRevision.objects.count(),
            AuditEvent.objects.count(),
        )

    bulk_create = AuditEvent.objects.bulk_create

    def unavailable(*args, **kwargs):
        raise RuntimeError("the audit log is unavailable")

    first_marks = [Mark(m.participant_id, "present") for m in members[:2]]
    corrections = [Mark(members[0].participant_id, "late"), Mark(members[2].participant_id, "late")]
    monkeypatch.setattr(AuditEvent.objects, "bulk_create", unavailable)
    with pytest.raises(RuntimeError):
        attendance_record(session=session, marks=first_marks, by=anna)
    assert written() == (Session.Status.SCHEDULED, [], 0, 0)

    monkeypatch.setattr(AuditEvent.objects, "bulk_create", bulk_create)
    attendance_record(session=session, marks=first_marks, by=anna)
    before = written()
    monkeypatch.setattr(AuditEvent.objects, "bulk_create", unavailable)
    with pytest.raises(RuntimeError):
        attendance_record(session=session, marks=corrections, by=anna)
    assert written() == before


# --- The roster's answer ---------------------------------------------------------------------


def line_values(lines) -> list[tuple]:
    return [
        (
            line.enrollment.pk,
            line.participant.pk,
            line.participant.alias,
            line.on_roster,
            line.record and row(line.record),
        )
        for line in lines
    ]


def test_the_roster_answered_by_the_write_is_the_roster_read_afterwards(
    group_a, session, members, anna, django_assert_num_queries
):
    # Two people marked earlier who left on the session's day; the one with the higher
    # number was marked first, and the lines still come by participant number.
    day = session.local_date()
    gone = [EnrollmentFactory(group=group_a, status="withdrawn", left_on=day) for _n in range(2)]
    for enrollment in reversed(gone):
        AttendanceFactory(
            session=session, enrollment=enrollment, participant=enrollment.participant
        )
    marks = [Mark(members[1].participant_id, "present"), Mark(members[2].participant_id, "late")]

    held, lines = attendance_record_roster(session=session, marks=marks, by=anna)

    assert held.status == Session.Status.HELD
    assert [(line.participant.pk, line.on_roster) for line in lines] == [
        *((m.participant_id, True) for m in members),
        *((e.participant_id, False) for e in gone),
    ]
    assert lines[0].record is None
    read_again = Session.objects.select_related("institution").get(pk=session.pk)
    with django_assert_num_queries(2):  # the marks and the roster
        assert line_values(lines) == line_values(roster_lines(read_again))


# --- Follow-ups ------------------------------------------------------------------------------


def absences(enrollments, status="unexcused"):
    return [Mark(e.participant_id, status) for e in enrollments]


def test_each_second_absence_in_a_row_raises_a_task_logged_after_the_marks(
    group_a, members, anna, marek, from_the_app
):
    first = SessionFactory(group=group_a, starts_at=ago(days=7))
    attendance_record(
        session=first,
        marks=absences(members[:2]) + [Mark(members[2].participant_id, "present")],
        by=marek,
    )
    logged = AuditEvent.objects.count()

    # Not in the roster's order: the tasks and their events follow the marks.
    records = attendance_record(
        session=SessionFactory(group=group_a, starts_at=ago(hours=1)),
        marks=absences([members[2], members[1], members[0]]),
        by=marek,
    )

    tasks = list(FollowUpTask.objects.order_by("id"))
    assert [(t.enrollment_id, t.trigger_session_id, t.assigned_to_id, t.status) for t in tasks] == [
        (members[i].pk, records[0].session_id, anna.pk, "open") for i in (1, 0)
    ]
    assert {t.institution_id for t in tasks} == {group_a.institution_id}
    events = list(AuditEvent.objects.order_by("id"))[logged:]
    assert [fields(e) for e in events] == [
        (
            marek.pk,
            "marek",
            group_a.institution_id,
            "attendance.recorded",
            "attendance.attendancerecord",
            str(record.pk),
            "192.0.2.7",
            "krag-mobile/2.1",
            {"status": "unexcused"},
        )
        for record in records
    ] + [
        (
            None,
            "",
            group_a.institution_id,
            "follow_up.raised",
            "attendance.followuptask",
            str(task.pk),
            "192.0.2.7",
            "krag-mobile/2.1",
            {},
        )
        for task in tasks
    ]


def test_a_task_this_session_raised_is_not_raised_again_once_done(group_a, members, anna):
    first = SessionFactory(group=group_a, starts_at=ago(days=7))
    second = SessionFactory(group=group_a, starts_at=ago(hours=1))
    for session in (first, second):
        attendance_record(session=session, marks=absences(members[:1]), by=anna)
    follow_up_resolve(task=FollowUpTask.objects.get(), by=anna, outcome="Called; all is well.")

    # The same marks again, then a correction away and back: this session raised its task.
    for status in ("unexcused", "present", "unexcused"):
        attendance_record(session=second, marks=absences(members[:1], status), by=anna)

    assert FollowUpTask.objects.get().status == FollowUpTask.Status.DONE
    assert AuditEvent.objects.filter(action="follow_up.raised").count() == 1


def test_absences_without_a_previous_held_session_raise_nothing(group_a, members, anna):
    SessionFactory(group=group_a, starts_at=ago(days=7))  # never marked: still scheduled

    attendance_record(
        session=SessionFactory(group=group_a, starts_at=ago(hours=1)),
        marks=absences(members),
        by=anna,
    )

    assert not FollowUpTask.objects.exists()


def test_follow_ups_go_to_the_first_lead_else_the_first_co_facilitator(
    group_a, anna, ewa, marek, olga
):
    group_a.facilitator_roles.all().delete()
    GroupFacilitatorFactory(group=group_a, user=olga, role="trainee")
    assert _lead_facilitator_id(group_a.pk) is None
    GroupFacilitatorFactory(group=group_a, user=ewa, role="co_facilitator")
    GroupFacilitatorFactory(group=group_a, user=anna, role="co_facilitator")
    assert _lead_facilitator_id(group_a.pk) == ewa.pk
    GroupFacilitatorFactory(group=group_a, user=marek, role="lead")
    assert _lead_facilitator_id(group_a.pk) == marek.pk
