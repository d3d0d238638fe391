"""The rough edges of issue 16: each refusal says what is wrong and keeps what was typed; each
message says what actually happened."""

import datetime

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from attendance.models import Consent, Enrollment
from audit.services import audit_record
from sessions.models import Session, SessionNote, SupportGroup
from sessions.services import note_sign, note_write
from tests.factories import ConsentFactory, EnrollmentFactory, GroupFactory, ParticipantFactory

pytestmark = pytest.mark.django_db


def _new_group_data(starts, ends, **extra):
    return {
        "g-name": "Winter group",
        "g-category": "bereavement",
        "g-membership_mode": "open",
        "g-capacity": 10,
        "g-min_size": 3,
        "g-language": "pl",
        "g-starts_on": starts.isoformat(),
        "g-ends_on": ends.isoformat(),
        "s-weekdays": [starts.weekday()],
        "s-start_time": "18:00",
        "s-duration_minutes": 90,
        "s-interval_weeks": 1,
        "s-first_date": starts.isoformat(),
        "s-count": 4,
        **extra,
    }


def test_a_new_group_ending_before_it_starts_is_refused_next_to_the_end_date(client, anna):
    client.force_login(anna)
    starts = timezone.localdate() + datetime.timedelta(days=30)
    data = _new_group_data(
        starts, starts - datetime.timedelta(days=1), **{"f-user": anna.pk, "f-role": "lead"}
    )
    response = client.post(reverse("staff:group_new"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_g-ends_on_error"' in html
    assert "A group cannot end before it starts." in html
    assert 'value="Winter group"' in html
    assert not SupportGroup.objects.filter(name="Winter group").exists()


def test_editing_a_group_to_end_before_it_starts_says_so_in_words(client, anna, group_a):
    client.force_login(anna)
    response = client.post(
        reverse("staff:group_edit", args=[group_a.pk]),
        {
            "name": "Renamed",
            "status": group_a.status,
            "category": group_a.category,
            "membership_mode": group_a.membership_mode,
            "capacity": 12,
            "min_size": 3,
            "language": "pl",
            "starts_on": group_a.starts_on.isoformat(),
            "ends_on": (group_a.starts_on - datetime.timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "A group cannot end before it starts." in html
    assert "group_ends_after_start" not in html and 'value="Renamed"' in html


def test_a_group_note_signed_in_another_tab_keeps_the_typed_text_as_an_addendum(
    client, anna, begun_session
):
    note = note_write(
        session=begun_session, by=anna, kind=SessionNote.Kind.GROUP, text="First text."
    )
    client.force_login(anna)
    page = client.get(reverse("staff:session", args=[begun_session.pk]))  # the first tab
    assert page.status_code == 200
    Session.objects.filter(pk=begun_session.pk).update(status="held")  # notes sign once held
    note_sign(note=note, by=anna)  # the other tab
    response = client.post(
        reverse("staff:session_note", args=[begun_session.pk]),
        {"theme": "", "text": "What I typed meanwhile."},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This note was signed meanwhile" in html
    assert ">What I typed meanwhile.</textarea>" in html
    assert f'action="{reverse("staff:session_addendum", args=[begun_session.pk])}"' in html
    note.refresh_from_db()
    assert note.text == "First text."


def test_a_persons_note_signed_meanwhile_keeps_the_typed_text_too(
    client, anna, begun_session, members_a
):
    participant = members_a[0].participant
    note = note_write(
        session=begun_session,
        by=anna,
        kind=SessionNote.Kind.PARTICIPANT,
        participant=participant,
        text="Signed text.",
    )
    Session.objects.filter(pk=begun_session.pk).update(status="held")  # notes sign once held
    note_sign(note=note, by=anna)
    client.force_login(anna)
    response = client.post(
        reverse("staff:session_note", args=[begun_session.pk]),
        {"participant": participant.pk, "text": "Typed in the other tab."},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This note was signed meanwhile" in html
    assert ">Typed in the other tab.</textarea>" in html


def test_putting_someone_on_the_waiting_list_says_so_with_their_place(
    client, anna, group_a, institution_a
):
    EnrollmentFactory(
        group=group_a,
        participant=ParticipantFactory(institution=institution_a),
        status=Enrollment.Status.WAITLISTED,
        waitlisted_at=timezone.now() - datetime.timedelta(days=1),
    )
    person = ParticipantFactory(institution=institution_a, alias="Newcomer")
    client.force_login(anna)
    response = client.post(
        reverse("staff:group_add_member", args=[group_a.pk]),
        {"participant": person.pk, "referral_source": "self", "then": "waitlist"},
        follow=True,
    )
    html = response.content.decode()
    assert "Newcomer is on the waiting list, at place 2." in html
    assert "added to the group" not in html


def test_admitting_into_a_full_group_says_the_group_is_full(
    client, anna, group_a, members_a, institution_a
):
    group_a.capacity = 3
    group_a.save(update_fields=["capacity"])
    person = ParticipantFactory(institution=institution_a, alias="Fourth")
    client.force_login(anna)
    response = client.post(
        reverse("staff:group_add_member", args=[group_a.pk]),
        {"participant": person.pk, "referral_source": "self", "then": "admit"},
    )
    assert response.status_code == 400
    assert "The group is full (3 of 3 seats taken)" in response.content.decode()
    # With the consent given, the refusal is about the seats alone, said once.
    ConsentFactory(participant=person, purpose=Consent.Purpose.PARTICIPATION)
    response = client.post(
        reverse("staff:group_add_member", args=[group_a.pk]),
        {"participant": person.pk, "referral_source": "self", "then": "admit"},
    )
    html = response.content.decode()
    assert "The group is full (3 seats)." in html
    assert "The group is full (3 of 3 seats taken)" not in html


def test_the_consent_form_guesses_no_version(client, anna, members_a):
    client.force_login(anna)
    html = client.get(
        reverse("staff:participant", args=[members_a[0].participant_id])
    ).content.decode()
    assert 'name="text_version"' in html
    assert 'value="v1"' not in html


def test_the_audit_log_reads_as_sentences_with_codes_and_local_dates(client, ewa, anna, members_a):
    participant = members_a[0].participant
    audit_record(actor=anna, action="participant.viewed", obj=participant)
    client.force_login(ewa)
    html = client.get(reverse("audit:log")).content.decode()
    assert f"anna viewed the record of {participant.code}" in html
    assert "clinics.participant #" not in html
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"
    html = client.get(reverse("audit:log")).content.decode()
    local = timezone.localtime(timezone.now(), participant.institution.tzinfo)
    # Day, month name, year: never the US month/day order.
    assert f">{local.day} " in html and f" {local.year}, " in html


def test_the_auditor_sees_the_institutions_groups_without_their_members(
    client, olga, group_a, members_a
):
    client.force_login(olga)
    html = client.get(reverse("staff:groups")).content.decode()
    assert group_a.name in html and "No groups yet." not in html
    assert reverse("staff:group", args=[group_a.pk]) not in html
    assert f"?view=month&amp;group={group_a.pk}" in html
    reports = client.get(reverse("staff:reports")).content.decode()
    assert "?type=activity_summary" in reports
    assert "?type=group_register" not in reports and "?type=sign_in_sheet" not in reports


def test_a_facilitator_is_offered_only_the_reports_her_role_may_request(client, anna, members_a):
    client.force_login(anna)
    html = client.get(
        reverse("staff:participant", args=[members_a[0].participant_id])
    ).content.decode()
    assert "type=attendance_certificate" in html and "type=participant_export" not in html


@pytest.mark.django_db(transaction=True)
def test_a_report_made_at_once_says_it_is_ready_and_nothing_else(
    client, ewa, institution_a, group_a
):
    """Without a broker the report is made within the request (its commit runs the task)."""
    GroupFactory(institution=institution_a)
    client.force_login(ewa)
    response = client.post(
        reverse("staff:reports") + "?type=activity_summary",
        {
            "type": "activity_summary",
            "language": "en",
            "start": "2026-10-01",
            "end": "2026-10-31",
        },
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "The report is ready." in page
    assert "being prepared" not in page and "on its way" not in page


@pytest.mark.parametrize(
    "language, neutral, gendered",
    [
        ("pl", ["Obecność", "Spóźnienie", "Wcześniejsze wyjście", "Nieobecność"], ["Wyszedł"]),
        ("ar", ["حضور", "تأخّر", "مغادرة مبكرة", "غياب"], ["غادر مبكرًا"]),
    ],
)
def test_the_marks_read_the_same_for_women_and_men(
    client, anna, begun_session, language, neutral, gendered
):
    client.force_login(anna)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get(reverse("staff:session", args=[begun_session.pk])).content.decode()
    for label in neutral:
        assert f">{label}" in html
    for label in gendered:
        assert label not in html
