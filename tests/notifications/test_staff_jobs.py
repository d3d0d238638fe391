"""Day plans, follow-ups, expiring consents, the waiting list and retention, in eager mode."""

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from attendance.models import Consent, Enrollment, FollowUpTask
from attendance.services import (
    Mark,
    attendance_record,
    enrollment_admit,
    enrollment_offer_lapse,
    follow_up_resolve,
)
from audit.models import AuditEvent
from clinics.models import Participant
from notifications import services, tasks
from notifications.models import OutboxMessage
from tests.factories import (
    AttendanceFactory,
    ConsentFactory,
    EnrollmentFactory,
    GroupFactory,
    ParticipantFactory,
    SessionFactory,
)

from .conftest import make_member

NOW = timezone.now


# --- Facilitator's day plan ------------------------------------------------------------------


def _local(institution, hour, minute=0):
    return institution.local_now().replace(hour=hour, minute=minute, second=0, microsecond=0)


def test_each_facilitator_gets_one_plan_of_todays_sessions_in_the_morning(
    group_a, anna, institution_a, django_capture_on_commit_callbacks
):
    today_evening = _local(institution_a, 23)
    SessionFactory(group=group_a, starts_at=today_evening, theme="Sleep")
    SessionFactory(group=group_a, starts_at=today_evening + datetime.timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert services.day_plans_enqueue(now=_local(institution_a, 5, 59)) == []
        assert len(services.day_plans_enqueue(now=_local(institution_a, 6, 10))) == 1
        assert services.day_plans_enqueue(now=_local(institution_a, 7, 10)) == []

    (plan,) = mail.outbox
    assert plan.to == ["anna@example.org"]
    assert group_a.name in plan.body and "Sleep" in plan.body and "#" in plan.body
    heading, blank, *sessions = plan.body.splitlines()
    assert len(sessions) == 1 and sessions[0].startswith("23:00")


@pytest.mark.parametrize("day", ["2027-03-28", "2027-10-31"], ids=["clocks-forward", "clocks-back"])
def test_on_a_clock_change_day_the_plan_comes_at_six_and_holds_that_days_sessions(
    group_a, anna, institution_a, time_machine, django_capture_on_commit_callbacks, day
):
    date = datetime.date.fromisoformat(day)
    one_day = datetime.timedelta(days=1)

    def at(on, hour, minute):
        return datetime.datetime.combine(on, datetime.time(hour, minute), institution_a.tzinfo)

    for starts, theme in [
        (at(date - one_day, 23, 45), "The evening before"),
        (at(date, 0, 15), "Just after midnight"),
        (at(date, 23, 30), "Late"),
        (at(date + one_day, 0, 15), "The night after"),
    ]:
        SessionFactory(group=group_a, starts_at=starts, theme=theme)

    with django_capture_on_commit_callbacks(execute=True):
        time_machine.move_to(at(date, 5, 10), tick=False)
        assert services.day_plans_enqueue() == []
        time_machine.move_to(at(date, 6, 10), tick=False)
        assert len(services.day_plans_enqueue()) == 1

    (plan,) = mail.outbox
    heading, blank, *sessions = plan.body.splitlines()
    assert [line[:5] for line in sessions] == ["00:15", "23:30"]


def test_no_plan_for_a_day_without_sessions_or_with_only_cancelled_ones(group_a, anna):
    SessionFactory(group=group_a, starts_at=_local(group_a.institution, 23), status="cancelled")

    assert services.day_plans_enqueue(now=_local(group_a.institution, 8)) == []
    assert mail.outbox == []


# --- Follow-ups ------------------------------------------------------------------------------


def test_two_unexplained_absences_e_mail_the_lead_facilitator_once(group_a, anna, marek, run):
    member = make_member(group_a, name="kasia")
    first = SessionFactory(group=group_a, starts_at=NOW() - datetime.timedelta(days=7))
    second = SessionFactory(group=group_a, starts_at=NOW() - datetime.timedelta(hours=1))
    for session in (first, second):
        attendance_record(session=session, marks=[Mark(member.pk, "unexcused")], by=marek)
    assert FollowUpTask.objects.count() == 1

    assert run(tasks.notify_follow_ups) == 1
    assert run(tasks.notify_follow_ups) == 0

    (email,) = mail.outbox
    assert email.to == ["anna@example.org"]
    assert member.code in email.subject and "kasia" not in email.body


def test_a_follow_up_without_an_assigned_facilitator_or_already_done_sends_nothing(
    group_a, run, ewa
):
    enrollment = EnrollmentFactory(group=group_a)
    session = SessionFactory(group=group_a)
    FollowUpTask.objects.create(
        institution=group_a.institution, enrollment=enrollment, trigger_session=session
    )
    FollowUpTask.objects.create(
        institution=group_a.institution,
        enrollment=EnrollmentFactory(group=group_a),
        trigger_session=session,
        assigned_to=ewa,
        status=FollowUpTask.Status.DONE,
    )

    assert run(tasks.notify_follow_ups) == 0


# --- Consents --------------------------------------------------------------------------------


def test_a_consent_about_to_expire_is_flagged_to_admins_and_staff_once(
    institution_a, ewa, anna, marek, olga, run
):
    participant = ParticipantFactory(institution=institution_a)
    ConsentFactory(participant=participant, expires_at=NOW() + datetime.timedelta(days=5))
    ConsentFactory(
        participant=participant,
        purpose=Consent.Purpose.CONTACT,
        expires_at=NOW() + datetime.timedelta(days=40),
    )

    assert run(tasks.flag_expiring_consents) == 2
    assert run(tasks.flag_expiring_consents) == 0

    assert sorted(m.to[0] for m in mail.outbox) == ["ewa@example.org", "marek@example.org"]
    assert participant.code in mail.outbox[0].body


def test_an_expired_or_withdrawn_consent_is_not_flagged(institution_a, ewa, run):
    participant = ParticipantFactory(institution=institution_a)
    ConsentFactory(participant=participant, expires_at=NOW() - datetime.timedelta(hours=1))
    ConsentFactory(
        participant=participant,
        purpose=Consent.Purpose.CONTACT,
        expires_at=NOW() + datetime.timedelta(days=3),
        withdrawn_at=NOW() - datetime.timedelta(days=1),
        status=Consent.Status.WITHDRAWN,
    )

    assert run(tasks.flag_expiring_consents) == 0


def test_the_expiry_job_marks_past_consents_expired_once(institution_a, run):
    participant = ParticipantFactory(institution=institution_a)
    consent = ConsentFactory(participant=participant, expires_at=NOW() - datetime.timedelta(days=1))

    assert run(tasks.expire_consents) == 1
    assert run(tasks.expire_consents) == 0
    consent.refresh_from_db()
    assert consent.status == Consent.Status.EXPIRED


# --- The waiting list ------------------------------------------------------------------------


def waitlisted(group, name, minutes_ago, consent=True):
    participant = ParticipantFactory(
        institution=group.institution,
        alias=name,
        email=f"{name}@example.org",
        reminder_channel=Participant.Channel.EMAIL,
        language="en",
    )
    if consent:
        ConsentFactory(participant=participant, purpose=Consent.Purpose.CONTACT)
    ConsentFactory(participant=participant, purpose=Consent.Purpose.PARTICIPATION)
    return EnrollmentFactory(
        group=group,
        participant=participant,
        status=Enrollment.Status.WAITLISTED,
        waitlisted_at=NOW() - datetime.timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def full_group(institution_a, anna):
    from tests.factories import GroupFacilitatorFactory

    group = GroupFactory(institution=institution_a, capacity=2, min_size=1)
    GroupFacilitatorFactory(group=group, user=anna)
    EnrollmentFactory(group=group)
    EnrollmentFactory(group=group)
    return group


def test_a_freed_seat_is_offered_to_the_first_on_the_waiting_list_once(full_group, run, marek):
    first = waitlisted(full_group, "first", 60)
    second = waitlisted(full_group, "second", 30)
    assert run(tasks.offer_free_seats) == 0  # full: nobody is offered anything

    leaving = full_group.enrollments.filter(status="active").first()
    leaving.status = Enrollment.Status.WITHDRAWN
    leaving.save()
    assert run(tasks.offer_free_seats) == 2  # the member and the facilitator
    assert run(tasks.offer_free_seats) == 0

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.offer_expires_at > NOW() + datetime.timedelta(hours=71)
    assert second.offered_at is None
    assert sorted(m.to[0] for m in mail.outbox) == ["anna@example.org", "first@example.org"]
    member_email = next(m for m in mail.outbox if m.to == ["first@example.org"])
    assert full_group.name not in member_email.body
    # The offer holds the seat for its holder, who can be admitted.
    enrollment_admit(enrollment=first, by=marek)


def test_an_expired_offer_passes_the_seat_to_the_next_on_the_list(full_group, run):
    first = waitlisted(full_group, "first", 60)
    second = waitlisted(full_group, "second", 30)
    full_group.enrollments.filter(status="active").first().delete()
    run(tasks.offer_free_seats)
    mail.outbox.clear()
    Enrollment.objects.filter(pk=first.pk).update(
        offer_expires_at=NOW() - datetime.timedelta(minutes=1)
    )

    assert run(tasks.offer_free_seats) == 2
    assert run(tasks.offer_free_seats) == 0

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.offer_expires_at is None and first.offered_at is not None
    assert second.offer_expires_at > NOW()
    assert sorted(m.to[0] for m in mail.outbox) == ["anna@example.org", "second@example.org"]
    assert AuditEvent.objects.filter(action="enrollment.offer_lapsed").count() == 1


def test_a_waitlisted_person_without_contact_consent_is_offered_but_not_contacted(full_group, run):
    first = waitlisted(full_group, "first", 60, consent=False)
    full_group.enrollments.filter(status="active").first().delete()

    assert run(tasks.offer_free_seats) == 1  # the facilitator only

    first.refresh_from_db()
    assert first.offer_expires_at is not None
    assert [m.to for m in mail.outbox] == [["anna@example.org"]]


def test_an_offer_that_has_not_expired_cannot_be_released(full_group):
    first = waitlisted(full_group, "first", 60)
    with translation.override("en"), pytest.raises(ValidationError, match="no expired offer"):
        enrollment_offer_lapse(enrollment=first, by=None)


# --- Retention -------------------------------------------------------------------------------


def _age(model, pk, days):
    then = NOW() - datetime.timedelta(days=days)
    fields = {"updated_at": then}
    if hasattr(model, "created_at"):
        fields["created_at"] = then
    model.objects.filter(pk=pk).update(**fields)


def test_participants_inactive_past_retention_are_pseudonymised_once_and_audited(
    institution_a, group_a, run
):
    institution_a.retention_months = 12
    institution_a.save()
    stale = ParticipantFactory(
        institution=institution_a, alias="Old", email="old@example.org", legal_name="Jan Stary"
    )
    record = AttendanceFactory(
        session=SessionFactory(group=group_a, starts_at=NOW() - datetime.timedelta(days=500)),
        enrollment=EnrollmentFactory(group=group_a, participant=stale, status="completed"),
    )
    _age(Participant, stale.pk, 600)
    _age(Enrollment, record.enrollment_id, 500)
    type(record).objects.filter(pk=record.pk).update(
        updated_at=NOW() - datetime.timedelta(days=500)
    )
    recent = ParticipantFactory(institution=institution_a, alias="Recent")
    _age(Participant, recent.pk, 600)
    ConsentFactory(participant=recent)  # a consent changed lately: still active

    old_message = OutboxMessage.objects.create(
        key="test:old",
        kind="reminder",
        institution=institution_a,
        channel="email",
        participant=stale,
        to="old@example.org",
        body="x",
        status="sent",
    )

    assert run(tasks.erase_inactive_participants) == 1
    assert run(tasks.erase_inactive_participants) == 0

    old_message.refresh_from_db()
    assert old_message.to == ""  # the outbox keeps what was sent, not where to
    stale.refresh_from_db()
    recent.refresh_from_db()
    assert stale.is_erased and stale.alias == stale.code and stale.email == ""
    assert not recent.is_erased
    event = AuditEvent.objects.get(action="participant.erased")
    assert event.details["reason"] == "retention"


def test_a_current_member_is_never_erased_by_retention(institution_a, group_a, run):
    institution_a.retention_months = 1
    institution_a.save()
    member = ParticipantFactory(institution=institution_a)
    enrollment = EnrollmentFactory(group=group_a, participant=member)
    _age(Participant, member.pk, 400)
    _age(Enrollment, enrollment.pk, 400)

    assert run(tasks.erase_inactive_participants) == 0


# --- Checked again when sent -------------------------------------------------------------


def test_a_seat_offer_notice_goes_out_only_while_the_offer_stands(full_group, marek):
    first = waitlisted(full_group, "first", 60)
    full_group.enrollments.filter(status="active").first().delete()
    tasks.offer_free_seats()  # written; sending waits for a commit that does not come here
    member_notice, staff_notice = OutboxMessage.objects.filter(enrollment=first).order_by("kind")
    assert (member_notice.kind, staff_notice.kind) == ("seat_offered", "seat_offered_staff")

    # The offer stands: the member's notice goes out.
    assert services.outbox_send(message_id=member_notice.pk) == "sent"
    # Taken up before the facilitators' notice went out: theirs is not sent.
    first.refresh_from_db()
    enrollment_admit(enrollment=first, by=marek)
    assert services.outbox_send(message_id=staff_notice.pk) == "skipped"
    staff_notice.refresh_from_db()
    assert staff_notice.last_error == "the offer was taken up or withdrawn"
    assert [m.to for m in mail.outbox] == [["first@example.org"]]


def test_a_lapsed_offer_is_not_announced(full_group):
    first = waitlisted(full_group, "first", 60)
    full_group.enrollments.filter(status="active").first().delete()
    tasks.offer_free_seats()
    Enrollment.objects.filter(pk=first.pk).update(offer_expires_at=NOW())

    notices = OutboxMessage.objects.filter(enrollment=first)
    assert [services.outbox_send(message_id=m.pk) for m in notices] == ["skipped"] * 2
    assert {m.last_error for m in OutboxMessage.objects.filter(enrollment=first)} == {
        "the offer has lapsed"
    }
    assert mail.outbox == []


def test_a_follow_up_notice_is_not_sent_once_the_follow_up_is_done(group_a, anna, marek):
    member = make_member(group_a, name="kasia")
    for starts_at in (NOW() - datetime.timedelta(days=7), NOW() - datetime.timedelta(hours=1)):
        session = SessionFactory(group=group_a, starts_at=starts_at)
        attendance_record(session=session, marks=[Mark(member.pk, "unexcused")], by=marek)
    tasks.notify_follow_ups()
    (notice,) = OutboxMessage.objects.filter(kind="follow_up")
    assert notice.follow_up == FollowUpTask.objects.get()

    follow_up_resolve(task=notice.follow_up, by=anna, outcome="She called back; ill with flu.")

    assert services.outbox_send(message_id=notice.pk) == "skipped"
    notice.refresh_from_db()
    assert notice.last_error == "the follow-up is done"
    assert mail.outbox == []
