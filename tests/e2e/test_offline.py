"""The door and the lost connection, in a real browser on a phone: a mark 20 minutes before
the start; three taps and a note without a connection are kept on the phone, shown as pending,
readable after a reload, and sent once each when the connection returns."""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from api.models import IdempotencyKey
from attendance.models import AttendanceRecord, Consent
from audit.models import AuditEvent
from sessions.models import SessionNote
from tests.factories import ConsentFactory, EnrollmentFactory, ParticipantFactory, SessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _members(group, anna):
    for alias in ("Ala", "Basia", "Cyryl"):
        participant = ParticipantFactory(institution=group.institution, alias=alias)
        EnrollmentFactory(group=group, participant=participant, created_by=anna)
        ConsentFactory(participant=participant, purpose=Consent.Purpose.PARTICIPATION)


def _session(group, room, minutes_from_now):
    starts = timezone.now() + datetime.timedelta(minutes=minutes_from_now)
    return SessionFactory(
        group=group,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=90),
        room=room,
        online_link="",
    )


def _sign_in(page, live_server):
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "anna")
    page.fill("#id_password", "demo-password")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_a_mark_twenty_minutes_before_the_start_is_recorded(
    phone, live_server, anna, group_a, room_a
):
    _members(group_a, anna)
    session = _session(group_a, room_a, 20)
    _sign_in(phone, live_server)
    phone.goto(f"{live_server.url}/sessions/{session.pk}/")
    ala = phone.locator(".roster > li", has_text="Ala")
    ala.locator("button[value=present]").click()
    ala.locator("button[value=present][aria-pressed=true]:not(.pending)").wait_for()
    record = AttendanceRecord.objects.get(session=session)
    assert (record.participant.alias, record.status) == ("Ala", "present")


def test_three_taps_and_a_note_without_a_connection_all_arrive_once(
    phone, live_server, anna, group_a, room_a
):
    _members(group_a, anna)
    session = _session(group_a, room_a, -5)
    _sign_in(phone, live_server)
    # The service worker takes over, and keeps today's session screen.
    phone.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller")
    url = f"{live_server.url}/sessions/{session.pk}/"
    phone.goto(url)
    phone.wait_for_function("navigator.serviceWorker.controller !== null")

    phone.context.set_offline(True)
    for alias, status in (("Ala", "present"), ("Basia", "late"), ("Cyryl", "unexcused")):
        row = phone.locator(".roster > li", has_text=alias)
        row.locator(f"button[value={status}]").click()
        row.locator(f"button[value={status}].pending").wait_for()
    ala = phone.locator(".roster > li", has_text="Ala")
    ala.locator("details:not(.mark-time) > summary").click()
    ala.locator("textarea").fill("Spoke about the first month.")
    ala.locator("text=Save the note").click()
    ala.locator(".note-state.pending").wait_for()
    status = phone.locator("#offline-status")
    status.wait_for()
    assert "4 changes are kept on this phone" in status.inner_text()
    assert not AttendanceRecord.objects.filter(session=session).exists()

    # Still without a connection, the page opens again from the phone, the pending kept.
    phone.reload()
    phone.locator(".roster > li", has_text="Basia").locator("button[value=late].pending").wait_for()

    phone.context.set_offline(False)
    phone.locator("#offline-status").wait_for(state="hidden", timeout=20000)
    phone.locator(".roster button.pending").first.wait_for(state="detached")
    statuses = dict(
        AttendanceRecord.objects.filter(session=session).values_list("participant__alias", "status")
    )
    assert statuses == {"Ala": "present", "Basia": "late", "Cyryl": "unexcused"}
    note = SessionNote.objects.get(session=session, kind=SessionNote.Kind.PARTICIPANT)
    assert note.text == "Spoke about the first month." and note.participant.alias == "Ala"
    # Once each: one recording per mark, no correction, one key per change.
    assert AuditEvent.objects.filter(action="attendance.recorded").count() == 3
    assert not AuditEvent.objects.filter(action="attendance.corrected").exists()
    assert IdempotencyKey.objects.filter(user=anna).count() == 4
