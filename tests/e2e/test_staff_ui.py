"""End to end in a real browser: anna takes attendance on a phone; the Arabic UI is right to left."""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from attendance.models import AttendanceRecord, Consent
from sessions.models import SessionNote
from tests.factories import (
    ConsentFactory,
    EnrollmentFactory,
    ParticipantFactory,
    SessionFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def begun_session(group_a, anna, room_a):
    for alias in ("Ala", "Basia", "Cyryl"):
        participant = ParticipantFactory(institution=group_a.institution, alias=alias)
        EnrollmentFactory(group=group_a, participant=participant, created_by=anna)
        ConsentFactory(participant=participant, purpose=Consent.Purpose.PARTICIPATION)
    starts = timezone.now() - datetime.timedelta(minutes=5)
    return SessionFactory(
        group=group_a,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=90),
        room=room_a,
        online_link="",
    )


def _sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo-password")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_anna_takes_attendance_signs_the_note_on_a_phone_and_sees_the_groups_rates(
    phone, live_server, anna, group_a, begun_session
):
    phone.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    )
    _sign_in(phone, live_server, "anna")
    phone.click(f"a[href='/sessions/{begun_session.pk}/']")
    phone.click("text=Mark all present")
    phone.locator(".roster button[value=present][aria-pressed=true]").first.wait_for()
    basia = phone.locator(".roster > li", has_text="Basia")
    basia.locator("button[value=late]").click()
    # Pressed at once, kept on the phone; sent when no longer marked pending.
    basia.locator("button[value=late][aria-pressed=true]:not(.pending)").wait_for()
    # Nothing sticks out of the phone's width: no zooming or sideways scrolling.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    statuses = dict(
        AttendanceRecord.objects.filter(session=begun_session).values_list(
            "participant__alias", "status"
        )
    )
    assert statuses == {"Ala": "present", "Basia": "late", "Cyryl": "present"}
    # The group note, then sign and lock (the page asks for a confirmation first).
    phone.fill("#id_text", "We talked about the holidays.")
    phone.click("text=Save the group note")
    phone.on("dialog", lambda dialog: dialog.accept())
    phone.click("text=Sign and lock 1 note")
    phone.locator(".signed").wait_for()
    assert SessionNote.objects.get(session=begun_session).is_signed
    phone.goto(f"{live_server.url}/groups/{group_a.pk}/")
    rates = phone.locator("td[data-rate]").all_inner_texts()
    assert rates and all(text.startswith("100") for text in rates)


def test_the_arabic_ui_is_right_to_left(phone, live_server, anna):
    phone.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "ar", "url": live_server.url}]
    )
    phone.goto(f"{live_server.url}/login/")
    assert phone.get_attribute("html", "dir") == "rtl"
    assert phone.get_attribute("html", "lang") == "ar"
    assert phone.inner_text("main h1") == "تسجيل الدخول"
    # The navigation starts on the right: the brand sits at the right edge of the header.
    brand = phone.locator(".brand").bounding_box()
    assert brand["x"] > 360 / 2
