"""Quorum (SPEC "Quorum"): a session that ended with fewer members present than the group's
minimum becomes not held by itself in the periodic job, marks kept; the group's facilitator may
reverse it with a reason within 7 days (audited); a session that ended with no marks gets a task
"attendance not taken" instead of a guess."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from attendance.models import AttendanceNotTaken, AttendanceRecord
from attendance.services import Mark, attendance_record
from audit.models import AuditEvent
from sessions.models import Session
from sessions.services import session_mark_not_held, session_quorum_reverse, sessions_settle_quorum
from sessions.tasks import settle_sessions

from .factories import (
    AttendanceFactory,
    EnrollmentFactory,
    GroupFacilitatorFactory,
    MembershipFactory,
    SessionFactory,
    UserFactory,
)

HOUR = datetime.timedelta(hours=1)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def ended(group_a):
    """A session of group_a (minimum 4) that ended half an hour ago."""
    group_a.min_size = 4
    group_a.save(update_fields=["min_size"])
    return SessionFactory(
        group=group_a,
        status=Session.Status.HELD,
        starts_at=timezone.now() - 2 * HOUR,
        ends_at=timezone.now() - HOUR / 2,
    )


def mark(session, *statuses):
    for status in statuses:
        AttendanceFactory(
            session=session, enrollment=EnrollmentFactory(group=session.group), status=status
        )


def test_one_present_of_a_minimum_of_four_is_not_held_by_itself_and_the_marks_stay(ended):
    mark(ended, "present", "unexcused", "excused", "unexcused")

    settle_sessions()

    ended.refresh_from_db()
    assert ended.status == Session.Status.NOT_HELD
    assert AttendanceRecord.objects.filter(session=ended).count() == 4
    event = AuditEvent.objects.get(action="session.not_held")
    assert event.details == {"present": 1, "min_size": 4, "auto": True}


def test_late_and_left_early_count_as_present(ended):
    mark(ended, "present", "late", "left_early", "present")

    sessions_settle_quorum()

    ended.refresh_from_db()
    assert ended.status == Session.Status.HELD


def test_the_job_runs_once_per_session(ended, anna):
    mark(ended, "present")
    sessions_settle_quorum()
    session_quorum_reverse(session=ended, by=anna, reason="Two more came without being marked")

    assert sessions_settle_quorum() == {"not_held": 0, "not_taken": 0}
    ended.refresh_from_db()
    assert ended.status == Session.Status.HELD


def test_a_session_still_running_is_left_alone(group_a):
    running = SessionFactory(group=group_a, status="held", starts_at=timezone.now() - HOUR)
    mark(running, "present")

    sessions_settle_quorum()

    running.refresh_from_db()
    assert running.status == "held"


def test_the_facilitator_reverses_with_a_reason_within_seven_days(ended, anna):
    mark(ended, "present")
    sessions_settle_quorum()

    with pytest.raises(ValidationError) as exc:
        session_quorum_reverse(session=ended, by=anna, reason=" ")
    assert "reason" in exc.value.message_dict
    reversed_ = session_quorum_reverse(session=ended, by=anna, reason="Marked at the wrong door")

    assert reversed_.status == Session.Status.HELD
    event = AuditEvent.objects.get(action="session.quorum_reversed")
    assert (event.actor, event.details["reason"]) == (anna, "Marked at the wrong door")


def test_a_reversal_after_seven_days_is_refused(group_a, anna):
    old = SessionFactory(
        group=group_a,
        status=Session.Status.NOT_HELD,
        starts_at=timezone.now() - datetime.timedelta(days=8),
    )

    with pytest.raises(ValidationError, match="within 7 days"):
        session_quorum_reverse(session=old, by=anna, reason="Late")


def test_only_a_lead_co_facilitator_or_admin_reverses(ended, institution_a, ewa):
    trainee = UserFactory(username="trainee")
    MembershipFactory(user=trainee, institution=institution_a, role="facilitator")
    GroupFacilitatorFactory(group=ended.group, user=trainee, role="trainee")
    mark(ended, "present")
    sessions_settle_quorum()

    with pytest.raises(PermissionDenied):
        session_quorum_reverse(session=ended, by=trainee, reason="x")
    assert session_quorum_reverse(session=ended, by=ewa, reason="Checked").status == "held"


def test_a_session_ended_without_marks_gets_a_task_not_a_guess(group_a, anna, marek):
    silent = SessionFactory(
        group=group_a, starts_at=timezone.now() - 3 * HOUR, ends_at=timezone.now() - HOUR
    )
    member = EnrollmentFactory(group=group_a)

    assert sessions_settle_quorum()["not_taken"] == 1
    assert sessions_settle_quorum()["not_taken"] == 0  # once

    silent.refresh_from_db()
    assert silent.status == Session.Status.SCHEDULED
    task = AttendanceNotTaken.objects.get(session=silent)
    assert task.status == "open"
    attendance_record(session=silent, marks=[Mark(member.participant_id, "present")], by=marek)
    task.refresh_from_db()
    assert task.status == "done"


def test_marking_not_held_by_hand_counts_attended_statuses(ended, anna):
    mark(ended, "late", "left_early", "present", "present")

    with pytest.raises(ValidationError, match="quorum was reached"):
        session_mark_not_held(session=ended, by=anna)
