"""Every service writes its audit event(s) in its own transaction: exactly the documented number
when it succeeds, none when it refuses."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from attendance.models import FollowUpTask
from attendance.services import (
    enrollment_admit,
    enrollment_complete,
    enrollment_offer_seat,
    enrollment_refer,
    enrollment_waitlist,
    enrollment_withdraw,
    follow_up_resolve,
)
from audit.models import AuditEvent
from sessions.services import (
    group_facilitator_remove,
    group_facilitator_set,
    group_update,
    session_mark_not_held,
    session_update,
)

from .factories import ConsentFactory, EnrollmentFactory, ParticipantFactory, SessionFactory


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def only_event(action: str, actor) -> AuditEvent:
    event = AuditEvent.objects.get()
    assert (event.action, event.actor) == (action, actor)
    return event


def test_changing_a_group_writes_one_event_naming_the_fields(group_a, anna):
    group_update(group=group_a, by=anna, name="Renamed", capacity=10)

    assert only_event("group.changed", anna).details == {"fields": ["capacity", "name"]}


def test_a_refused_group_change_writes_nothing_and_keeps_the_row(group_a, anna):
    with pytest.raises(ValidationError):
        group_update(group=group_a, by=anna, membership_mode="semi_open")

    assert not AuditEvent.objects.exists()
    group_a.refresh_from_db()
    assert group_a.membership_mode == "open"


def test_setting_and_removing_a_facilitator_write_one_event_each(group_a, anna, ewa):
    group_facilitator_set(group=group_a, user=ewa, role="trainee", by=anna)
    assert only_event("group.facilitator_set", anna).details == {
        "user": ewa.pk,
        "role": "trainee",
        "created": True,
    }

    group_facilitator_remove(group=group_a, user=ewa, by=anna)
    assert AuditEvent.objects.filter(action="group.facilitator_removed").count() == 1


def test_changing_a_session_writes_one_event(group_a, anna, ewa):
    session = SessionFactory(group=group_a, starts_at=timezone.now() + datetime.timedelta(days=2))

    session_update(session=session, by=anna, theme="Anger", substitute_facilitator=ewa)

    only_event("session.changed", anna)
    session.refresh_from_db()
    assert (session.theme, session.substitute_facilitator) == ("Anger", ewa)


def test_marking_a_session_not_held_writes_one_event(group_a, anna):
    session = SessionFactory(group=group_a)

    session_mark_not_held(session=session, by=anna, reason="Only two came")

    # The event names the field; the reason itself stays on the session (issue 15).
    assert only_event("session.not_held", anna).details == {"fields": ["cancellation_reason"]}
    session.refresh_from_db()
    assert session.cancellation_reason == "Only two came"


def test_each_step_of_membership_writes_one_event(group_a, marek):
    participant = ParticipantFactory(institution=group_a.institution)
    ConsentFactory(participant=participant)

    enrollment = enrollment_refer(participant=participant, group=group_a, by=marek)
    enrollment_waitlist(enrollment=enrollment, by=marek)
    enrollment_offer_seat(enrollment=enrollment, by=marek, hours=24)
    enrollment_admit(enrollment=enrollment, by=marek)
    enrollment_complete(enrollment=enrollment, by=marek, reason="Finished the cycle")

    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "enrollment.referred",
        "enrollment.waitlisted",
        "enrollment.seat_offered",
        "enrollment.admitted",
        "enrollment.completed",
    ]
    assert set(AuditEvent.objects.values_list("object_id", flat=True)) == {str(enrollment.pk)}


def test_a_withdrawal_writes_one_event_naming_its_reason_kept_on_the_enrollment(group_a, marek):
    member = EnrollmentFactory(group=group_a)

    enrollment_withdraw(enrollment=member, by=marek, reason="Moved away")

    assert only_event("enrollment.withdrawn", marek).details == {"fields": ["end_reason"]}
    member.refresh_from_db()
    assert member.end_reason == "Moved away"


def test_resolving_a_follow_up_writes_one_event(group_a, anna):
    member = EnrollmentFactory(group=group_a)
    task = FollowUpTask.objects.create(
        institution=group_a.institution,
        enrollment=member,
        trigger_session=SessionFactory(group=group_a),
        assigned_to=anna,
    )

    follow_up_resolve(task=task, by=anna, outcome="Called")

    only_event("follow_up.resolved", anna)


def test_refusals_by_role_write_nothing(group_a, marek, olga, karim, ewa):
    member = EnrollmentFactory(group=group_a)
    session = SessionFactory(group=group_a)
    refused = [
        lambda: group_update(group=group_a, by=marek, name="x"),
        lambda: group_facilitator_set(group=group_a, user=ewa, role="lead", by=marek),
        lambda: session_update(session=session, by=marek, theme="x"),
        lambda: session_mark_not_held(session=session, by=olga),
        lambda: enrollment_withdraw(enrollment=member, by=olga, reason="x"),
        lambda: enrollment_complete(enrollment=member, by=karim),
    ]

    for call in refused:
        with pytest.raises(PermissionDenied):
            call()

    assert not AuditEvent.objects.exists()
