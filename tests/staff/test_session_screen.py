import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from attendance.models import AttendanceRecord, Consent, Enrollment
from sessions.models import Session, SessionNote
from tests.factories import GroupFacilitatorFactory, GroupFactory, SessionFactory

pytestmark = pytest.mark.django_db

Status = AttendanceRecord.Status


def _mark(client, session, participant, status, **headers):
    return client.post(
        reverse("staff:session_mark", args=[session.pk]),
        {"participant": participant.pk, "status": status},
        **headers,
    )


def test_the_session_screen_lists_the_roster_by_alias_with_one_button_per_mark(
    client, anna, begun_session, members_a
):
    client.force_login(anna)
    response = client.get(reverse("staff:session", args=[begun_session.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    for enrollment in members_a:
        assert enrollment.participant.alias in html
        assert f'id="p-{enrollment.participant.pk}"' in html
    assert html.count('name="status" value="late"') == 3


def test_one_tap_records_one_mark_at_once(client, anna, begun_session, members_a):
    client.force_login(anna)
    ala = members_a[0].participant
    response = _mark(client, begun_session, ala, Status.LATE)
    assert response.status_code == 302
    record = AttendanceRecord.objects.get(session=begun_session, participant=ala)
    assert record.status == Status.LATE
    begun_session.refresh_from_db()
    assert begun_session.status == Session.Status.HELD


def test_a_tap_from_the_page_script_gets_json_back(client, anna, begun_session, members_a):
    client.force_login(anna)
    response = _mark(
        client,
        begun_session,
        members_a[1].participant,
        Status.EXCUSED,
        HTTP_X_REQUESTED_WITH="fetch",
    )
    assert response.status_code == 200
    assert response.json()["status"] == "excused"
    assert response.json()["marked_count"] == 1


def test_mark_all_present_keeps_the_exceptions_already_made(client, anna, begun_session, members_a):
    client.force_login(anna)
    _mark(client, begun_session, members_a[0].participant, Status.UNEXCUSED)
    client.post(reverse("staff:session_mark_all", args=[begun_session.pk]))
    marks = dict(
        AttendanceRecord.objects.filter(session=begun_session).values_list(
            "participant__alias", "status"
        )
    )
    assert marks == {"Ala": Status.UNEXCUSED, "Basia": Status.PRESENT, "Cyryl": Status.PRESENT}


def test_a_refused_tap_says_why_and_loses_no_earlier_mark(client, anna, begun_session, members_a):
    client.force_login(anna)
    _mark(client, begun_session, members_a[0].participant, Status.PRESENT)
    response = _mark(
        client, begun_session, members_a[1].participant, "asleep", HTTP_X_REQUESTED_WITH="fetch"
    )
    assert response.status_code == 400
    assert "Unknown attendance status" in response.json()["error"]
    assert AttendanceRecord.objects.filter(session=begun_session).count() == 1


def test_a_session_that_has_not_begun_shows_why_attendance_cannot_be_taken(
    client, anna, future_session, members_a
):
    client.force_login(anna)
    opens = timezone.localtime(
        future_session.starts_at - datetime.timedelta(minutes=30), future_session.institution.tzinfo
    ).strftime("%H:%M")
    says = f"Attendance can be taken from {opens}, shortly before the session begins."
    page = client.get(reverse("staff:session", args=[future_session.pk])).content.decode()
    assert says in page
    assert "disabled" in page
    response = _mark(client, future_session, members_a[0].participant, Status.PRESENT, follow=True)
    assert says in response.content.decode()
    assert not AttendanceRecord.objects.exists()


def test_another_institutions_session_is_not_found(client, karim, begun_session, members_a):
    client.force_login(karim)
    assert client.get(reverse("staff:session", args=[begun_session.pk])).status_code == 404
    assert _mark(client, begun_session, members_a[0].participant, Status.PRESENT).status_code == 404
    assert not AttendanceRecord.objects.exists()


def test_an_auditor_sees_no_roster(client, olga, begun_session):
    client.force_login(olga)
    response = client.get(reverse("staff:session", args=[begun_session.pk]))
    assert response.status_code == 404
    assert b"Ala" not in response.content


def test_staff_register_a_walk_in_with_their_consent(client, marek, begun_session):
    client.force_login(marek)
    response = client.post(
        reverse("staff:session_walk_in", args=[begun_session.pk]),
        {"alias": "Dorota", "method": "verbal", "text_version": "v2"},
    )
    assert response.status_code == 302
    enrollment = Enrollment.objects.get(participant__alias="Dorota")
    assert enrollment.is_walk_in and enrollment.status == Enrollment.Status.ACTIVE
    consent = Consent.objects.get(participant=enrollment.participant)
    assert (consent.purpose, consent.method, consent.text_version) == (
        "participation",
        "verbal",
        "v2",
    )
    page = client.get(reverse("staff:session", args=[begun_session.pk])).content.decode()
    assert "Dorota" in page


def test_a_closed_group_refuses_a_walk_in_and_keeps_what_was_typed(
    client, marek, anna, institution_a
):
    closed = GroupFactory(institution=institution_a, membership_mode="closed")
    GroupFacilitatorFactory(group=closed, user=anna)
    session = SessionFactory(group=closed)
    client.force_login(marek)
    response = client.post(
        reverse("staff:session_walk_in", args=[session.pk]),
        {"alias": "Edek", "method": "verbal", "text_version": "v9"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Only open groups accept walk-ins." in html
    assert 'value="Edek"' in html and 'value="v9"' in html
    assert not Enrollment.objects.filter(participant__alias="Edek").exists()


def test_the_facilitator_writes_the_group_note_and_a_persons_note_then_signs(
    client, anna, begun_session, members_a
):
    client.force_login(anna)
    client.post(
        reverse("staff:session_note", args=[begun_session.pk]),
        {"theme": "Grief at holidays", "text": "We talked about the coming holidays."},
    )
    client.post(
        reverse("staff:session_note", args=[begun_session.pk]),
        {"participant": members_a[0].participant.pk, "text": "Quiet today."},
    )
    assert SessionNote.objects.filter(session=begun_session).count() == 2
    Session.objects.filter(pk=begun_session.pk).update(status="held")  # notes sign once held
    client.post(reverse("staff:session_sign", args=[begun_session.pk]))
    assert not SessionNote.objects.filter(session=begun_session, signed_at__isnull=True).exists()
    page = client.get(reverse("staff:session", args=[begun_session.pk])).content.decode()
    assert "Signed and locked" in page


def test_an_empty_note_is_refused_next_to_the_field_and_the_theme_is_kept(
    client, anna, begun_session
):
    client.force_login(anna)
    response = client.post(
        reverse("staff:session_note", args=[begun_session.pk]), {"theme": "Anger", "text": ""}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="Anger"' in html
    assert 'id="id_text_error"' in html


def test_staff_do_not_see_the_notes(client, marek, begun_session):
    client.force_login(marek)
    page = client.get(reverse("staff:session", args=[begun_session.pk])).content.decode()
    assert "Group note" not in page


def test_cancelling_a_session_needs_a_confirmation_and_a_reason(client, anna, future_session):
    client.force_login(anna)
    url = reverse("staff:session_cancel", args=[future_session.pk])
    response = client.post(url, {"reason": "Flu season", "cancelled_by": "facilitator"})
    assert response.status_code == 400
    assert "Flu season</textarea>" in response.content.decode()
    future_session.refresh_from_db()
    assert future_session.status == Session.Status.SCHEDULED
    client.post(url, {"reason": "Flu season", "cancelled_by": "facilitator", "confirm": "on"})
    future_session.refresh_from_db()
    assert future_session.status == Session.Status.CANCELLED
    assert future_session.cancellation_reason == "Flu season"


def test_staff_cannot_cancel_a_session(client, marek, future_session):
    client.force_login(marek)
    response = client.post(
        reverse("staff:session_cancel", args=[future_session.pk]),
        {"reason": "Flu", "cancelled_by": "centre", "confirm": "on"},
    )
    assert response.status_code == 403
    future_session.refresh_from_db()
    assert future_session.status == Session.Status.SCHEDULED


def test_moving_a_session_to_a_booked_room_is_refused_next_to_the_field(
    client, anna, future_session, room_a, institution_a
):
    other = SessionFactory(
        group=GroupFactory(institution=institution_a),
        starts_at=future_session.starts_at + datetime.timedelta(days=1),
        room=room_a,
        online_link="",
    )
    local = timezone.localtime(other.starts_at, institution_a.tzinfo)
    client.force_login(anna)
    response = client.post(
        reverse("staff:session_reschedule", args=[future_session.pk]),
        {
            "date": local.date().isoformat(),
            "start_time": local.strftime("%H:%M"),
            "end_time": (local + datetime.timedelta(minutes=30)).strftime("%H:%M"),
            "room": room_a.pk,
            "confirm": "on",
        },
    )
    assert response.status_code == 400
    assert "The room is already booked at that time" in response.content.decode()
    future_session.refresh_from_db()
    assert future_session.starts_at != other.starts_at


def test_a_signed_note_takes_an_addendum_and_an_empty_one_is_refused(client, anna, begun_session):
    client.force_login(anna)
    client.post(
        reverse("staff:session_note", args=[begun_session.pk]),
        {"theme": "", "text": "First text."},
    )
    Session.objects.filter(pk=begun_session.pk).update(status="held")  # notes sign once held
    client.post(reverse("staff:session_sign", args=[begun_session.pk]))
    note = SessionNote.objects.get(session=begun_session)
    url = reverse("staff:session_addendum", args=[begun_session.pk])
    refused = client.post(url, {"note": note.pk, "text": " "})
    assert refused.status_code == 400
    assert "The addendum is empty." in refused.content.decode()
    client.post(url, {"note": note.pk, "text": "Also: Ala brought tea."})
    page = client.get(reverse("staff:session", args=[begun_session.pk])).content.decode()
    assert "Also: Ala brought tea." in page and "First text." in page
    note.refresh_from_db()
    assert note.text == "First text."


def test_a_session_without_quorum_is_recorded_as_not_held(client, anna, begun_session):
    client.force_login(anna)
    client.post(reverse("staff:session_not_held", args=[begun_session.pk]), {"reason": "Snow"})
    begun_session.refresh_from_db()
    assert begun_session.status == Session.Status.NOT_HELD


def test_times_are_shown_in_the_institutions_time_zone_in_polish(anna, group_a, institution_a):
    client = Client()  # no language cookie: the site's default, Polish
    institution_a.time_zone = "Asia/Tokyo"
    institution_a.save()
    starts = datetime.datetime(2026, 3, 3, 9, 0, tzinfo=datetime.UTC)
    session = SessionFactory(group=group_a, starts_at=starts)
    client.force_login(anna)
    html = client.get(reverse("staff:session", args=[session.pk])).content.decode()
    assert "18:00" in html  # 09:00 UTC is 18:00 in Tokyo (Polish time format)
    assert "wtorek, 3 marca 2026" in html
