"""A group's lifecycle (SPEC "Group lifecycle"): planned → active ⇄ paused → ended and
planned → ended, nothing else; what pausing and ending do to sessions, members, the waiting
list, reminders and offers; on every path (service, API, admin, job)."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from rest_framework.test import APIClient

from attendance.models import Enrollment
from attendance.services import Mark, attendance_record, enrollment_admit
from audit.models import AuditEvent
from notifications.models import OutboxMessage
from notifications.services import reminders_enqueue, waitlist_offers_run
from sessions.models import Session, SupportGroup
from sessions.services import group_move, group_update, groups_resume_due, session_schedule
from sessions.tasks import settle_sessions

from .factories import ConsentFactory, EnrollmentFactory, ParticipantFactory, SessionFactory

Status = SupportGroup.Status
DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def contactable_member(group, **fields):
    participant = ParticipantFactory(
        institution=group.institution, email="m@example.org", reminder_channel="email"
    )
    ConsentFactory(participant=participant, purpose="contact")
    ConsentFactory(participant=participant, purpose="participation")
    return EnrollmentFactory(group=group, participant=participant, **fields)


@pytest.fixture
def api():
    def make(user):
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def coming(group_a):
    """Sessions of group_a in 2, 9 and 16 days."""
    now = timezone.now()
    return [
        SessionFactory(group=group_a, starts_at=now + n * DAY, sequence=10 + i)
        for i, n in enumerate((2, 9, 16))
    ]


@pytest.mark.parametrize(
    "current,new",
    [
        (Status.ENDED, Status.ACTIVE),
        (Status.ACTIVE, Status.PLANNED),
        (Status.PAUSED, Status.PLANNED),
        (Status.PLANNED, Status.PAUSED),
        (Status.ENDED, Status.PAUSED),
    ],
)
def test_the_lifecycle_refuses_any_other_move(group_a, anna, current, new):
    SupportGroup.objects.filter(pk=group_a.pk).update(status=current)

    with pytest.raises(ValidationError) as exc:
        group_move(
            group=group_a, by=anna, status=new, resume_on=timezone.localdate() + DAY, reason="x"
        )

    assert "status" in exc.value.message_dict
    group_a.refresh_from_db()
    assert group_a.status == current


def test_a_planned_group_that_never_ran_can_end(group_a, anna):
    SupportGroup.objects.filter(pk=group_a.pk).update(status=Status.PLANNED)

    group = group_move(group=group_a, by=anna, status=Status.ENDED, reason="Not enough referrals")

    assert group.status == Status.ENDED


def test_pausing_needs_a_day_to_resume_and_a_reason(group_a, anna):
    with pytest.raises(ValidationError) as exc:
        group_move(group=group_a, by=anna, status=Status.PAUSED)

    assert set(exc.value.message_dict) == {"resume_on", "reason"}


def test_pausing_cancels_the_sessions_in_between_and_tells_the_members(group_a, anna, coming):
    contactable_member(group_a)
    resume_on = timezone.localtime(coming[2].starts_at).date()

    group_move(group=group_a, by=anna, status=Status.PAUSED, resume_on=resume_on, reason="Holiday")

    statuses = [Session.objects.get(pk=s.pk).status for s in coming]
    assert statuses == ["cancelled", "cancelled", "scheduled"]
    assert Session.objects.get(pk=coming[0].pk).cancelled_by == Session.CancelledBy.CENTRE
    assert OutboxMessage.objects.filter(kind="session_cancelled").count() == 2
    event = AuditEvent.objects.filter(action="group.status_changed").get()
    assert event.details["cancelled"] == 2


def test_a_paused_group_sends_no_reminders_and_makes_no_offers(group_a, anna, marek):
    soon = SessionFactory(group=group_a, starts_at=timezone.now() + datetime.timedelta(hours=3))
    contactable_member(group_a)
    waiting = contactable_member(group_a, status="waitlisted", joined_on=None)
    Enrollment.objects.filter(pk=waiting.pk).update(waitlisted_at=timezone.now())
    SupportGroup.objects.filter(pk=group_a.pk).update(
        status=Status.PAUSED, resume_on=timezone.localdate() + 3 * DAY
    )

    reminders_enqueue()
    waitlist_offers_run()

    assert not OutboxMessage.objects.filter(session=soon, kind="reminder").exists()
    waiting.refresh_from_db()
    assert waiting.offer_expires_at is None


def test_a_paused_group_resumes_on_its_day_in_the_periodic_job(group_a, anna):
    group_move(
        group=group_a,
        by=anna,
        status=Status.PAUSED,
        resume_on=timezone.localdate() + DAY,
        reason="Renovation",
    )

    settle_sessions()
    group_a.refresh_from_db()
    assert group_a.status == Status.PAUSED

    later = timezone.localdate() + 2 * DAY
    assert groups_resume_due(today=later) == [group_a.pk]
    assert groups_resume_due(today=later) == []  # idempotent: nothing left to resume
    group_a.refresh_from_db()
    assert (group_a.status, group_a.resume_on) == (Status.ACTIVE, None)


def test_ending_cancels_the_future_completes_members_and_ends_the_waiting_list(
    group_a, anna, coming
):
    past = SessionFactory(group=group_a, status="held", sequence=1)
    member = contactable_member(group_a)
    waiting = contactable_member(group_a, status="waitlisted", joined_on=None)

    group_move(group=group_a, by=anna, status=Status.ENDED, reason="Funding ended")

    group_a.refresh_from_db()
    today = timezone.localdate()
    assert (group_a.status, group_a.ends_on) == (Status.ENDED, today)
    assert {Session.objects.get(pk=s.pk).status for s in coming} == {"cancelled"}
    assert Session.objects.get(pk=past.pk).status == "held"
    member.refresh_from_db()
    assert (member.status, member.left_on) == ("completed", today + DAY)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.end_reason) == ("withdrawn", "Funding ended")
    assert OutboxMessage.objects.filter(kind="waitlist_left", enrollment=waiting).exists()


def test_an_ended_group_lets_nothing_new_in_but_past_attendance_can_be_corrected(
    group_a, anna, marek
):
    held = SessionFactory(group=group_a, status="held", sequence=1)
    member = EnrollmentFactory(group=group_a)
    attendance_record(session=held, marks=[Mark(member.participant_id, "present")], by=marek)
    group_move(group=group_a, by=anna, status=Status.ENDED, reason="Done")
    referred = EnrollmentFactory(group=group_a, status="referred", joined_on=None)
    Enrollment.objects.filter(pk=referred.pk).update(status="referred")

    with pytest.raises(ValidationError):
        session_schedule(
            group=group_a,
            by=anna,
            starts_at=timezone.now() + DAY,
            ends_at=timezone.now() + DAY + datetime.timedelta(hours=1),
        )
    with pytest.raises(ValidationError, match="The group has ended"):
        enrollment_admit(enrollment=referred, by=marek)
    corrected = attendance_record(
        session=held, marks=[Mark(member.participant_id, "late")], by=marek
    )
    assert corrected[0].status == "late"


def test_a_status_change_through_group_update_is_a_lifecycle_move(group_a, anna, coming):
    with pytest.raises(ValidationError):
        group_update(group=group_a, by=anna, status=Status.PLANNED)

    group = group_update(
        group=group_a,
        by=anna,
        status=Status.PAUSED,
        resume_on=timezone.localdate() + 5 * DAY,
        reason="Facilitator ill",
    )

    assert (group.status, group.status_reason) == (Status.PAUSED, "Facilitator ill")
    assert Session.objects.get(pk=coming[0].pk).status == "cancelled"


def test_the_api_pauses_a_group_with_a_patch_of_its_status(api, group_a, anna, coming):
    client = api(anna)
    url = f"/api/v1/groups/{group_a.pk}/"

    refused = client.patch(url, {"status": "planned"}, format="json")
    paused = client.patch(
        url,
        {
            "status": "paused",
            "resume_on": (timezone.localdate() + 5 * DAY).isoformat(),
            "reason": "Holiday",
        },
        format="json",
    )

    assert refused.status_code == 400, refused.content
    assert paused.status_code == 200, paused.content
    assert paused.json()["status"] == "paused"
    assert Session.objects.get(pk=coming[0].pk).status == "cancelled"


def test_a_started_closed_group_cannot_be_opened_to_slip_someone_in(group_a, anna):
    SupportGroup.objects.filter(pk=group_a.pk).update(membership_mode="closed")
    group_a.refresh_from_db()

    with pytest.raises(ValidationError) as exc:
        group_update(group=group_a, by=anna, membership_mode="open")

    assert "membership_mode" in exc.value.message_dict
    assert (
        group_update(group=group_a, by=anna, membership_mode="closed").membership_mode == "closed"
    )
