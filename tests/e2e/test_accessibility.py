"""WCAG 2.2 AA: axe-core (tests/e2e/vendor, injected by the test) finds no violation on any page
the navigation reaches, for a facilitator and an institution admin, in Polish, English and
Arabic, on a phone and on a desktop; on the phone every primary control is at least 44 × 44 px."""

import datetime
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from attendance.models import Consent
from tests.factories import (
    AttendanceFactory,
    ConsentFactory,
    EnrollmentFactory,
    ParticipantFactory,
    SessionFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WIDTHS = [360, 1280]
LANGUAGES = ["pl", "en", "ar"]


@pytest.fixture
def world(group_a, anna, ewa, room_a):
    """A group with members, a session under way, marks and a past session."""
    people = []
    for alias in ("Ala", "Basia", "Cyryl"):
        participant = ParticipantFactory(institution=group_a.institution, alias=alias)
        EnrollmentFactory(group=group_a, participant=participant, created_by=anna)
        ConsentFactory(participant=participant, purpose=Consent.Purpose.PARTICIPATION)
        people.append(participant)
    now = timezone.now()
    past = SessionFactory(
        group=group_a,
        starts_at=now - datetime.timedelta(days=7),
        ends_at=now - datetime.timedelta(days=7) + datetime.timedelta(minutes=90),
        room=room_a,
        status="held",
    )
    for person in people:
        AttendanceFactory(session=past, participant=person, status="present")
    current = SessionFactory(
        group=group_a,
        starts_at=now - datetime.timedelta(minutes=5),
        ends_at=now + datetime.timedelta(minutes=85),
        room=room_a,
        online_link="",
    )
    for hours in (2, 3, 4):  # a day with more sessions than a day of the month shows
        SessionFactory(
            group=group_a,
            starts_at=now + datetime.timedelta(hours=hours),
            ends_at=now + datetime.timedelta(hours=hours, minutes=30),
            room=room_a,
            online_link="",
        )
    return {"group": group_a, "session": current, "participant": people[0]}


def _sign_in(page, live_server, username, language):
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo-password")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/**")


def _pages(page, live_server, world):
    """Every page the navigation links to, and the group, session and participant pages."""
    page.goto(f"{live_server.url}/")
    links = page.eval_on_selector_all("header nav a", "els => els.map(a => a.getAttribute('href'))")
    return [
        *dict.fromkeys(links),
        f"/groups/{world['group'].pk}/",
        f"/sessions/{world['session'].pk}/",
        f"/participants/{world['participant'].pk}/",
        "/calendar/?view=month",
        "/calendar/?view=month&whose=all",
        "/calendar/?view=day",
        "/search/?q=a",
    ]


def _axe(page) -> list[dict]:
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)
        })))"""
    )
    return result


def _small_targets(page) -> list[str]:
    """Primary controls (buttons, navigation, toggles, marks, selects) under 44 × 44 px."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll(
              'button, .button, header a, summary, select:not(.ts-hidden-accessible), '
              + 'input[type=submit], .ts-control, a.ev[href]'))
            .filter(el => el.offsetParent !== null)
            .map(el => [el, el.getBoundingClientRect()])
            .filter(([el, r]) => r.width < 44 || r.height < 44)
            .map(([el, r]) => el.tagName + '.' + el.className + ' "' + el.textContent.trim().slice(0, 30)
                 + '" ' + Math.round(r.width) + 'x' + Math.round(r.height))"""
    )


@pytest.mark.parametrize("username", ["anna", "ewa"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_finds_nothing_on_any_page(browser, live_server, world, username, language):
    problems = {}
    for width in WIDTHS:
        context = browser.new_context(
            viewport={"width": width, "height": 800}, bypass_csp=True, locale="en-GB"
        )
        page = context.new_page()
        _sign_in(page, live_server, username, language)
        for path in _pages(page, live_server, world):
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            found = _axe(page)
            if found:
                problems[f"{width}px {path}"] = found
            if width == 360:
                small = _small_targets(page)
                if small:
                    problems[f"{width}px {path} small targets"] = small
            if page.evaluate("document.documentElement.scrollWidth") > width:
                problems[f"{width}px {path} scrolls sideways"] = [
                    page.evaluate("document.documentElement.scrollWidth")
                ]
        context.close()
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)
