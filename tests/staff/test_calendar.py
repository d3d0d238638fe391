"""The calendar at the size of a real institution: a facilitator's own sessions first,
everyone's one choice away, and a busy day of the month folded into "+N more"."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from staff.views.calendar import MONTH_CHIPS
from tests.factories import GroupFacilitatorFactory, GroupFactory, SessionFactory

pytestmark = pytest.mark.django_db


def _at(hours):
    starts = timezone.now() + datetime.timedelta(hours=hours)
    return {"starts_at": starts, "ends_at": starts + datetime.timedelta(hours=1)}


def _day(session):
    return timezone.localtime(session.starts_at, session.group.institution.tzinfo).date()


def _page(client, **params):
    return client.get(reverse("staff:calendar"), params).content.decode()


def _link(session):
    return reverse("staff:session", args=[session.pk])


@pytest.fixture
def colleagues_session(institution_a):
    """A session of a group anna does not lead, in her institution."""
    return SessionFactory(
        group=GroupFactory(institution=institution_a, name="Not anna's"), **_at(1)
    )


def test_a_facilitator_sees_her_own_sessions_first_and_everyones_on_asking(
    client, anna, group_a, colleagues_session
):
    mine = SessionFactory(group=group_a, **_at(2))
    client.force_login(anna)
    date = _day(mine).isoformat()
    for view in ("day", "week", "month"):
        html = _page(client, view=view, date=date)
        assert _link(mine) in html and _link(colleagues_session) not in html, view
        assert '<option value="mine" selected>' in html
        html = _page(client, view=view, date=date, whose="all")
        assert _link(mine) in html and _link(colleagues_session) in html, view


def test_a_substitute_finds_the_session_she_stands_in_for_among_her_own(
    client, anna, colleagues_session
):
    colleagues_session.substitute_facilitator = anna
    colleagues_session.save(update_fields=["substitute_facilitator"])
    client.force_login(anna)
    html = _page(client, view="week", date=_day(colleagues_session).isoformat(), whose="mine")
    assert _link(colleagues_session) in html


def test_reception_who_lead_no_group_see_everyones_sessions(client, marek, colleagues_session):
    client.force_login(marek)
    html = _page(client, view="month", date=_day(colleagues_session).isoformat())
    assert _link(colleagues_session) in html
    assert '<option value="all" selected>' in html


def test_an_address_naming_a_group_shows_that_groups_sessions_to_anyone(
    client, anna, colleagues_session
):
    """The group page's "All sessions in the calendar" link names the group only."""
    client.force_login(anna)
    date = _day(colleagues_session).isoformat()
    html = _page(client, view="month", date=date, group=colleagues_session.group_id)
    assert _link(colleagues_session) in html


def test_a_busy_day_of_the_month_shows_its_first_sessions_and_links_to_the_whole_day(
    client, ewa, institution_a
):
    group = GroupFactory(institution=institution_a, name="Busy")
    GroupFacilitatorFactory(group=group, user=ewa)
    sessions = [SessionFactory(group=group, **_at(1 + i / 10)) for i in range(MONTH_CHIPS + 4)]
    if len({_day(s) for s in sessions}) > 1:
        pytest.skip("the sessions straddle midnight at this clock")
    client.force_login(ewa)
    date = _day(sessions[0]).isoformat()
    month = _page(client, view="month", date=date, whose="all")
    shown = [s for s in sessions if _link(s) in month]
    assert shown == sessions[:MONTH_CHIPS]  # the first ones, in time order
    assert "+4 more" in month
    day_link = f"?view=day&amp;date={date}&amp;whose=all"
    assert day_link in month
    day = _page(client, view="day", date=date, whose="all")
    assert all(_link(s) in day for s in sessions)
    assert "+4 more" not in day
    week = _page(client, view="week", date=date, whose="all")
    assert all(_link(s) in week for s in sessions)


def test_the_periods_links_keep_the_filters(client, anna, group_a, room_a):
    client.force_login(anna)
    html = _page(client, view="day", whose="all", group=group_a.pk, room=room_a.pk)
    keep = f"whose=all&amp;group={group_a.pk}&amp;room={room_a.pk}"
    for rel in ('rel="prev"', 'rel="next"'):
        link = html[: html.index(rel)].rsplit("<a ", 1)[1]
        assert keep in link, rel
    assert "Previous day" in html and "Next day" in html
