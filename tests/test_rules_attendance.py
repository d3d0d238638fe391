"""The rules of attendance: when it can be taken, for whom, all or nothing, corrections with
history, and the follow-up after two unexplained absences in a row."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from attendance.models import AttendanceRecord, AttendanceRevision, Enrollment, FollowUpTask
from attendance.policies import attendance_opens_at
from attendance.services import Mark, attendance_record, follow_up_resolve, session_roster
from audit.models import AuditEvent
from sessions.models import Session

from .factories import (
    AttendanceFactory,
    EnrollmentFactory,
    GroupFacilitatorFactory,
    SessionFactory,
    UserFactory,
)

NOT_ON_ROSTER = "This person is not on the roster of this session."


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def ago(**kwargs) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(**kwargs)


@pytest.fixture
def session(group_a):
    """A session of group_a that began an hour ago."""
    return SessionFactory(group=group_a, starts_at=ago(hours=1))


@pytest.fixture
def members(group_a):
    return [EnrollmentFactory(group=group_a) for _n in range(3)]


def all_present(enrollments):
    return [Mark(e.participant_id, "present") for e in enrollments]


# --- When ----------------------------------------------------------------------------------------


def test_taking_attendance_records_the_marks_and_marks_the_session_held(session, members, marek):
    records = attendance_record(
        session=session, marks=all_present(members), by=marek, source="mobile"
    )

    session.refresh_from_db()
    assert session.status == Session.Status.HELD
    assert [(r.participant_id, r.status, r.version, r.source) for r in records] == [
        (e.participant_id, "present", 1, "mobile") for e in members
    ]
    assert all(r.recorded_by == marek and r.enrollment_id for r in records)
    assert AuditEvent.objects.filter(action="attendance.recorded").count() == 3
    assert AuditEvent.objects.count() == 3


def test_a_session_further_off_than_the_opening_refuses_attendance_and_says_from_when(
    group_a, members, anna
):
    later = SessionFactory(group=group_a, starts_at=timezone.now() + datetime.timedelta(minutes=45))
    opens = timezone.localtime(attendance_opens_at(later), later.institution.tzinfo)

    with pytest.raises(ValidationError) as exc:
        attendance_record(session=later, marks=all_present(members), by=anna)

    assert exc.value.messages == [
        f"Attendance can be taken from {opens:%H:%M}, shortly before the session begins."
    ]
    later.refresh_from_db()
    assert later.status == Session.Status.SCHEDULED


def test_people_are_marked_at_the_door_from_the_institutions_opening_before_the_start(
    group_a, members, anna
):
    soon = SessionFactory(group=group_a, starts_at=timezone.now() + datetime.timedelta(minutes=20))

    records = attendance_record(session=soon, marks=all_present(members), by=anna)

    assert len(records) == len(members)
    soon.institution.attendance_opens_minutes_before = 10
    soon.institution.save()
    later = SessionFactory(group=group_a, starts_at=timezone.now() + datetime.timedelta(minutes=20))
    with pytest.raises(ValidationError):
        attendance_record(session=later, marks=all_present(members), by=anna)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("cancelled", "The session was cancelled; it has no attendance."),
        ("not_held", "The session was not held; it has no attendance."),
    ],
)
def test_a_cancelled_or_not_held_session_refuses_attendance(
    group_a, members, anna, status, message
):
    session = SessionFactory(group=group_a, starts_at=ago(hours=1), status=status)

    with pytest.raises(ValidationError) as exc:
        attendance_record(session=session, marks=all_present(members), by=anna)

    assert exc.value.messages == [message]
    assert not AttendanceRecord.objects.exists()


def test_an_unknown_source_is_refused(session, members, anna):
    with pytest.raises(ValidationError) as exc:
        attendance_record(session=session, marks=all_present(members), by=anna, source="fax")

    assert exc.value.message_dict == {"source": ["Unknown source."]}


# --- Who -----------------------------------------------------------------------------------------


def test_only_the_people_on_that_days_roster_can_be_marked(group_a, session, anna):
    day = session.local_date()
    member = EnrollmentFactory(group=group_a)
    joined_later = EnrollmentFactory(group=group_a, joined_on=day + datetime.timedelta(days=1))
    start = group_a.starts_on
    left_before = EnrollmentFactory(
        group=group_a, status="withdrawn", joined_on=start, left_on=day - datetime.timedelta(days=1)
    )
    left_that_day = EnrollmentFactory(
        group=group_a, status="completed", joined_on=start, left_on=day
    )
    waiting = EnrollmentFactory(group=group_a, status="waitlisted")
    left_after = EnrollmentFactory(
        group=group_a, status="withdrawn", joined_on=start, left_on=day + datetime.timedelta(days=1)
    )
    walk_in = EnrollmentFactory(group=group_a, is_walk_in=True, joined_on=day)
    outsiders = [joined_later, left_before, left_that_day, waiting]

    assert session_roster(session) == [member, left_after, walk_in]
    with pytest.raises(ValidationError) as exc:
        attendance_record(session=session, marks=all_present([member, *outsiders]), by=anna)

    assert exc.value.message_dict == {str(e.participant_id): [NOT_ON_ROSTER] for e in outsiders}
    assert not AttendanceRecord.objects.exists()
    attendance_record(session=session, marks=all_present([member, left_after, walk_in]), by=anna)
    assert AttendanceRecord.objects.count() == 3


def test_a_member_of_another_group_is_not_on_the_roster(institution_a, session, anna):
    stranger = EnrollmentFactory(group__institution=institution_a)

    with pytest.raises(ValidationError) as exc:
        attendance_record(session=session, marks=all_present([stranger]), by=anna)

    assert exc.value.message_dict == {str(stranger.participant_id): [NOT_ON_ROSTER]}


def test_one_bad_mark_refuses_all_with_an_error_per_person(session, members, anna):
    first, second, third = members
    marks = [
        Mark(first.participant_id, "present"),
        Mark(second.participant_id, "asleep"),
        Mark(third.participant_id, "unexcused", arrived_at=datetime.time(18, 10)),
        Mark(first.participant_id, "late"),
    ]

    with pytest.raises(ValidationError) as exc:
        attendance_record(session=session, marks=marks, by=anna)

    assert exc.value.message_dict == {
        str(first.participant_id): ["This person is marked twice."],
        str(second.participant_id): ["Unknown attendance status “asleep”."],
        str(third.participant_id): ["An absence has no arrival or leaving time."],
    }
    assert not AttendanceRecord.objects.exists()
    assert not AuditEvent.objects.exists()
    session.refresh_from_db()
    assert session.status == Session.Status.SCHEDULED


def test_leaving_must_come_after_arriving(session, members, anna):
    mark = Mark(members[0].participant_id, "left_early", datetime.time(18), datetime.time(17, 30))

    with pytest.raises(ValidationError) as exc:
        attendance_record(session=session, marks=[mark], by=anna)

    assert exc.value.message_dict == {
        str(members[0].participant_id): ["The leaving time must be after the arrival time."]
    }


def test_a_roster_of_a_past_session_does_not_change_when_someone_joins_later(
    group_a, members, anna
):
    past = SessionFactory(group=group_a, starts_at=ago(days=7))
    attendance_record(session=past, marks=all_present(members), by=anna)
    newcomer = EnrollmentFactory(group=group_a, joined_on=timezone.localdate())

    assert session_roster(past) == members
    with pytest.raises(ValidationError) as exc:
        attendance_record(session=past, marks=all_present([newcomer]), by=anna)
    assert exc.value.message_dict == {str(newcomer.participant_id): [NOT_ON_ROSTER]}


# --- Who may -------------------------------------------------------------------------------------


def test_the_auditor_and_another_institution_cannot_record_attendance(
    session, members, olga, karim
):
    for user in (olga, karim):
        with pytest.raises(PermissionDenied):
            attendance_record(session=session, marks=all_present(members), by=user)
    assert not AttendanceRecord.objects.exists()
    session.refresh_from_db()
    assert session.status == Session.Status.SCHEDULED


def test_the_database_keeps_one_record_per_session_and_participant(session, members, anna):
    attendance_record(session=session, marks=all_present(members[:1]), by=anna)

    with pytest.raises(IntegrityError), transaction.atomic():
        AttendanceFactory(session=session, enrollment=members[0])


# --- Corrections ---------------------------------------------------------------------------------


def test_a_correction_keeps_the_earlier_version(session, members, anna, marek):
    member = members[0]
    (record,) = attendance_record(session=session, marks=all_present([member]), by=marek)

    (corrected,) = attendance_record(
        session=session,
        marks=[Mark(member.participant_id, "late", arrived_at=datetime.time(18, 20))],
        by=anna,
        source="web",
    )

    assert corrected.pk == record.pk
    assert (corrected.status, corrected.version, corrected.recorded_by) == ("late", 2, anna)
    revision = AttendanceRevision.objects.get()
    assert (revision.record_id, revision.version, revision.status, revision.recorded_by) == (
        record.pk,
        1,
        "present",
        marek,
    )
    event = AuditEvent.objects.get(action="attendance.corrected")
    assert event.details == {"from": "present", "to": "late"}


def test_re_recording_the_same_marks_changes_nothing(session, members, anna):
    attendance_record(session=session, marks=all_present(members), by=anna)
    events = AuditEvent.objects.count()

    records = attendance_record(session=session, marks=all_present(members), by=anna)

    assert [r.version for r in records] == [1, 1, 1]
    assert not AttendanceRevision.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_second_correction_counts_the_versions_up(session, members, anna):
    pid = members[0].participant_id
    for status in ("present", "late", "excused"):
        kept = attendance_record(session=session, marks=[Mark(pid, status)], by=anna)

    assert kept[0].version == 3
    assert list(AttendanceRevision.objects.values_list("version", "status")) == [
        (1, "present"),
        (2, "late"),
    ]


def test_attendance_can_be_corrected_after_the_session_was_held(group_a, members, anna):
    held = SessionFactory(group=group_a, starts_at=ago(days=2), status=Session.Status.HELD)

    attendance_record(session=held, marks=all_present(members), by=anna)

    held.refresh_from_db()
    assert held.status == Session.Status.HELD


# --- Follow-ups ----------------------------------------------------------------------------------


@pytest.fixture
def two_sessions(group_a):
    return (
        SessionFactory(group=group_a, starts_at=ago(days=7)),
        SessionFactory(group=group_a, starts_at=ago(hours=1)),
    )


def absent(enrollment, status="unexcused"):
    return [Mark(enrollment.participant_id, status)]


def test_two_unexplained_absences_in_a_row_raise_one_follow_up_for_the_lead(
    group_a, anna, ewa, members, two_sessions
):
    # A co-facilitator joined first; the task still goes to the lead.
    group_a.facilitator_roles.all().delete()
    GroupFacilitatorFactory(group=group_a, user=ewa, role="co_facilitator")
    GroupFacilitatorFactory(group=group_a, user=anna, role="lead")
    first, second = two_sessions
    member = members[0]

    attendance_record(session=first, marks=absent(member), by=anna)
    assert not FollowUpTask.objects.exists()
    attendance_record(session=second, marks=absent(member), by=anna)

    task = FollowUpTask.objects.get()
    assert (task.enrollment, task.trigger_session, task.assigned_to, task.status) == (
        member,
        second,
        anna,
        "open",
    )
    assert AuditEvent.objects.filter(action="follow_up.raised").count() == 1

    attendance_record(session=second, marks=absent(member), by=anna)
    assert FollowUpTask.objects.count() == 1
    assert AuditEvent.objects.filter(action="follow_up.raised").count() == 1


def test_an_excused_absence_or_a_visit_in_between_raises_nothing(
    group_a, anna, members, two_sessions
):
    first, second = two_sessions
    between = SessionFactory(group=group_a, starts_at=ago(days=3))
    excused, came_between = members[0], members[1]

    attendance_record(
        session=first, marks=absent(excused, "excused") + absent(came_between), by=anna
    )
    attendance_record(
        session=between,
        marks=absent(excused) + [Mark(came_between.participant_id, "present")],
        by=anna,
    )
    attendance_record(session=second, marks=absent(came_between), by=anna)

    assert not FollowUpTask.objects.exists()


def test_absences_with_an_unmarked_session_between_are_not_in_a_row(
    group_a, anna, members, two_sessions
):
    first, second = two_sessions
    between = SessionFactory(group=group_a, starts_at=ago(days=3))
    member, other = members[0], members[1]

    attendance_record(session=first, marks=absent(member), by=anna)
    attendance_record(session=between, marks=[Mark(other.participant_id, "present")], by=anna)
    attendance_record(session=second, marks=absent(member), by=anna)

    assert not FollowUpTask.objects.exists()


def test_a_third_absence_in_a_row_raises_no_second_open_task(group_a, anna, members, two_sessions):
    first, second = two_sessions
    third = SessionFactory(group=group_a, starts_at=ago(minutes=5))
    member = members[0]

    for session in (first, second, third):
        attendance_record(session=session, marks=absent(member), by=anna)

    assert FollowUpTask.objects.get().trigger_session == second


def test_a_resolved_follow_up_records_its_outcome_once(group_a, anna, members, two_sessions):
    first, second = two_sessions
    for session in two_sessions:
        attendance_record(session=session, marks=absent(members[0]), by=anna)
    task = FollowUpTask.objects.get()

    with pytest.raises(ValidationError) as exc:
        follow_up_resolve(task=task, by=anna, outcome=" ")
    assert exc.value.message_dict == {"outcome": ["Say what came of the follow-up."]}
    follow_up_resolve(task=task, by=anna, outcome="Called; she had the flu.")
    task.refresh_from_db()
    assert (task.status, task.resolved_by) == ("done", anna)
    with pytest.raises(ValidationError) as exc:
        follow_up_resolve(task=task, by=anna, outcome="Again")
    assert exc.value.messages == ["This follow-up is already done."]


def test_a_group_without_facilitators_still_raises_the_task_unassigned(
    group_a, members, two_sessions
):
    group_a.facilitator_roles.all().delete()
    clerk = UserFactory(username="clerk")
    from clinics.models import StaffMembership

    StaffMembership.objects.create(user=clerk, institution=group_a.institution, role="staff")
    for session in two_sessions:
        attendance_record(session=session, marks=absent(members[0]), by=clerk)

    assert FollowUpTask.objects.get().assigned_to is None
    assert Enrollment.objects.get(pk=members[0].pk).status == "active"


def test_the_database_refuses_leaving_before_arriving(session, members):
    with pytest.raises(IntegrityError), transaction.atomic():
        AttendanceFactory(
            session=session,
            enrollment=members[0],
            status="left_early",
            arrived_at=datetime.time(18, 30),
            left_at=datetime.time(18, 0),
        )
