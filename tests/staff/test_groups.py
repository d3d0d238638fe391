import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from attendance.models import AttendanceRecord, Consent, Enrollment
from sessions.models import GroupFacilitator, Session, SupportGroup
from staff.stats import member_rates
from tests.factories import (
    AttendanceFactory,
    ConsentFactory,
    EnrollmentFactory,
    GroupFacilitatorFactory,
    GroupFactory,
    MembershipFactory,
    ParticipantFactory,
    SessionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Status = AttendanceRecord.Status


def _session(group, days_ago, status):
    starts = timezone.now() - datetime.timedelta(days=days_ago)
    return SessionFactory(
        group=group, starts_at=starts, status=status, ends_at=starts + datetime.timedelta(hours=1)
    )


def test_the_attendance_rate_counts_only_held_sessions(group_a, members_a):
    enrollment = members_a[0]
    for days_ago, session_status, mark in [
        (30, Session.Status.HELD, Status.PRESENT),
        (23, Session.Status.HELD, Status.LATE),
        (16, Session.Status.HELD, Status.UNEXCUSED),
        (9, Session.Status.HELD, Status.LEFT_EARLY),
        (8, Session.Status.CANCELLED, Status.UNEXCUSED),
        (7, Session.Status.NOT_HELD, Status.EXCUSED),
    ]:
        AttendanceFactory(
            session=_session(group_a, days_ago, session_status),
            enrollment=enrollment,
            participant=enrollment.participant,
            status=mark,
        )
    rates = member_rates(group_a)
    assert rates[enrollment.participant_id] == {"attended": 3, "marked": 4, "rate": 0.75}


def test_the_group_page_shows_members_consents_rates_and_the_chart(
    client, anna, group_a, members_a, django_assert_max_num_queries
):
    session = _session(group_a, 7, Session.Status.HELD)
    for enrollment, mark in zip(
        members_a, [Status.PRESENT, Status.LATE, Status.UNEXCUSED], strict=True
    ):
        AttendanceFactory(
            session=session, enrollment=enrollment, participant=enrollment.participant, status=mark
        )
    client.force_login(anna)
    with django_assert_max_num_queries(40):
        response = client.get(reverse("staff:group", args=[group_a.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Ala" in html and "Basia" in html
    assert f'data-rate="{members_a[2].participant.code}">0 %' in html
    assert f'data-rate="{members_a[0].participant.code}">100 %' in html
    assert "<svg" in html and "Session 1: 2 of 3 came." in html.replace(
        f"Session {session.sequence}:", "Session 1:"
    )
    assert html.count("✓ yes") == 3  # participation consent for each member


def test_another_institutions_group_is_not_found(client, karim, group_a):
    client.force_login(karim)
    assert client.get(reverse("staff:group", args=[group_a.pk])).status_code == 404


def test_an_auditor_sees_no_members_names(client, olga, group_a, members_a):
    client.force_login(olga)
    response = client.get(reverse("staff:group", args=[group_a.pk]))
    assert response.status_code == 404
    assert b"Ala" not in response.content


def test_staff_cannot_change_facilitators(client, marek, group_a, institution_a):
    colleague = UserFactory(username="zofia")
    MembershipFactory(user=colleague, institution=institution_a)
    client.force_login(marek)
    response = client.post(
        reverse("staff:group_facilitator", args=[group_a.pk]),
        {"user": colleague.pk, "role": "co_facilitator"},
    )
    assert response.status_code == 403
    assert not GroupFacilitator.objects.filter(user=colleague).exists()
    page = client.get(reverse("staff:group", args=[group_a.pk])).content.decode()
    assert "Add a facilitator" not in page


def test_a_facilitator_adds_a_co_facilitator(client, anna, group_a, institution_a):
    colleague = UserFactory(username="zofia")
    MembershipFactory(user=colleague, institution=institution_a)
    client.force_login(anna)
    client.post(
        reverse("staff:group_facilitator", args=[group_a.pk]),
        {"user": colleague.pk, "role": "co_facilitator"},
    )
    assert GroupFacilitator.objects.get(user=colleague).role == "co_facilitator"


def test_a_closed_group_refuses_a_late_joiner_with_the_reason_next_to_the_person(
    client, anna, institution_a
):
    closed = GroupFactory(institution=institution_a, membership_mode="closed")
    GroupFacilitatorFactory(group=closed, user=anna)
    person = ParticipantFactory(institution=institution_a, alias="Late Lena")
    ConsentFactory(participant=person, purpose=Consent.Purpose.PARTICIPATION)
    client.force_login(anna)
    response = client.post(
        reverse("staff:group_add_member", args=[closed.pk]),
        {"participant": person.pk, "referral_source": "gp", "then": "admit"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "admits no one after its start" in html
    assert 'id="id_participant_error"' in html
    assert not Enrollment.objects.filter(participant=person).exists()


def test_the_waiting_list_admits_in_order_and_offers_a_seat(client, anna, group_a, members_a):
    first, second = (
        EnrollmentFactory(
            group=group_a,
            status=Enrollment.Status.WAITLISTED,
            waitlisted_at=timezone.now() - datetime.timedelta(days=d),
            participant=ParticipantFactory(institution=group_a.institution, alias=alias),
        )
        for d, alias in [(5, "First"), (1, "Second")]
    )
    for e in (first, second):
        ConsentFactory(participant=e.participant, purpose=Consent.Purpose.PARTICIPATION)
    client.force_login(anna)
    response = client.post(
        reverse("staff:enrollment_action", args=[group_a.pk, second.pk, "admit"])
    )
    assert response.status_code == 400
    assert "Others are waiting for this group" in response.content.decode()
    client.post(reverse("staff:enrollment_action", args=[group_a.pk, second.pk, "offer"]))
    second.refresh_from_db()
    assert second.offer_expires_at is not None
    client.post(reverse("staff:enrollment_action", args=[group_a.pk, second.pk, "admit"]))
    second.refresh_from_db()
    assert second.status == Enrollment.Status.ACTIVE


def test_a_facilitator_creates_a_semi_open_group_with_its_schedule(client, anna, room_a):
    client.force_login(anna)
    starts = timezone.localdate() + datetime.timedelta(days=30)
    response = client.post(
        reverse("staff:group_new"),
        {
            "g-name": "Spring bereavement group",
            "g-category": "bereavement",
            "g-membership_mode": "semi_open",
            "g-entry_points": "1, 5",
            "g-capacity": 10,
            "g-min_size": 3,
            "g-default_room": room_a.pk,
            "g-language": "pl",
            "g-starts_on": starts.isoformat(),
            "f-user": anna.pk,
            "f-role": "lead",
            "s-weekdays": [starts.weekday()],
            "s-start_time": "18:00",
            "s-duration_minutes": 90,
            "s-interval_weeks": 1,
            "s-first_date": starts.isoformat(),
            "s-count": 8,
            "s-skip_dates": (starts + datetime.timedelta(days=14)).isoformat(),
        },
    )
    group = SupportGroup.objects.get(name="Spring bereavement group")
    assert response.status_code == 302
    assert group.entry_points == [1, 5]
    # A skipped date (a holiday) does not use up one of the eight sessions.
    assert group.sessions.count() == 8
    skipped = starts + datetime.timedelta(days=14)
    assert skipped not in {timezone.localtime(s.starts_at).date() for s in group.sessions.all()}
    assert group.facilitator_roles.get().user == anna


def test_a_refused_schedule_creates_nothing_and_keeps_what_was_typed(client, anna, room_a):
    client.force_login(anna)
    starts = timezone.localdate() + datetime.timedelta(days=30)
    response = client.post(
        reverse("staff:group_new"),
        {
            "g-name": "Nameless",
            "g-category": "bereavement",
            "g-membership_mode": "semi_open",
            "g-entry_points": "",
            "g-capacity": 10,
            "g-min_size": 3,
            "g-language": "pl",
            "g-starts_on": starts.isoformat(),
            "f-user": anna.pk,
            "f-role": "lead",
            "s-weekdays": [starts.weekday()],
            "s-start_time": "18:00",
            "s-duration_minutes": 90,
            "s-interval_weeks": 1,
            "s-first_date": starts.isoformat(),
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="Nameless"' in html
    assert "Give either a last date or a number of sessions." in html
    assert not SupportGroup.objects.filter(name="Nameless").exists()


def test_staff_cannot_create_groups(client, marek):
    client.force_login(marek)
    assert client.get(reverse("staff:group_new")).status_code == 403


def test_a_facilitator_activates_a_group_and_a_bad_entry_point_list_is_refused(
    client, anna, group_a
):
    client.force_login(anna)
    url = reverse("staff:group_edit", args=[group_a.pk])
    form = client.get(url)
    assert form.status_code == 200
    data = {
        "name": group_a.name,
        "status": "paused",
        "category": group_a.category,
        "membership_mode": "semi_open",
        "entry_points": "",
        "capacity": 12,
        "min_size": 3,
        "language": "pl",
        "starts_on": group_a.starts_on.isoformat(),
    }
    refused = client.post(url, data)
    assert refused.status_code == 400
    assert 'id="id_entry_points_error"' in refused.content.decode()
    resume_on = (timezone.localdate() + datetime.timedelta(days=14)).isoformat()
    client.post(url, {**data, "entry_points": "1, 5", "resume_on": resume_on, "reason": "Holiday"})
    group_a.refresh_from_db()
    assert (group_a.status, group_a.entry_points) == ("paused", [1, 5])


def test_staff_cannot_edit_a_group(client, marek, group_a):
    client.force_login(marek)
    assert client.get(reverse("staff:group_edit", args=[group_a.pk])).status_code == 403


def test_the_group_page_lists_members_the_waiting_list_in_order_and_the_referred(
    client, anna, group_a, members_a
):
    """They come from one read of the open memberships; each list keeps its own order."""
    now = timezone.now()
    for days, alias in [(1, "Late Wiktor"), (9, "Early Ewelina"), (4, "Middle Marta")]:
        EnrollmentFactory(
            group=group_a,
            status=Enrollment.Status.WAITLISTED,
            waitlisted_at=now - datetime.timedelta(days=days),
            participant=ParticipantFactory(institution=group_a.institution, alias=alias),
        )
    EnrollmentFactory(
        group=group_a,
        status=Enrollment.Status.REFERRED,
        participant=ParticipantFactory(institution=group_a.institution, alias="Referred Rafał"),
    )
    EnrollmentFactory(
        group=group_a,
        status=Enrollment.Status.WITHDRAWN,
        participant=ParticipantFactory(institution=group_a.institution, alias="Gone Gosia"),
    )
    client.force_login(anna)
    html = client.get(reverse("staff:group", args=[group_a.pk])).content.decode()
    members = html[html.index('id="h-members"') : html.index('id="h-waiting"')]
    waiting = html[html.index('id="h-waiting"') : html.index("Referred</h3>")]
    referred = html[html.index("Referred</h3>") : html.index('id="h-chart"')]
    positions = [members.index(e.participant.alias) for e in members_a]
    assert positions == sorted(positions)  # by the participants' numbers
    assert "Late Wiktor" not in members and "Referred Rafał" not in members
    assert (
        waiting.index("Early Ewelina")
        < waiting.index("Middle Marta")
        < waiting.index("Late Wiktor")
    )
    assert "Referred Rafał" in referred and "Late Wiktor" not in referred
    assert "Gone Gosia" not in html
    assert f"3 of {group_a.capacity} seats taken" in html  # the members; no seat offered


def test_the_group_page_shows_its_coming_and_past_sessions_and_charts_only_held_ones(
    client, anna, group_a, members_a
):
    held = _session(group_a, 14, Session.Status.HELD)
    cancelled = _session(group_a, 7, Session.Status.CANCELLED)
    coming = _session(group_a, -7, Session.Status.SCHEDULED)
    for enrollment in members_a:
        AttendanceFactory(
            session=held, enrollment=enrollment, participant=enrollment.participant, status="late"
        )
    client.force_login(anna)
    html = client.get(reverse("staff:group", args=[group_a.pk])).content.decode()
    past = html[html.index('id="h-past"') :]
    future = html[html.index('id="h-future"') : html.index('id="h-past"')]
    assert reverse("staff:session", args=[coming.pk]) in future
    assert reverse("staff:session", args=[held.pk]) in past
    assert reverse("staff:session", args=[cancelled.pk]) in past
    chart = html[html.index("<svg") : html.index("</svg>")]
    assert f"Session {held.sequence}: 3 of 3 came." in chart
    assert f"Session {cancelled.sequence}:" not in chart
    assert chart.count('class="bar"') == 1
