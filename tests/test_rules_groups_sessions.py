"""The rules of planning: who may plan, no double booking, recurrence, numbering, moving and
cancelling sessions."""

import datetime
import zoneinfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from audit.models import AuditEvent
from sessions.models import GroupFacilitator, RecurrenceRule, Session, SupportGroup
from sessions.services import (
    group_create,
    group_facilitator_remove,
    group_facilitator_set,
    group_update,
    schedule_create,
    session_cancel,
    session_mark_not_held,
    session_reschedule,
    session_schedule,
    session_update,
)

from .factories import (
    AttendanceFactory,
    EnrollmentFactory,
    GroupFacilitatorFactory,
    GroupFactory,
    RoomFactory,
    SessionFactory,
)

WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=WARSAW)


def next_week(weekday: int = 1) -> datetime.date:
    """A date in the coming weeks that falls on `weekday` (0 = Monday)."""
    day = timezone.localdate() + datetime.timedelta(days=8)
    return day + datetime.timedelta(days=(weekday - day.weekday()) % 7)


@pytest.fixture
def other_group_a(institution_a, ewa):
    """A second group in A, led by ewa, so that only a room can clash with group_a's sessions."""
    group = GroupFactory(institution=institution_a, name="Bereavement group")
    GroupFacilitatorFactory(group=group, user=ewa)
    return group


def schedule(group, by, room, day, hour=18, **kwargs):
    return session_schedule(
        group=group,
        by=by,
        starts_at=at(day, hour),
        ends_at=at(day, hour) + datetime.timedelta(minutes=90),
        room=room,
        **kwargs,
    )


# --- Groups and facilitators -------------------------------------------------------------------


def group_fields(**overrides):
    fields = {
        "name": "Parents' group",
        "category": SupportGroup.Category.PARENTING,
        "starts_on": next_week(),
        "capacity": 10,
        "min_size": 3,
    }
    return {**fields, **overrides}


def test_a_facilitator_creates_a_group_with_its_facilitators_and_one_event_each(
    institution_a, anna, ewa
):
    group = group_create(
        institution=institution_a,
        by=anna,
        facilitators=[(anna, "lead"), (ewa, "co_facilitator")],
        **group_fields(),
    )

    assert set(group.facilitator_roles.values_list("user__username", "role")) == {
        ("anna", "lead"),
        ("ewa", "co_facilitator"),
    }
    assert sorted(AuditEvent.objects.values_list("action", flat=True)) == [
        "group.created",
        "group.facilitator_set",
        "group.facilitator_set",
    ]


def test_staff_cannot_create_groups_or_change_facilitators(institution_a, marek, group_a, ewa):
    with pytest.raises(PermissionDenied, match="create groups"):
        group_create(institution=institution_a, by=marek, **group_fields())
    with pytest.raises(PermissionDenied, match="change a group's facilitators"):
        group_facilitator_set(group=group_a, user=ewa, role="co_facilitator", by=marek)
    with pytest.raises(PermissionDenied, match="change a group's facilitators"):
        group_facilitator_remove(group=group_a, user=group_a.facilitators.get(), by=marek)
    with pytest.raises(PermissionDenied, match="change groups"):
        group_update(group=group_a, by=marek, name="Renamed")
    assert not AuditEvent.objects.exists()


def test_the_auditor_and_another_institution_cannot_plan(institution_a, olga, karim, group_a):
    for outsider in (olga, karim):
        with pytest.raises(PermissionDenied):
            group_create(institution=institution_a, by=outsider, **group_fields())
        with pytest.raises(PermissionDenied):
            group_update(group=group_a, by=outsider, name="Renamed")
    assert SupportGroup.objects.count() == 1


def test_a_semi_open_group_needs_entry_points_and_others_have_none(institution_a, anna):
    with pytest.raises(ValidationError) as exc:
        group_create(
            institution=institution_a, by=anna, **group_fields(membership_mode="semi_open")
        )
    assert exc.value.message_dict == {
        "entry_points": [
            "A semi-open group needs its entry points: session numbers such as 1, 5, 9."
        ]
    }
    with pytest.raises(ValidationError) as exc:
        group_create(
            institution=institution_a,
            by=anna,
            **group_fields(membership_mode="open", entry_points=[1]),
        )
    assert exc.value.message_dict == {"entry_points": ["Only semi-open groups have entry points."]}

    group = group_create(
        institution=institution_a,
        by=anna,
        **group_fields(membership_mode="semi_open", entry_points=[9, 1, 5, 5]),
    )
    assert group.entry_points == [1, 5, 9]


def test_the_minimum_size_cannot_exceed_the_capacity(institution_a, anna, group_a):
    with pytest.raises(ValidationError) as exc:
        group_update(group=group_a, by=anna, capacity=4, min_size=5)

    assert "min_size" in exc.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportGroup.objects.filter(pk=group_a.pk).update(min_size=30, capacity=4)


def test_a_group_cannot_use_another_institutions_room(institution_a, anna, institution_b):
    foreign_room = RoomFactory(site__institution=institution_b)

    with pytest.raises(ValidationError) as exc:
        group_create(institution=institution_a, by=anna, **group_fields(default_room=foreign_room))

    assert exc.value.message_dict == {"default_room": ["This room belongs to another institution."]}


def test_only_facilitators_and_admins_of_the_institution_lead_groups(group_a, anna, marek, karim):
    for user in (marek, karim):
        with pytest.raises(ValidationError) as exc:
            group_facilitator_set(group=group_a, user=user, role="co_facilitator", by=anna)
        assert exc.value.message_dict == {
            "user": ["Only a facilitator or admin of this institution can lead its groups."]
        }


def test_an_unknown_facilitator_role_is_refused(group_a, anna, ewa):
    with pytest.raises(ValidationError) as exc:
        group_facilitator_set(group=group_a, user=ewa, role="boss", by=anna)

    assert exc.value.message_dict == {"role": ["Unknown facilitator role."]}


def test_removing_someone_who_does_not_facilitate_the_group_is_refused(group_a, anna, ewa):
    with pytest.raises(ValidationError) as exc:
        group_facilitator_remove(group=group_a, user=ewa, by=anna)

    assert exc.value.message_dict == {"user": ["This person does not facilitate the group."]}


def test_the_database_keeps_one_role_per_facilitator_and_group(group_a, anna):
    with pytest.raises(IntegrityError), transaction.atomic():
        GroupFacilitator.objects.create(group=group_a, user=anna, role="observer")


# --- Double booking ----------------------------------------------------------------------------


def test_a_room_booked_twice_at_once_is_refused(group_a, other_group_a, anna, ewa, room_a):
    day = next_week()
    first = schedule(group_a, anna, room_a, day, 18)

    with pytest.raises(ValidationError) as exc:
        session_schedule(
            group=other_group_a,
            by=ewa,
            starts_at=at(day, 19),
            ends_at=at(day, 20),
            room=room_a,
        )

    assert exc.value.message_dict == {
        "room": [f"The room is already booked at that time ({first})."]
    }
    assert Session.objects.count() == 1
    assert AuditEvent.objects.filter(action="session.scheduled").count() == 1


def test_back_to_back_sessions_in_one_room_are_fine(group_a, other_group_a, anna, ewa, room_a):
    day = next_week()
    schedule(group_a, anna, room_a, day, 18)

    session_schedule(
        group=other_group_a, by=ewa, starts_at=at(day, 19, 30), ends_at=at(day, 21), room=room_a
    )

    assert Session.objects.count() == 2


def test_a_facilitator_booked_twice_at_once_is_refused(institution_a, group_a, anna, room_a):
    second_group = GroupFactory(institution=institution_a, name="Second group")
    GroupFacilitatorFactory(group=second_group, user=anna, role="co_facilitator")
    other_room = RoomFactory(site=room_a.site)
    day = next_week()
    first = schedule(group_a, anna, room_a, day, 18)

    with pytest.raises(ValidationError) as exc:
        schedule(second_group, anna, other_room, day, 19)

    assert exc.value.message_dict == {
        "starts_at": [f"A facilitator of this session is already booked at that time ({first})."]
    }


def test_a_clash_at_another_institution_refuses_without_naming_its_session(
    institution_a, institution_b, group_a, anna, room_a
):
    """anna also works at B: her B session blocks the time but stays invisible to A."""
    from .factories import MembershipFactory

    MembershipFactory(user=anna, institution=institution_b, role="facilitator")
    b_group = GroupFactory(institution=institution_b, name="B secret group")
    GroupFacilitatorFactory(group=b_group, user=anna)
    day = next_week()
    schedule(b_group, anna, RoomFactory(site__institution=institution_b), day, 18)

    with pytest.raises(ValidationError) as exc:
        schedule(group_a, anna, room_a, day, 18)

    message = exc.value.message_dict["starts_at"][0]
    assert "B secret group" not in message
    assert message == (
        "A facilitator of this session is already booked at that time "
        "(a session of another institution)."
    )


def test_an_observer_is_not_booked_by_the_groups_sessions(
    institution_a, group_a, anna, ewa, room_a
):
    second_group = GroupFactory(institution=institution_a, name="Second group")
    GroupFacilitatorFactory(group=second_group, user=ewa)
    GroupFacilitatorFactory(group=second_group, user=anna, role="observer")
    day = next_week()
    schedule(group_a, anna, room_a, day, 18)

    schedule(second_group, ewa, RoomFactory(site=room_a.site), day, 18)

    assert Session.objects.count() == 2


def test_a_cancelled_session_frees_its_room_and_facilitators(
    group_a, other_group_a, anna, ewa, room_a
):
    day = next_week()
    first = schedule(group_a, anna, room_a, day, 18)
    session_cancel(session=first, by=anna, reason="Facilitator ill")

    second = schedule(other_group_a, ewa, room_a, day, 18)
    again = schedule(group_a, anna, RoomFactory(site=room_a.site), day, 18, theme="Make-up")

    assert second.room == room_a
    assert again.theme == "Make-up"


def test_a_substitute_booked_elsewhere_at_once_is_refused(
    group_a, other_group_a, anna, ewa, room_a
):
    day = next_week()
    elsewhere = schedule(other_group_a, ewa, room_a, day, 18)
    session = schedule(group_a, anna, RoomFactory(site=room_a.site), day, 18)

    with pytest.raises(ValidationError) as exc:
        session_update(session=session, by=anna, substitute_facilitator=ewa)

    assert exc.value.message_dict == {
        "starts_at": [
            f"A facilitator of this session is already booked at that time ({elsewhere})."
        ]
    }
    session.refresh_from_db()
    assert session.substitute_facilitator is None


def test_the_substitute_must_lead_groups_in_the_institution(group_a, anna, marek, karim, room_a):
    session = schedule(group_a, anna, room_a, next_week())

    for user in (marek, karim):
        with pytest.raises(ValidationError) as exc:
            session_update(session=session, by=anna, substitute_facilitator=user)
        assert exc.value.message_dict == {
            "substitute_facilitator": ["The substitute must be a facilitator of this institution."]
        }


def test_a_session_needs_a_room_or_a_link_and_must_end_after_it_starts(group_a, anna):
    day = next_week()
    with pytest.raises(ValidationError) as exc:
        session_schedule(group=group_a, by=anna, starts_at=at(day, 18), ends_at=at(day, 19))
    assert exc.value.message_dict == {"room": ["Give a room, an online link or both."]}

    with pytest.raises(ValidationError) as exc:
        session_schedule(
            group=group_a,
            by=anna,
            starts_at=at(day, 18),
            ends_at=at(day, 18),
            online_link="https://meet.example.org/x",
        )
    assert exc.value.message_dict == {"ends_at": ["A session must end after it starts."]}


def test_a_session_cannot_use_another_institutions_room(group_a, anna, institution_b):
    with pytest.raises(ValidationError) as exc:
        schedule(group_a, anna, RoomFactory(site__institution=institution_b), next_week())

    assert exc.value.message_dict == {"room": ["This room belongs to another institution."]}


def test_an_ended_group_gets_no_sessions(group_a, anna, room_a):
    SupportGroup.objects.filter(pk=group_a.pk).update(status=SupportGroup.Status.ENDED)
    group_a.refresh_from_db()

    with pytest.raises(ValidationError) as exc:
        schedule(group_a, anna, room_a, next_week())
    assert exc.value.messages == ["The group has ended."]
    with pytest.raises(ValidationError) as exc:
        schedule_create(
            group=group_a,
            by=anna,
            weekdays=[1],
            start_time=datetime.time(18),
            duration_minutes=90,
            starts_on=next_week(),
            count=3,
            room=room_a,
        )
    assert exc.value.messages == ["The group has ended."]


def test_staff_and_the_auditor_cannot_schedule(group_a, marek, olga, room_a):
    for user in (marek, olga):
        with pytest.raises(PermissionDenied, match="schedule sessions"):
            schedule(group_a, user, room_a, next_week())


def test_the_database_refuses_a_session_ending_before_it_starts(group_a):
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        SessionFactory(group=group_a, starts_at=now, ends_at=now)


# --- Recurrence --------------------------------------------------------------------------------


def weekly(group, by, **kwargs):
    arguments = {
        "weekdays": [1],
        "start_time": datetime.time(18),
        "duration_minutes": 90,
        "starts_on": next_week(1),
    }
    return schedule_create(group=group, by=by, **{**arguments, **kwargs})


def local_days(sessions):
    return [timezone.localtime(s.starts_at, WARSAW).date() for s in sessions]


def test_a_schedule_with_a_count_creates_that_many_numbered_sessions(group_a, anna, room_a):
    start = next_week(1)

    sessions = weekly(group_a, anna, count=4, room=room_a)

    assert [s.sequence for s in sessions] == [1, 2, 3, 4]
    assert local_days(sessions) == [start + datetime.timedelta(weeks=n) for n in range(4)]
    assert RecurrenceRule.objects.get().sessions.count() == 4
    assert list(AuditEvent.objects.values_list("action", "details")) == [
        ("schedule.created", {"sessions": 4})
    ]


def test_a_schedule_until_a_date_includes_that_date(group_a, anna, room_a):
    start = next_week(1)

    sessions = weekly(group_a, anna, until=start + datetime.timedelta(weeks=2), room=room_a)

    assert local_days(sessions) == [start + datetime.timedelta(weeks=n) for n in range(3)]


def test_skipped_dates_are_left_out_and_a_count_still_counts_sessions(group_a, anna, room_a):
    start = next_week(1)
    holiday = start + datetime.timedelta(weeks=1)

    sessions = weekly(group_a, anna, count=3, skip_dates=[holiday], room=room_a)

    assert local_days(sessions) == [
        start,
        start + datetime.timedelta(weeks=2),
        start + datetime.timedelta(weeks=3),
    ]
    assert [s.sequence for s in sessions] == [1, 2, 3]


def test_skipped_dates_are_left_out_of_a_schedule_until_a_date(group_a, anna, room_a):
    start = next_week(1)

    sessions = weekly(
        group_a,
        anna,
        until=start + datetime.timedelta(weeks=2),
        skip_dates=[start + datetime.timedelta(weeks=1)],
        room=room_a,
    )

    assert local_days(sessions) == [start, start + datetime.timedelta(weeks=2)]


def test_a_schedule_meets_on_several_weekdays_every_other_week(group_a, anna, room_a):
    monday = next_week(0)

    sessions = weekly(
        group_a, anna, weekdays=[3, 0], interval_weeks=2, starts_on=monday, count=4, room=room_a
    )

    assert local_days(sessions) == [
        monday,
        monday + datetime.timedelta(days=3),
        monday + datetime.timedelta(days=14),
        monday + datetime.timedelta(days=17),
    ]


def test_sessions_stay_at_six_in_the_evening_across_the_october_clock_change(group_a, anna, room_a):
    # Poland leaves summer time on the last Sunday of October: next year's, so the series lies
    # ahead whatever day the suite runs on.
    year = timezone.localdate().year + 1
    last_sunday = max(
        datetime.date(year, 10, d)
        for d in range(25, 32)
        if datetime.date(year, 10, d).weekday() == 6
    )
    first = last_sunday - datetime.timedelta(days=12)  # the Tuesday of the week before
    sessions = weekly(group_a, anna, weekdays=[1], starts_on=first, count=3, room=room_a)

    local = [timezone.localtime(s.starts_at, WARSAW) for s in sessions]
    assert [(t.date(), t.hour, t.minute) for t in local] == [
        (first + datetime.timedelta(days=7 * week), 18, 0) for week in range(3)
    ]
    utc_hours = [s.starts_at.astimezone(datetime.UTC).hour for s in sessions]
    assert utc_hours == [16, 16, 17]
    assert all(s.ends_at - s.starts_at == datetime.timedelta(minutes=90) for s in sessions)


def test_a_schedule_needs_either_a_count_or_a_last_date(group_a, anna, room_a):
    for extra in ({}, {"count": 3, "until": next_week() + datetime.timedelta(weeks=4)}):
        with pytest.raises(ValidationError) as exc:
            weekly(group_a, anna, room=room_a, **extra)
        assert exc.value.message_dict == {
            "until": ["Give either a last date or a number of sessions."]
        }


def test_a_schedule_refuses_a_last_date_before_the_first_and_no_weekdays(group_a, anna, room_a):
    with pytest.raises(ValidationError) as exc:
        weekly(
            group_a, anna, weekdays=[], until=next_week() - datetime.timedelta(days=1), room=room_a
        )

    assert exc.value.message_dict == {
        "weekdays": ["Choose at least one weekday."],
        "until": ["The last date must not be before the first."],
    }
    assert not RecurrenceRule.objects.exists()


def test_a_schedule_that_produces_no_sessions_is_refused(group_a, anna, room_a):
    start = next_week(1)

    with pytest.raises(ValidationError) as exc:
        weekly(group_a, anna, until=start, skip_dates=[start], room=room_a)

    assert exc.value.message_dict == {"starts_on": ["This schedule produces no sessions."]}


def test_one_clash_refuses_the_whole_schedule_and_creates_nothing(
    group_a, other_group_a, anna, ewa, room_a
):
    start = next_week(1)
    clash = schedule(other_group_a, ewa, room_a, start + datetime.timedelta(weeks=2), 18, theme="x")
    events_before = AuditEvent.objects.count()

    with pytest.raises(ValidationError) as exc:
        weekly(group_a, anna, count=5, room=room_a)

    assert exc.value.message_dict == {
        "room": [
            f"{start + datetime.timedelta(weeks=2)} 18:00: "
            f"The room is already booked at that time ({clash})."
        ]
    }
    assert list(Session.objects.all()) == [clash]
    assert not RecurrenceRule.objects.exists()
    assert AuditEvent.objects.count() == events_before


# --- Numbering, moving, cancelling -------------------------------------------------------------


def test_an_extra_session_is_numbered_in_order_and_later_ones_move_up(group_a, anna, room_a):
    start = next_week(1)
    first, second, third = weekly(group_a, anna, count=3, room=room_a)

    extra = schedule(group_a, anna, room_a, start + datetime.timedelta(days=2))

    numbers = dict(Session.objects.values_list("pk", "sequence"))
    assert (numbers[first.pk], numbers[extra.pk], numbers[second.pk], numbers[third.pk]) == (
        1,
        2,
        3,
        4,
    )


def test_moving_a_session_renumbers_the_group_and_writes_one_event(group_a, anna, room_a):
    start = next_week(1)
    first, second, third = weekly(group_a, anna, count=3, room=room_a)
    events_before = AuditEvent.objects.count()

    session_reschedule(
        session=first, by=anna, starts_at=at(start + datetime.timedelta(days=15), 18)
    )

    numbers = dict(Session.objects.values_list("pk", "sequence"))
    assert (numbers[second.pk], numbers[third.pk], numbers[first.pk]) == (1, 2, 3)
    first.refresh_from_db()
    assert first.ends_at - first.starts_at == datetime.timedelta(minutes=90)
    event = AuditEvent.objects.order_by("-id").first()
    assert AuditEvent.objects.count() == events_before + 1
    previous = datetime.datetime.fromisoformat(event.details["previous"]["starts_at"])
    assert (event.action, previous) == ("session.rescheduled", at(start, 18))


def test_moving_onto_a_booked_room_is_refused_and_changes_nothing(
    group_a, other_group_a, anna, ewa, room_a
):
    day = next_week()
    taken = schedule(other_group_a, ewa, room_a, day, 10)
    session = schedule(group_a, anna, room_a, day, 18)

    with pytest.raises(ValidationError) as exc:
        session_reschedule(session=session, by=anna, starts_at=at(day, 10, 30))

    assert exc.value.message_dict == {
        "room": [f"The room is already booked at that time ({taken})."]
    }
    session.refresh_from_db()
    assert timezone.localtime(session.starts_at, WARSAW).hour == 18


def test_a_session_that_has_begun_or_is_not_scheduled_cannot_be_moved(group_a, anna):
    begun = SessionFactory(group=group_a, sequence=1)
    with pytest.raises(ValidationError) as exc:
        session_reschedule(
            session=begun, by=anna, starts_at=timezone.now() + datetime.timedelta(days=1)
        )
    assert exc.value.messages == ["A session that has begun cannot be moved."]

    cancelled = SessionFactory(
        group=group_a,
        status=Session.Status.CANCELLED,
        starts_at=timezone.now() + datetime.timedelta(days=3),
    )
    with pytest.raises(ValidationError) as exc:
        session_reschedule(
            session=cancelled, by=anna, starts_at=timezone.now() + datetime.timedelta(days=4)
        )
    assert exc.value.messages == ["Only a scheduled session can be moved."]


def test_a_session_cannot_be_moved_into_the_past(group_a, anna, room_a):
    session = schedule(group_a, anna, room_a, next_week())

    with pytest.raises(ValidationError) as exc:
        session_reschedule(
            session=session, by=anna, starts_at=timezone.now() - datetime.timedelta(days=1)
        )

    assert exc.value.message_dict == {"starts_at": ["A session cannot be moved into the past."]}


def test_cancelling_records_who_when_and_why_in_one_event(group_a, anna, room_a):
    session = schedule(group_a, anna, room_a, next_week())
    events_before = AuditEvent.objects.count()

    session_cancel(
        session=session, by=anna, reason="  Facilitator ill ", cancelled_by="facilitator"
    )

    session.refresh_from_db()
    assert (session.status, session.cancelled_by, session.cancelled_by_user) == (
        "cancelled",
        "facilitator",
        anna,
    )
    assert session.cancellation_reason == "Facilitator ill"
    assert session.cancelled_at is not None
    assert AuditEvent.objects.count() == events_before + 1
    assert AuditEvent.objects.order_by("-id").first().action == "session.cancelled"


def test_cancelling_refuses_a_missing_reason_a_second_cancel_and_a_held_session(group_a, anna):
    session = SessionFactory(group=group_a, starts_at=timezone.now() + datetime.timedelta(days=2))
    with pytest.raises(ValidationError) as exc:
        session_cancel(session=session, by=anna, reason=" ")
    assert exc.value.message_dict == {"reason": ["Give the reason for the cancellation."]}
    with pytest.raises(ValidationError) as exc:
        session_cancel(session=session, by=anna, reason="x", cancelled_by="weather")
    assert exc.value.message_dict == {
        "cancelled_by": ["Say whether the centre or the facilitator cancelled."]
    }

    session_cancel(session=session, by=anna, reason="Holiday")
    with pytest.raises(ValidationError) as exc:
        session_cancel(session=session, by=anna, reason="Holiday")
    assert exc.value.messages == ["The session is already cancelled."]

    held = SessionFactory(group=group_a, status=Session.Status.HELD)
    with pytest.raises(ValidationError) as exc:
        session_cancel(session=held, by=anna, reason="Too late")
    assert exc.value.messages == ["A session that took place cannot be cancelled."]


def test_staff_cannot_cancel_or_move_sessions(group_a, marek, anna, room_a):
    session = schedule(group_a, anna, room_a, next_week())

    with pytest.raises(PermissionDenied, match="cancel sessions"):
        session_cancel(session=session, by=marek, reason="No")
    with pytest.raises(PermissionDenied, match="reschedule sessions"):
        session_reschedule(session=session, by=marek, starts_at=at(next_week(), 10))


def test_a_session_is_marked_not_held_only_after_it_began_and_without_quorum(group_a, anna):
    future = SessionFactory(group=group_a, starts_at=timezone.now() + datetime.timedelta(days=1))
    with pytest.raises(ValidationError) as exc:
        session_mark_not_held(session=future, by=anna)
    assert exc.value.messages == ["A session that has not begun cannot be marked as not held."]

    quorate = SessionFactory(group=group_a, status=Session.Status.HELD)
    for _n in range(group_a.min_size):
        AttendanceFactory(session=quorate)
    with pytest.raises(ValidationError) as exc:
        session_mark_not_held(session=quorate, by=anna)
    assert exc.value.messages == ["The quorum was reached: attendance shows enough people present."]

    empty = SessionFactory(group=group_a)
    session_mark_not_held(session=empty, by=anna, reason="Two came")
    empty.refresh_from_db()
    assert empty.status == Session.Status.NOT_HELD
    with pytest.raises(ValidationError) as exc:
        session_mark_not_held(session=empty, by=anna)
    assert exc.value.messages == ["Only a scheduled or held session can be marked as not held."]


def test_a_new_lead_who_is_booked_elsewhere_at_the_groups_times_is_refused(
    group_a, other_group_a, anna, ewa, room_a
):
    day = next_week()
    elsewhere = schedule(other_group_a, ewa, room_a, day, 18)
    session = schedule(group_a, anna, RoomFactory(site=room_a.site), day, 19)

    with pytest.raises(ValidationError) as exc:
        group_facilitator_set(group=group_a, user=ewa, role="co_facilitator", by=anna)

    assert exc.value.message_dict == {
        "user": [
            f"This person is already booked at the time of session {session.sequence} "
            f"({elsewhere})."
        ]
    }
    assert not group_a.facilitator_roles.filter(user=ewa).exists()
    group_facilitator_set(group=group_a, user=ewa, role="observer", by=anna)
    assert group_a.facilitator_roles.get(user=ewa).role == "observer"


def test_cancelled_sessions_keep_their_numbers_and_renumbering_is_synced(group_a, anna, room_a):
    first, second, third = weekly(group_a, anna, count=3, room=room_a)
    session_cancel(session=second, by=anna, reason="Holiday")
    before = Session.objects.get(pk=third.pk).updated_at

    extra = schedule(group_a, anna, room_a, next_week(1) + datetime.timedelta(days=1))

    numbers = dict(Session.objects.values_list("pk", "sequence"))
    assert [numbers[s.pk] for s in (first, extra, second, third)] == [1, 2, 3, 4]
    assert extra.sequence == 2
    assert Session.objects.get(pk=third.pk).updated_at > before


def test_the_capacity_cannot_drop_below_the_active_members(group_a, anna):
    for _n in range(4):
        EnrollmentFactory(group=group_a)
    EnrollmentFactory(group=group_a, status="waitlisted")

    with pytest.raises(ValidationError) as exc:
        group_update(group=group_a, by=anna, capacity=3)

    assert exc.value.message_dict == {
        "capacity": ["The group has 4 active members; the capacity cannot be lower."]
    }
    assert group_update(group=group_a, by=anna, capacity=4).capacity == 4
