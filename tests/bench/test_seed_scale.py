"""seed_scale writes a network that obeys the rules the services enforce, the same for a seed."""

import datetime
import hashlib
import io
from collections import Counter, defaultdict

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from attendance.models import AttendanceRecord, Consent, Enrollment, FollowUpTask
from attendance.services import session_roster
from audit.models import AuditEvent
from clinics.fields import decrypt_str
from clinics.models import Institution, Participant, StaffMembership
from sessions.models import GroupFacilitator, RecurrenceRule, Session, SupportGroup

NOW = "2026-11-18T12:00:00+01:00"
TINY = {"institutions": 3, "groups": 12, "participants": 90, "weeks": 8, "now": NOW}
MODELS = [
    Institution,
    StaffMembership,
    SupportGroup,
    GroupFacilitator,
    RecurrenceRule,
    Participant,
    Consent,
    Enrollment,
    Session,
    AttendanceRecord,
    FollowUpTask,
]


def seed(**options):
    call_command("seed_scale", skip_checks=True, stdout=io.StringIO(), stderr=io.StringIO(),
                 **{**TINY, **options})  # fmt: skip


def fingerprint() -> str:
    digest = hashlib.sha256()
    for model in MODELS:
        for row in model.objects.order_by("pk").values_list():
            digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.fixture
def network(db):
    seed(seed=7)


def test_seed_scale_writes_the_requested_numbers_of_rows(network):
    assert Institution.objects.count() == 3
    assert SupportGroup.objects.count() == 12
    assert Participant.objects.count() == 90
    # Eight weeks of weekly sessions, each group starting in one of the first weeks.
    assert 12 * 2 <= Session.objects.count() <= 12 * 8
    assert AttendanceRecord.objects.count() > Session.objects.filter(status="held").count()
    assert StaffMembership.objects.filter(role="facilitator").count() >= 3


def test_participant_codes_run_from_one_per_institution_in_order_of_registration(network):
    for institution in Institution.objects.all():
        participants = list(institution.participants.order_by("number"))
        assert [p.number for p in participants] == list(range(1, len(participants) + 1))
        assert [p.code for p in participants][:2] == ["P-00001", "P-00002"]
        assert institution.last_participant_number == len(participants)
        created = [p.created_at for p in participants]
        assert created == sorted(created)


def test_every_attendance_record_is_a_roster_member_of_a_held_session_that_began(network):
    now = datetime.datetime.fromisoformat(NOW)
    for session in Session.objects.select_related("institution"):
        marked = {
            r.participant_id: r for r in session.attendance_records.select_related("enrollment")
        }
        if session.status != Session.Status.HELD:
            assert not marked, "only held sessions have attendance"
            continue
        assert session.starts_at <= now
        roster = session_roster(session)
        assert set(marked) == {e.participant_id for e in roster}
        assert len(roster) <= session.group.capacity
        for record in marked.values():
            assert record.institution_id == session.institution_id
            assert record.enrollment.group_id == session.group_id
            assert record.enrollment.institution_id == session.institution_id


def test_sessions_after_now_are_scheduled_and_unmarked(network):
    later = Session.objects.filter(starts_at__gt=datetime.datetime.fromisoformat(NOW))
    assert later.exists()
    assert set(later.values_list("status", flat=True)) == {"scheduled"}


def test_rows_of_one_institution_only_point_at_that_institution(network):
    for enrollment in Enrollment.objects.select_related("participant", "group"):
        assert enrollment.participant.institution_id == enrollment.institution_id
        assert enrollment.group.institution_id == enrollment.institution_id
    for session in Session.objects.select_related("group", "room__site"):
        assert session.group.institution_id == session.institution_id
        assert session.room.site.institution_id == session.institution_id
    for role in GroupFacilitator.objects.select_related("group"):
        assert StaffMembership.objects.filter(
            user_id=role.user_id, institution_id=role.group.institution_id, role="facilitator"
        ).exists()


def test_participation_consent_comes_before_every_referral(network):
    for enrollment in Enrollment.objects.all():
        consent = Consent.objects.get(
            participant_id=enrollment.participant_id, purpose="participation"
        )
        assert consent.granted_at < enrollment.created_at
        assert consent.granted_at.date() <= enrollment.referred_on
        if enrollment.joined_on:
            assert enrollment.referred_on <= enrollment.joined_on
    with_identity = Participant.objects.exclude(birth_year=None)
    assert with_identity.exists()
    for participant in with_identity:
        assert participant.consents.filter(purpose="health_data").exists()
    for participant in Participant.objects.filter(reminder_channel="sms"):
        assert participant.phone
        assert participant.consents.filter(purpose="contact").exists()


def test_legal_names_are_stored_encrypted_and_only_with_the_health_data_consent(network):
    named = Participant.objects.exclude(legal_name="")
    assert named.exists()
    for participant in Participant.objects.all():
        has_consent = participant.consents.filter(purpose="health_data").exists()
        assert bool(participant.legal_name) == has_consent
    participant = named.first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT legal_name FROM clinics_participant WHERE id = %s", [participant.pk])
        (stored,) = cursor.fetchone()
    assert participant.legal_name.split()[0] in participant.alias
    assert participant.legal_name not in stored
    assert decrypt_str(stored) == participant.legal_name


def test_the_last_year_of_marks_has_one_audit_event_each_as_the_roster_service_writes(network):
    now = datetime.datetime.fromisoformat(NOW)
    marks = AttendanceRecord.objects.filter(recorded_at__gte=now - datetime.timedelta(days=365))
    events = AuditEvent.objects.filter(action="attendance.recorded")
    assert events.count() == marks.count() > 0
    for record in marks.select_related("recorded_by")[:50]:
        event = events.get(object_type="attendance.attendancerecord", object_id=str(record.pk))
        assert event.institution_id == record.institution_id
        assert event.actor_id == record.recorded_by_id
        assert event.actor_username == record.recorded_by.username
        assert event.created_at == record.recorded_at
        assert event.details == {"status": record.status}


def test_a_factor_multiplies_the_network_and_keeps_the_weeks(db):
    seed(seed=7, factor=2)
    assert Institution.objects.count() == 6
    assert SupportGroup.objects.count() == 24
    assert Participant.objects.count() == 180
    assert Session.objects.dates("starts_at", "week").count() <= 8


def test_no_room_and_no_facilitator_is_booked_twice_at_once(network):
    sessions = list(Session.objects.not_cancelled())
    leads = defaultdict(set)
    for role in GroupFacilitator.objects.filter(role__in=GroupFacilitator.BOOKED_ROLES):
        leads[role.group_id].add(role.user_id)
    for session in sessions:
        clashes = (
            Session.objects.not_cancelled()
            .overlapping(session.starts_at, session.ends_at)
            .exclude(pk=session.pk)
        )
        assert not clashes.filter(room_id=session.room_id).exists()
        for other in clashes:
            assert not leads[other.group_id] & leads[session.group_id]


def test_latecomers_of_closed_groups_came_in_with_an_override(network):
    for enrollment in Enrollment.objects.filter(group__membership_mode="closed").select_related(
        "group"
    ):
        if enrollment.joined_on and enrollment.joined_on > enrollment.group.starts_on:
            assert enrollment.admitted_with_override


def test_one_open_enrollment_per_participant_and_group(network):
    pairs = Counter(Enrollment.objects.values_list("participant_id", "group_id"))
    assert max(pairs.values()) == 1


def test_two_unexcused_absences_in_a_row_raised_a_follow_up(network):
    expected = set()
    for enrollment in Enrollment.objects.all():
        previous = None
        for record in enrollment.attendance_records.order_by("session__starts_at"):
            if record.status == previous == "unexcused":
                expected.add((enrollment.pk, record.session_id))
            previous = record.status
    assert set(FollowUpTask.objects.values_list("enrollment_id", "trigger_session_id")) == expected


def test_the_seeded_rows_pass_model_validation(network):
    for model in (Institution, SupportGroup, Participant, Enrollment, Consent, Session):
        for obj in model.objects.all()[:200]:
            obj.full_clean(validate_unique=False, validate_constraints=True)


def test_the_same_seed_writes_the_same_data_and_another_seed_does_not(db):
    prints = []
    for seed_value in (3, 3, 4):
        with transaction.atomic():
            seed(seed=seed_value)
            prints.append(fingerprint())
            transaction.set_rollback(True)
    assert prints[0] == prints[1]
    assert prints[0] != prints[2]


def test_seed_scale_refuses_a_database_that_already_holds_scale_data(network):
    with pytest.raises(CommandError, match="already holds scale data"):
        seed(seed=8)


def test_seed_scale_refuses_a_scale_that_is_not_positive(db):
    with pytest.raises(CommandError, match="--scale must be positive"):
        seed(scale=0)
    with pytest.raises(CommandError, match="--factor must be a whole number"):
        seed(factor=0)
