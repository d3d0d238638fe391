import datetime

from django.utils import timezone

from attendance import services as attendance_services
from attendance.models import AttendanceRecord, Consent
from clinics.services import participant_register
from sessions.services import schedule_create

from .factories import SessionFactory


def test_a_walk_in_with_consent_is_registered_admitted_and_marked(group_a, marek, anna):
    participant = participant_register(
        institution=group_a.institution,
        by=marek,
        alias="Kasia",
        consents=[
            {"purpose": Consent.Purpose.PARTICIPATION, "method": "verbal", "text_version": "v1"},
            {"purpose": Consent.Purpose.HEALTH_DATA, "method": "signed_form", "text_version": "v1"},
        ],
        legal_name="Katarzyna K.",
    )
    assert participant.code == "P-00001"
    session = SessionFactory(group=group_a)
    attendance_services.enrollment_walk_in(participant=participant, group=group_a, by=marek, session=session)
    records = attendance_services.attendance_record(
        session=session, marks=[attendance_services.Mark(participant.pk, "present")], by=anna
    )
    assert records[0].status == AttendanceRecord.Status.PRESENT
    session.refresh_from_db()
    assert session.status == "held"


def test_a_weekly_schedule_generates_numbered_sessions(group_a, anna, room_a):
    start = timezone.localdate() + datetime.timedelta(days=7)
    sessions = schedule_create(
        group=group_a,
        by=anna,
        weekdays=[1],
        start_time=datetime.time(18, 0),
        duration_minutes=90,
        starts_on=start,
        count=5,
        room=room_a,
    )
    assert [s.sequence for s in sessions] == [1, 2, 3, 4, 5]
    assert all(timezone.localtime(s.starts_at).hour == 18 for s in sessions)
