"""The rules of membership: capacity, the waiting list, what closed, open and semi-open groups
admit and when, and that joining or leaving changes future rosters only."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from attendance.models import Enrollment
from attendance.services import (
    enrollment_admit,
    enrollment_complete,
    enrollment_offer_seat,
    enrollment_refer,
    enrollment_waitlist,
    enrollment_walk_in,
    enrollment_withdraw,
    session_roster,
)
from audit.models import AuditEvent
from sessions.models import Session, SupportGroup

from . import clock
from .factories import (
    ConsentFactory,
    EnrollmentFactory,
    GroupFacilitatorFactory,
    GroupFactory,
    ParticipantFactory,
    SessionFactory,
)

NO_CONSENT = "The participant has not consented to take part in the group and its ground rules."
AHEAD = "Others are ahead on the waiting list; admit them first or offer them the seat."


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def today():
    return timezone.localdate()


def days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def person(institution, *, consent=True, consent_group=None):
    participant = ParticipantFactory(institution=institution)
    if consent:
        ConsentFactory(participant=participant, group=consent_group)
    return participant


def referred(group, by, **kwargs):
    return enrollment_refer(participant=person(group.institution, **kwargs), group=group, by=by)


def waitlisted(group, by):
    return enrollment_waitlist(enrollment=referred(group, by), by=by)


@pytest.fixture
def small_group(institution_a, anna):
    """An open group with two seats."""
    group = GroupFactory(institution=institution_a, capacity=2, min_size=1, name="Small group")
    GroupFacilitatorFactory(group=group, user=anna)
    return group


# --- Referral and the state machine ------------------------------------------------------------


def test_a_referral_writes_one_audit_event(group_a, marek):
    enrollment = referred(group_a, marek)

    assert enrollment.status == Enrollment.Status.REFERRED
    event = AuditEvent.objects.get()
    assert (event.action, event.object_id) == ("enrollment.referred", str(enrollment.pk))


def test_a_second_open_enrollment_in_one_group_is_refused(group_a, marek):
    enrollment = referred(group_a, marek)

    with pytest.raises(ValidationError) as exc:
        enrollment_refer(participant=enrollment.participant, group=group_a, by=marek)

    assert exc.value.message_dict == {
        "participant": ["The participant is already referred to, waiting for or in this group."]
    }
    assert AuditEvent.objects.count() == 1


def test_the_database_keeps_one_open_enrollment_per_participant_and_group(group_a, marek):
    enrollment = referred(group_a, marek)

    with pytest.raises(IntegrityError), transaction.atomic():
        EnrollmentFactory(group=group_a, participant=enrollment.participant, status="waitlisted")


def test_rejoining_after_withdrawal_is_a_new_enrollment(group_a, marek):
    first = referred(group_a, marek)
    enrollment_withdraw(enrollment=first, by=marek, reason="Moved away")

    again = enrollment_refer(participant=first.participant, group=group_a, by=marek)

    assert again.pk != first.pk
    first.refresh_from_db()
    assert first.status == Enrollment.Status.WITHDRAWN


def test_a_participant_of_another_institution_is_unknown(group_a, marek, institution_b):
    with pytest.raises(ValidationError) as exc:
        enrollment_refer(participant=person(institution_b), group=group_a, by=marek)

    assert exc.value.message_dict == {"participant": ["Unknown participant."]}


def test_an_unknown_referral_source_is_refused(group_a, marek):
    with pytest.raises(ValidationError) as exc:
        enrollment_refer(
            participant=person(group_a.institution), group=group_a, by=marek, referral_source="x"
        )

    assert exc.value.message_dict == {"referral_source": ["Unknown referral source."]}


def test_only_a_referred_participant_is_waitlisted(group_a, marek):
    enrollment = waitlisted(group_a, marek)

    with pytest.raises(ValidationError) as exc:
        enrollment_waitlist(enrollment=enrollment, by=marek)

    assert exc.value.messages == ["Only a referred participant can be put on the waiting list."]


def test_only_a_referred_or_waitlisted_participant_is_admitted(group_a, marek):
    enrollment = enrollment_admit(enrollment=referred(group_a, marek), by=marek)

    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=enrollment, by=marek)

    assert exc.value.messages == ["Only a referred or waitlisted participant can be admitted."]


def test_the_auditor_and_another_institution_cannot_manage_enrollments(group_a, olga, karim, marek):
    enrollment = referred(group_a, marek)

    for user in (olga, karim):
        with pytest.raises(PermissionDenied):
            enrollment_refer(participant=person(group_a.institution), group=group_a, by=user)
        with pytest.raises(PermissionDenied):
            enrollment_admit(enrollment=enrollment, by=user)
        with pytest.raises(PermissionDenied):
            enrollment_withdraw(enrollment=enrollment, by=user, reason="x")
    assert AuditEvent.objects.count() == 1


# --- Consent -----------------------------------------------------------------------------------


def test_no_active_enrollment_without_participation_consent(group_a, marek):
    enrollment = referred(group_a, marek, consent=False)

    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=enrollment, by=marek)

    assert exc.value.messages == [NO_CONSENT]
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.REFERRED
    assert AuditEvent.objects.count() == 1  # the referral only


def test_a_participation_consent_for_another_group_does_not_count(institution_a, group_a, marek):
    other = GroupFactory(institution=institution_a)
    enrollment = referred(group_a, marek, consent_group=other)

    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=enrollment, by=marek)

    assert exc.value.messages == [NO_CONSENT]


def test_a_participation_consent_for_this_group_counts(group_a, marek):
    enrollment = referred(group_a, marek, consent_group=group_a)

    assert enrollment_admit(enrollment=enrollment, by=marek).status == Enrollment.Status.ACTIVE


def test_a_withdrawn_participation_consent_does_not_count(group_a, marek):
    participant = person(group_a.institution, consent=False)
    ConsentFactory(participant=participant, withdrawn_at=timezone.now(), status="withdrawn")
    enrollment = enrollment_refer(participant=participant, group=group_a, by=marek)

    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=enrollment, by=marek)

    assert exc.value.messages == [NO_CONSENT]


# --- Capacity and the waiting list -------------------------------------------------------------


def test_admission_records_the_day_and_writes_one_event(group_a, marek):
    enrollment = referred(group_a, marek)

    enrollment_admit(enrollment=enrollment, by=marek)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.joined_on) == (Enrollment.Status.ACTIVE, today())
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "enrollment.referred",
        "enrollment.admitted",
    ]


def test_a_full_group_refuses_another_member(small_group, marek):
    for _n in range(2):
        enrollment_admit(enrollment=referred(small_group, marek), by=marek)
    third = referred(small_group, marek)
    events = AuditEvent.objects.count()

    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=third, by=marek)

    assert exc.value.messages == ["The group is full (2 seats)."]
    assert AuditEvent.objects.count() == events


def test_the_waiting_list_is_first_come_first_served(group_a, marek):
    first = waitlisted(group_a, marek)
    second = waitlisted(group_a, marek)

    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=second, by=marek)
    assert exc.value.messages == [AHEAD]
    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=referred(group_a, marek), by=marek)
    assert exc.value.messages == [AHEAD]

    enrollment_admit(enrollment=first, by=marek)
    enrollment_admit(enrollment=second, by=marek)
    assert Enrollment.objects.active().count() == 2


def test_an_offered_seat_is_honoured_ahead_of_the_list(small_group, marek):
    enrollment_admit(enrollment=referred(small_group, marek), by=marek)
    first = waitlisted(small_group, marek)
    second = waitlisted(small_group, marek)

    enrollment_offer_seat(enrollment=second, by=marek, hours=48)
    admitted = enrollment_admit(enrollment=second, by=marek)

    assert admitted.status == Enrollment.Status.ACTIVE
    assert (admitted.offered_at, admitted.offer_expires_at) == (None, None)
    first.refresh_from_db()
    assert first.status == Enrollment.Status.WAITLISTED


def test_an_outstanding_offer_takes_a_seat(small_group, marek):
    enrollment_admit(enrollment=referred(small_group, marek), by=marek)
    offered = waitlisted(small_group, marek)
    enrollment_offer_seat(enrollment=offered, by=marek)
    latecomer = waitlisted(small_group, marek)

    with pytest.raises(ValidationError) as exc:
        enrollment_offer_seat(enrollment=latecomer, by=marek)
    assert exc.value.messages == ["The group is full (2 seats)."]
    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=latecomer, by=marek, override=False)
    assert exc.value.messages == ["The group is full (2 seats)."]


def test_an_expired_offer_frees_the_seat_but_keeps_the_place_in_the_queue(small_group, marek):
    enrollment_admit(enrollment=referred(small_group, marek), by=marek)
    offered = waitlisted(small_group, marek)
    enrollment_offer_seat(enrollment=offered, by=marek)
    Enrollment.objects.filter(pk=offered.pk).update(
        offer_expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    second = waitlisted(small_group, marek)

    enrollment_offer_seat(enrollment=second, by=marek)

    assert enrollment_admit(enrollment=second, by=marek).status == Enrollment.Status.ACTIVE
    offered.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=offered, by=marek)
    assert exc.value.messages == ["The group is full (2 seats)."]


def test_only_a_waitlisted_participant_is_offered_a_seat(group_a, marek):
    with pytest.raises(ValidationError) as exc:
        enrollment_offer_seat(enrollment=referred(group_a, marek), by=marek)

    assert exc.value.messages == ["Only a waitlisted participant can be offered a seat."]


# --- Closed, semi-open and open groups ---------------------------------------------------------


@pytest.fixture
def closed_group(institution_a, anna):
    group = GroupFactory(
        institution=institution_a,
        membership_mode=SupportGroup.MembershipMode.CLOSED,
        starts_on=today() - days(14),
        name="Closed group",
    )
    GroupFacilitatorFactory(group=group, user=anna)
    return group


def test_a_closed_group_admits_no_one_after_its_start(closed_group, marek):
    enrollment = referred(closed_group, marek)

    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=enrollment, by=marek)

    assert exc.value.messages == [
        f"This closed group started on {closed_group.starts_on.isoformat()} and admits no one "
        "after its start without an admin's override."
    ]


def test_a_closed_group_admits_on_or_before_its_start(closed_group, marek):
    enrollment = referred(closed_group, marek)

    admitted = enrollment_admit(enrollment=enrollment, by=marek, on=closed_group.starts_on)

    assert admitted.joined_on == closed_group.starts_on


def test_an_admin_overrides_a_closed_group_and_it_is_recorded(closed_group, ewa, marek):
    enrollment = referred(closed_group, marek)

    admitted = enrollment_admit(enrollment=enrollment, by=ewa, override=True)

    assert admitted.admitted_with_override
    event = AuditEvent.objects.get(action="enrollment.admitted")
    assert event.details["override"] is True


def test_a_facilitator_or_staff_cannot_override(closed_group, anna, marek):
    enrollment = referred(closed_group, marek)

    for user in (anna, marek):
        with pytest.raises(ValidationError) as exc:
            enrollment_admit(enrollment=enrollment, by=user, override=True)
        assert exc.value.message_dict == {
            "override": ["Only an institution admin can override the admission rules."]
        }


@pytest.fixture
def semi_open_group(institution_a, anna):
    """Entry points at sessions 1 and 3; session 1 was a week ago, 2 is tomorrow, 3 next week."""
    group = GroupFactory(
        institution=institution_a,
        membership_mode=SupportGroup.MembershipMode.SEMI_OPEN,
        entry_points=[1, 3],
        starts_on=today() - days(7),
        name="Semi-open group",
    )
    GroupFacilitatorFactory(group=group, user=anna)
    # At 18:00 on those days: `now + 1 day` at 23:30 before a daylight-saving change lands
    # the day after tomorrow.
    for number, offset in ((1, -7), (2, 1), (3, 8)):
        SessionFactory(group=group, sequence=number, starts_at=clock.days_ahead_at(offset, 18))
    return group


def test_a_semi_open_group_refuses_newcomers_between_entry_points(semi_open_group, marek):
    enrollment = referred(semi_open_group, marek)

    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=enrollment, by=marek)

    assert exc.value.messages == [
        "This semi-open group admits newcomers only at sessions 1, 3; the next session is number 2."
    ]


def test_a_semi_open_group_admits_newcomers_at_an_entry_point(semi_open_group, marek):
    enrollment = referred(semi_open_group, marek)

    admitted = enrollment_admit(enrollment=enrollment, by=marek, on=today() + days(2))

    assert admitted.joined_on == today() + days(2)


def test_a_cancelled_session_is_not_the_next_session_of_a_semi_open_group(semi_open_group, marek):
    Session.objects.filter(group=semi_open_group, sequence=2).update(status="cancelled")
    enrollment = referred(semi_open_group, marek)

    assert enrollment_admit(enrollment=enrollment, by=marek).status == Enrollment.Status.ACTIVE


def test_an_open_group_accepts_a_walk_in_from_the_day_of_the_session(group_a, marek):
    session = SessionFactory(group=group_a)
    participant = person(group_a.institution)

    enrollment = enrollment_walk_in(
        participant=participant, group=group_a, by=marek, session=session
    )

    assert (enrollment.status, enrollment.is_walk_in) == (Enrollment.Status.ACTIVE, True)
    assert enrollment.joined_on == session.local_date()
    assert [e.participant for e in session_roster(session)] == [participant]
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["enrollment.walk_in"]


def test_closed_and_semi_open_groups_refuse_walk_ins(closed_group, semi_open_group, marek):
    for group in (closed_group, semi_open_group):
        with pytest.raises(ValidationError) as exc:
            enrollment_walk_in(participant=person(group.institution), group=group, by=marek)
        assert exc.value.messages == ["Only open groups accept walk-ins."]
    assert not Enrollment.objects.exists()


def test_a_walk_in_needs_the_participation_consent(group_a, marek):
    with pytest.raises(ValidationError) as exc:
        enrollment_walk_in(
            participant=person(group_a.institution, consent=False), group=group_a, by=marek
        )

    assert exc.value.messages == [NO_CONSENT]
    assert not Enrollment.objects.exists()


def test_a_walk_in_to_another_groups_session_is_refused(institution_a, group_a, marek):
    session = SessionFactory(group=GroupFactory(institution=institution_a))

    with pytest.raises(ValidationError) as exc:
        enrollment_walk_in(
            participant=person(group_a.institution), group=group_a, by=marek, session=session
        )

    assert exc.value.message_dict == {"session": ["This session belongs to another group."]}


def test_an_ended_group_admits_no_one(group_a, marek):
    enrollment = referred(group_a, marek)
    SupportGroup.objects.filter(pk=group_a.pk).update(status=SupportGroup.Status.ENDED)

    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=enrollment, by=marek)

    assert exc.value.messages == ["The group has ended."]


# --- Leaving and the rosters -------------------------------------------------------------------


def test_withdrawal_needs_a_reason_and_happens_once(group_a, marek):
    enrollment = enrollment_admit(enrollment=referred(group_a, marek), by=marek)
    with pytest.raises(ValidationError) as exc:
        enrollment_withdraw(enrollment=enrollment, by=marek, reason=" ")
    assert exc.value.message_dict == {"reason": ["Give the reason for the withdrawal."]}

    enrollment_withdraw(enrollment=enrollment, by=marek, reason="Found work")
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.left_on, enrollment.end_reason) == (
        "withdrawn",
        today(),
        "Found work",
    )
    with pytest.raises(ValidationError) as exc:
        enrollment_withdraw(enrollment=enrollment, by=marek, reason="Again")
    assert exc.value.messages == ["This enrollment has already ended."]


def test_only_an_active_member_completes_and_nobody_leaves_before_joining(group_a, marek):
    with pytest.raises(ValidationError) as exc:
        enrollment_complete(enrollment=referred(group_a, marek), by=marek)
    assert exc.value.messages == ["Only an active member can complete the group."]

    member = enrollment_admit(enrollment=referred(group_a, marek), by=marek)
    with pytest.raises(ValidationError) as exc:
        enrollment_complete(enrollment=member, by=marek, on=today() - days(1))
    assert exc.value.message_dict == {"on": ["A member cannot leave before joining."]}


def test_a_later_join_or_withdrawal_leaves_a_past_roster_unchanged(group_a, marek):
    past = SessionFactory(group=group_a, starts_at=timezone.now() - days(7))
    stays = EnrollmentFactory(group=group_a)
    leaves = EnrollmentFactory(group=group_a)
    before = [e.pk for e in session_roster(past)]

    enrollment_admit(enrollment=referred(group_a, marek), by=marek)
    enrollment_withdraw(enrollment=leaves, by=marek, reason="Moved away")

    assert [e.pk for e in session_roster(past)] == before == [stays.pk, leaves.pk]
    future = SessionFactory(group=group_a, starts_at=timezone.now() + days(7))
    assert leaves.pk not in [e.pk for e in session_roster(future)]
    assert len(session_roster(future)) == 2


def test_joining_cannot_be_dated_back_over_a_session_that_took_place(group_a, marek):
    held = SessionFactory(group=group_a, starts_at=timezone.now() - days(7), status="held")
    enrollment = referred(group_a, marek)

    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=enrollment, by=marek, on=today() - days(10))

    assert exc.value.message_dict == {
        "on": [
            f"Session {held.sequence} on {held.local_date().isoformat()} has already taken place; "
            "joining cannot change its roster."
        ]
    }
    assert enrollment_admit(enrollment=enrollment, by=marek, on=today() - days(3)).joined_on


def test_leaving_cannot_be_dated_back_over_a_session_that_took_place(group_a, marek):
    member = EnrollmentFactory(group=group_a)
    held = SessionFactory(group=group_a, starts_at=timezone.now() - days(7), status="held")

    with pytest.raises(ValidationError) as exc:
        enrollment_withdraw(enrollment=member, by=marek, reason="Gone", on=today() - days(10))

    assert exc.value.message_dict == {
        "on": [
            f"Session {held.sequence} on {held.local_date().isoformat()} has already taken place "
            f"with this member on its roster; they can leave from "
            f"{(held.local_date() + days(1)).isoformat()} on."
        ]
    }
    assert member in session_roster(held)


def test_leaving_today_after_todays_session_took_place_starts_tomorrow(group_a, marek):
    member = EnrollmentFactory(group=group_a)
    held = SessionFactory(
        group=group_a, starts_at=timezone.now() - datetime.timedelta(minutes=1), status="held"
    )

    enrollment_withdraw(enrollment=member, by=marek, reason="Gone")

    member.refresh_from_db()
    assert member.left_on == held.local_date() + days(1)
    assert member in session_roster(held)


def test_the_database_refuses_an_active_member_without_a_joining_day(group_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        EnrollmentFactory(group=group_a, status="active", joined_on=None)


def test_withdrawing_before_a_future_joining_day_leaves_no_roster(semi_open_group, marek):
    entry_day = today() + days(2)
    member = enrollment_admit(enrollment=referred(semi_open_group, marek), by=marek, on=entry_day)

    enrollment_withdraw(enrollment=member, by=marek, reason="Changed her mind")

    member.refresh_from_db()
    assert (member.joined_on, member.left_on) == (entry_day, entry_day)
    assert not Enrollment.objects.filter(group=semi_open_group).members_on(entry_day).exists()


def test_an_erased_participant_is_not_admitted(group_a, marek):
    enrollment = referred(group_a, marek)
    enrollment.participant.erased_at = timezone.now()
    enrollment.participant.save()

    with pytest.raises(ValidationError) as exc:
        enrollment_admit(enrollment=enrollment, by=marek)

    assert exc.value.message_dict == {"participant": ["This participant's data has been erased."]}


@pytest.mark.django_db(transaction=True)
def test_two_admissions_racing_for_the_last_seat_admit_one():
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    from .factories import InstitutionFactory, MembershipFactory, UserFactory

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers itself; the row lock matters on PostgreSQL")
    institution = InstitutionFactory()
    clerk = UserFactory(username="clerk")
    MembershipFactory(user=clerk, institution=institution, role="staff")
    group = GroupFactory(institution=institution, capacity=2, min_size=1)
    EnrollmentFactory(group=group)
    candidates = [
        enrollment_refer(participant=person(institution), group=group, by=clerk) for _n in range(2)
    ]
    start = Barrier(2)

    def admit(enrollment):
        try:
            start.wait(timeout=10)
            with translation.override("en"):
                enrollment_admit(enrollment=enrollment, by=clerk)
            return "admitted"
        except ValidationError as exc:
            return exc.messages[0]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(admit, candidates))

    assert outcomes == ["The group is full (2 seats).", "admitted"]
