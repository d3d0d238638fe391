"""Entry points are sessions, not numbers; sessions lie within the group's dates; the numbers
of held sessions never change; a series at a local time that does not exist says so."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from sessions.models import Session, SupportGroup
from sessions.services import schedule_create, session_cancel, session_schedule, session_update

from .factories import GroupFacilitatorFactory, GroupFactory, SessionFactory

DAY = datetime.timedelta(days=1)
LINK = "https://meet.example.org/x"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def semi_open(institution_a, anna):
    group = GroupFactory(
        institution=institution_a,
        membership_mode=SupportGroup.MembershipMode.SEMI_OPEN,
        entry_points=[1, 4],
        status="planned",
        starts_on=timezone.localdate() + DAY,
    )
    GroupFacilitatorFactory(group=group, user=anna)
    return group


def series(group, by, count=6, **fields):
    start = fields.pop("starts_on", group.starts_on)
    return schedule_create(
        group=group,
        by=by,
        weekdays=[start.weekday()],
        start_time=datetime.time(18, 0),
        duration_minutes=90,
        starts_on=start,
        count=count,
        online_link="https://meet.example.org/x",
        **fields,
    )


def test_the_series_rule_marks_its_entry_sessions(semi_open, anna):
    created = series(semi_open, anna)

    assert [s.sequence for s in created if s.is_entry_point] == [1, 4]
    assert Session.objects.filter(group=semi_open, is_entry_point=True).count() == 2


def test_cancelling_an_entry_session_makes_the_next_scheduled_one_the_entry_point(semi_open, anna):
    created = series(semi_open, anna)

    session_cancel(session=created[3], by=anna, reason="Holiday")

    flags = dict(Session.objects.filter(group=semi_open).values_list("sequence", "is_entry_point"))
    assert flags == {1: True, 2: False, 3: False, 4: True, 5: True, 6: False}
    assert Session.objects.get(pk=created[3].pk).status == "cancelled"


def test_an_extra_session_does_not_move_the_entry_points(semi_open, anna):
    created = series(semi_open, anna)
    extra_at = created[1].starts_at + DAY

    session_schedule(
        group=semi_open, by=anna, starts_at=extra_at, ends_at=extra_at + DAY / 24, online_link=LINK
    )

    entry = Session.objects.filter(group=semi_open, is_entry_point=True).order_by("starts_at")
    assert [s.pk for s in entry] == [created[0].pk, created[3].pk]


def test_an_entry_flag_is_editable_on_a_session_to_come(semi_open, anna):
    created = series(semi_open, anna)

    session_update(session=created[2], by=anna, is_entry_point=True)

    assert Session.objects.get(pk=created[2].pk).is_entry_point


def test_a_past_extra_session_never_renumbers_held_ones(group_a, ewa):
    now = timezone.now()
    held = [
        SessionFactory(group=group_a, sequence=n, starts_at=now - (10 - n) * DAY, status="held")
        for n in (1, 2, 3)
    ]
    coming = SessionFactory(group=group_a, sequence=4, starts_at=now + 3 * DAY)
    forgotten = held[0].starts_at + DAY / 2  # between sessions 1 and 2, in the past

    extra = session_schedule(
        group=group_a, by=ewa, starts_at=forgotten, ends_at=forgotten + DAY / 24, online_link=LINK
    )

    assert [Session.objects.get(pk=s.pk).sequence for s in held] == [1, 2, 3]
    assert extra.sequence == 4
    assert Session.objects.get(pk=coming.pk).sequence == 5


def test_a_session_in_the_past_needs_an_admin(group_a, anna):
    past = timezone.now() - 2 * DAY

    with pytest.raises(ValidationError, match="only an institution admin"):
        session_schedule(
            group=group_a, by=anna, starts_at=past, ends_at=past + DAY / 24, online_link=LINK
        )


def test_nothing_is_scheduled_before_the_start_or_after_the_end(group_a, anna):
    group_a.starts_on = timezone.localdate() + 5 * DAY
    group_a.ends_on = timezone.localdate() + 30 * DAY
    group_a.save(update_fields=["starts_on", "ends_on"])

    for offset in (2, 40):
        at = timezone.now() + offset * DAY
        with pytest.raises(ValidationError) as exc:
            session_schedule(
                group=group_a, by=anna, starts_at=at, ends_at=at + DAY / 24, online_link=LINK
            )
        assert "starts_at" in exc.value.message_dict
    with pytest.raises(ValidationError, match="The group ends on"):
        series(group_a, anna, count=8, starts_on=group_a.starts_on)
    assert not Session.objects.filter(group=group_a).exists()


def test_a_weekly_series_at_a_time_the_clocks_skip_says_so(institution_a, anna):
    # 02:30 on the last Sunday of March 2027 does not exist in Warsaw.
    group = GroupFactory(
        institution=institution_a, status="planned", starts_on=datetime.date(2027, 3, 1)
    )
    GroupFacilitatorFactory(group=group, user=anna)

    with pytest.raises(ValidationError) as exc:
        schedule_create(
            group=group,
            by=anna,
            weekdays=[6],
            start_time=datetime.time(2, 30),
            duration_minutes=60,
            starts_on=datetime.date(2027, 3, 14),
            count=4,
            online_link="https://meet.example.org/x",
        )

    assert exc.value.message_dict == {
        "start_time": [
            "On 2027-03-28 the clocks move forward and 02:30 does not exist in Europe/Warsaw; "
            "choose another start time or skip that date."
        ]
    }
    assert not Session.objects.filter(group=group).exists()
