"""seed_demo builds the demo it promises, through the services, and only once."""

import datetime
import io

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from attendance.models import AttendanceRecord, Consent, Enrollment, FollowUpTask
from audit.models import AuditEvent
from clinics.management.commands.seed_demo import NAME_A, NAME_B
from clinics.models import Institution, Participant, StaffMembership
from notifications.models import OutboxMessage
from sessions.models import Session, SupportGroup

Role = StaffMembership.Role


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The demo, seeded once for the module inside a transaction rolled back at the end."""
    with django_db_blocker.unblock(), transaction.atomic():
        out = io.StringIO()
        call_command("seed_demo", password="s3cret-demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture
def output(seeded, db):
    return seeded


def counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for app in ("auth", "clinics", "group_sessions", "attendance", "audit", "notifications")
        for model in apps.get_app_config(app).get_models()
    }


def test_it_creates_two_institutions_a_hospital_ward_and_a_counselling_centre(output):
    a = Institution.objects.get(name=NAME_A)
    b = Institution.objects.get(name=NAME_B)
    assert (a.kind, b.kind) == (Institution.Kind.HOSPITAL, Institution.Kind.COUNSELLING_CENTRE)
    assert a.sites.exists() and b.sites.exists()


def test_the_users_have_the_promised_roles_and_the_given_password(output):
    User = get_user_model()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("s3cret-demo")
    expected = {
        "ewa": (NAME_A, Role.ADMIN),
        "anna": (NAME_A, Role.FACILITATOR),
        "marek": (NAME_A, Role.STAFF),
        "olga": (NAME_A, Role.AUDITOR),
        "karim": (NAME_B, Role.FACILITATOR),
    }
    for username, (institution, role) in expected.items():
        membership = StaffMembership.objects.get(user__username=username)
        assert (membership.institution.name, membership.role) == (institution, role)
        assert membership.user.check_password("s3cret-demo")
    assert User.objects.get(username="ewa").is_staff
    assert "Password: s3cret-demo" in output
    for username in ("admin", *expected):
        assert username in output


def test_groups_span_categories_and_all_three_membership_modes(output):
    groups = SupportGroup.objects.all()
    assert groups.count() >= 6
    assert set(groups.values_list("membership_mode", flat=True)) == set(
        SupportGroup.MembershipMode.values
    )
    assert groups.values("category").distinct().count() >= 5
    for group in groups.filter(membership_mode="semi_open"):
        assert group.entry_points
    assert SupportGroup.objects.filter(facilitators__username="anna").count() >= 2


def test_a_term_of_sessions_past_ones_held_with_attendance_one_cancelled_future_scheduled(output):
    for group in SupportGroup.objects.all():
        held = group.sessions.filter(status=Session.Status.HELD)
        assert 6 <= held.count() <= 9
        assert group.sessions.filter(status=Session.Status.SCHEDULED).count() >= 6
        for session in held:
            assert session.attendance_records.exists()
    cancelled = Session.objects.filter(status=Session.Status.CANCELLED)
    assert cancelled.exists()
    assert all(s.cancellation_reason for s in cancelled)
    assert not AttendanceRecord.objects.filter(session__status="cancelled").exists()
    assert set(AttendanceRecord.objects.values_list("status", flat=True)) >= {"present", "late"}


def test_the_term_is_dated_from_the_day_it_runs_and_two_groups_meet_today(output):
    today, now = timezone.localdate(), timezone.now()
    for group in SupportGroup.objects.all():
        first = group.sessions.order_by("starts_at").first().local_date()
        assert today - datetime.timedelta(weeks=8) <= first < today - datetime.timedelta(weeks=7)
        # Every session that has ended was held, not held or cancelled; none is still pending.
        assert not group.sessions.filter(status="scheduled", ends_at__lt=now).exists()
        assert group.sessions.filter(starts_at__gt=now).count() >= 6
    meeting_today = {
        s.group.facilitator_roles.get(role="lead").user.username
        for s in Session.objects.select_related("group", "institution")
        if s.local_date() == today
    }
    assert {"anna", "karim"} <= meeting_today


def test_no_notice_is_queued_about_a_session_already_begun(output):
    notices = OutboxMessage.objects.filter(session__isnull=False)
    assert not notices.filter(session__starts_at__lte=timezone.now()).exists()
    # The cancelled session ahead is the one members hear of.
    cancelled_ahead = Session.objects.filter(status="cancelled", starts_at__gt=timezone.now())
    assert notices.filter(kind="session_cancelled", session__in=cancelled_ahead).exists()


def test_forty_or_more_participants_with_consents_some_withdrawn_some_alias_only(output):
    assert Participant.objects.count() >= 40
    without_health_consent = Participant.objects.exclude(consents__purpose="health_data")
    assert without_health_consent.exists()
    assert not without_health_consent.exclude(legal_name="").exists()
    assert Consent.objects.filter(status=Consent.Status.WITHDRAWN).exists()
    assert not Participant.objects.filter(consents__isnull=True).exists()


def test_a_full_group_has_an_ordered_waiting_list(output):
    waiting = Enrollment.objects.filter(status="waitlisted")
    assert waiting.count() >= 2
    group = waiting.first().group
    assert group.enrollments.filter(status="active").count() == group.capacity


def test_two_unexplained_absences_in_a_row_raised_follow_ups(output):
    assert FollowUpTask.objects.filter(status="open").count() >= 2


def test_it_was_built_through_the_services(output):
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "participant.registered",
        "consent.granted",
        "consent.withdrawn",
        "enrollment.admitted",
        "enrollment.waitlisted",
        "group.created",
        "schedule.created",
        "session.cancelled",
        "attendance.recorded",
    } <= actions


def test_running_it_again_changes_nothing(output):
    before = counts()
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert counts() == before
    assert "already there" in out.getvalue()
