"""The waiting list is fair (SPEC): while anyone waits, a free seat goes to the head of the list
by an offer; anyone else needs an admin's override with a reason; offers obey the admission
rule (semi-open: ahead of the next entry session, valid until it begins); a lapsed offer keeps
the place once, then the person leaves the list with a reason and a notice."""

import datetime
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone, translation

from attendance.models import Enrollment
from attendance.services import (
    enrollment_admit,
    enrollment_offer_lapse,
    enrollment_walk_in,
)
from notifications.models import OutboxMessage
from notifications.services import waitlist_offers_run
from sessions.models import SupportGroup

from .factories import (
    ConsentFactory,
    EnrollmentFactory,
    GroupFacilitatorFactory,
    GroupFactory,
    MembershipFactory,
    ParticipantFactory,
    SessionFactory,
    UserFactory,
)

DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def person(institution, contact=False):
    participant = ParticipantFactory(
        institution=institution,
        email="p@example.org" if contact else "",
        reminder_channel="email" if contact else "none",
    )
    ConsentFactory(participant=participant, purpose="participation")
    if contact:
        ConsentFactory(participant=participant, purpose="contact")
    return participant


def waiting(group, minutes_ago=60, contact=False):
    enrollment = EnrollmentFactory(
        group=group,
        participant=person(group.institution, contact),
        status="waitlisted",
        joined_on=None,
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(
        waitlisted_at=timezone.now() - datetime.timedelta(minutes=minutes_ago)
    )
    enrollment.refresh_from_db()
    return enrollment


def referred(group):
    return EnrollmentFactory(
        group=group, participant=person(group.institution), status="referred", joined_on=None
    )


@pytest.fixture
def small_open_group(institution_a, anna):
    group = GroupFactory(institution=institution_a, capacity=3, min_size=2)
    GroupFacilitatorFactory(group=group, user=anna)
    for _ in range(2):
        EnrollmentFactory(group=group, participant=person(institution_a))
    return group


def test_a_walk_in_cannot_take_the_last_seat_ahead_of_a_waiting_person(small_open_group, marek):
    waiting(small_open_group)

    with pytest.raises(ValidationError, match="Others are waiting for this group"):
        enrollment_walk_in(
            participant=person(small_open_group.institution), group=small_open_group, by=marek
        )
    with pytest.raises(ValidationError, match="Others are waiting for this group"):
        enrollment_admit(enrollment=referred(small_open_group), by=marek)


def test_an_admins_override_needs_a_reason_to_pass_the_waiting_list(small_open_group, ewa):
    waiting(small_open_group)
    walk_in = person(small_open_group.institution)

    with pytest.raises(ValidationError) as exc:
        enrollment_walk_in(participant=walk_in, group=small_open_group, by=ewa, override=True)
    assert "reason" in exc.value.message_dict
    admitted = enrollment_walk_in(
        participant=walk_in,
        group=small_open_group,
        by=ewa,
        override=True,
        reason="Court-ordered placement starting today",
    )

    assert admitted.admitted_with_override


def test_the_head_of_the_list_is_offered_the_free_seat(small_open_group):
    first = waiting(small_open_group, minutes_ago=90)
    second = waiting(small_open_group, minutes_ago=30)

    waitlist_offers_run()

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.offer_expires_at is not None
    assert second.offer_expires_at is None


@pytest.fixture
def semi_open(institution_a, anna):
    """A semi-open group that started; its next session (in 2 days) is not an entry point,
    the one in 9 days is."""
    group = GroupFactory(
        institution=institution_a,
        membership_mode=SupportGroup.MembershipMode.SEMI_OPEN,
        entry_points=[1, 3],
        capacity=3,
        starts_on=timezone.localdate() - 7 * DAY,
    )
    GroupFacilitatorFactory(group=group, user=anna)
    now = timezone.now()
    SessionFactory(
        group=group, sequence=1, starts_at=now - 7 * DAY, status="held", is_entry_point=True
    )
    SessionFactory(group=group, sequence=2, starts_at=now + 2 * DAY)
    entry = SessionFactory(group=group, sequence=3, starts_at=now + 9 * DAY, is_entry_point=True)
    return group, entry


def test_a_semi_open_offer_is_valid_until_the_next_entry_session_begins(semi_open, marek):
    group, entry = semi_open
    head = waiting(group)

    waitlist_offers_run()

    head.refresh_from_db()
    assert head.offer_expires_at == entry.starts_at
    admitted = enrollment_admit(enrollment=head, by=marek)
    assert admitted.joined_on == entry.local_date()


def test_a_semi_open_group_without_a_coming_entry_session_makes_no_offer(semi_open):
    group, entry = semi_open
    entry.status = "cancelled"
    entry.save(update_fields=["status"])
    head = waiting(group)

    waitlist_offers_run()

    head.refresh_from_db()
    assert head.offer_expires_at is None


def test_a_lapsed_offer_keeps_the_place_once_then_the_person_leaves_with_a_notice(
    small_open_group,
):
    head = waiting(small_open_group, contact=True)
    waitlist_offers_run()
    later = timezone.now() + 4 * DAY

    head.refresh_from_db()
    enrollment_offer_lapse(enrollment=head, by=None, now=later)
    head.refresh_from_db()
    assert (head.status, head.offers_lapsed) == ("waitlisted", 1)

    waitlist_offers_run()  # offered again: the place was kept
    head.refresh_from_db()
    assert head.offer_expires_at is not None
    enrollment_offer_lapse(enrollment=head, by=None, now=timezone.now() + 8 * DAY)

    head.refresh_from_db()
    assert head.status == "withdrawn"
    assert "Two offers of a seat lapsed" in head.end_reason
    notice = OutboxMessage.objects.get(kind="waitlist_left", enrollment=head)
    assert small_open_group.name not in notice.body


def _race_once(institution, anna, piotr) -> tuple[dict, SupportGroup]:
    group = GroupFactory(institution=institution, capacity=3, min_size=2)
    GroupFacilitatorFactory(group=group, user=anna)
    for _ in range(2):
        EnrollmentFactory(group=group, participant=person(institution))
    head = waiting(group)  # no offer made yet
    walk_in = person(institution)
    barrier = threading.Barrier(2)
    outcomes = {}

    def attempt(name, admit):
        barrier.wait()
        try:
            admit()
            outcomes[name] = "admitted"
        except ValidationError as exc:
            outcomes[name] = exc.messages
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=attempt, args=("head", lambda: enrollment_admit(enrollment=head, by=anna))
        ),
        threading.Thread(
            target=attempt,
            args=(
                "walk_in",
                lambda: enrollment_walk_in(participant=walk_in, group=group, by=piotr),
            ),
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes, group


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_two_facilitators_admitting_into_the_last_seat_while_someone_waits(institution_a):
    """Anna admits the head of the list (no offer made yet) while Piotr walks someone into the
    last seat: the walk-in is refused every time, whoever comes first, and the group never
    exceeds its capacity."""
    anna = UserFactory(username="anna-race")
    piotr = UserFactory(username="piotr-race")
    for user in (anna, piotr):
        MembershipFactory(user=user, institution=institution_a, role="facilitator")
    for attempt in range(8):
        outcomes, group = _race_once(institution_a, anna, piotr)

        assert outcomes["head"] == "admitted", (attempt, outcomes)
        assert outcomes["walk_in"] != "admitted", (attempt, outcomes)
        assert group.enrollments.filter(status="active").count() == 3
