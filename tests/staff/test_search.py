"""People, groups and sessions are found by searching, within the user's institution, a page at
a time; no page carries a <select> of the whole institution."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from attendance.models import Consent, Enrollment
from audit.models import AuditEvent
from clinics.models import Participant
from staff import search
from tests.factories import (
    AttendanceFactory,
    ConsentFactory,
    EnrollmentFactory,
    GroupFactory,
    ParticipantFactory,
    SessionFactory,
)

pytestmark = pytest.mark.django_db


def _json(client, name, **params):
    response = client.get(reverse(name), params)
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    return response.json()


def _many_participants(institution, n, prefix="Person"):
    """`n` participants at once (bulk), numbered after the institution's last one."""
    start = institution.participants.count()
    Participant.objects.bulk_create(
        Participant(
            institution=institution,
            number=start + i + 1,
            code=Participant.code_for(start + i + 1),
            alias=f"{prefix} {i:04d}",
        )
        for i in range(n)
    )
    institution.last_participant_number = start + n
    institution.save(update_fields=["last_participant_number"])


def test_the_participant_search_finds_by_code_and_alias_within_the_institution(
    client, anna, institution_a, institution_b
):
    ala = ParticipantFactory(institution=institution_a, alias="Ala Kot")
    ParticipantFactory(institution=institution_b, alias="Ala Obca")
    client.force_login(anna)
    by_alias = _json(client, "staff:search_participants", q="ala")
    assert [r["id"] for r in by_alias["results"]] == [ala.pk]
    assert by_alias["results"][0]["text"] == f"{ala.code} · Ala Kot"
    by_code = _json(client, "staff:search_participants", q=ala.code)
    assert [r["id"] for r in by_code["results"]] == [ala.pk]


def test_karim_never_finds_institution_as_people(client, karim, institution_a):
    ParticipantFactory(institution=institution_a, alias="Ala Kot")
    client.force_login(karim)
    assert _json(client, "staff:search_participants", q="Ala")["results"] == []
    assert _json(client, "staff:search_participants", q="")["results"] == []


def test_an_auditor_finds_nobody(client, olga, institution_a):
    ParticipantFactory(institution=institution_a, alias="Ala Kot")
    client.force_login(olga)
    assert _json(client, "staff:search_participants", q="Ala")["results"] == []


def test_the_participant_search_answers_a_page_at_a_time_with_the_next_address(
    client, anna, institution_a
):
    _many_participants(institution_a, search.PAGE_SIZE + 5)
    client.force_login(anna)
    first = _json(client, "staff:search_participants", q="Person")
    assert len(first["results"]) == search.PAGE_SIZE
    assert first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 5 and second["next"] is None
    seen = [r["id"] for r in first["results"] + second["results"]]
    assert len(set(seen)) == search.PAGE_SIZE + 5


def test_the_add_member_search_leaves_out_who_is_already_in_or_waiting(
    client, anna, group_a, institution_a
):
    member = ParticipantFactory(institution=institution_a, alias="Member One")
    waiting = ParticipantFactory(institution=institution_a, alias="Member Two")
    free = ParticipantFactory(institution=institution_a, alias="Member Three")
    EnrollmentFactory(group=group_a, participant=member)
    EnrollmentFactory(group=group_a, participant=waiting, status=Enrollment.Status.WAITLISTED)
    client.force_login(anna)
    found = _json(client, "staff:search_participants", q="Member", not_in_group=group_a.pk)
    assert [r["id"] for r in found["results"]] == [free.pk]


def test_the_add_member_search_of_another_institutions_group_is_a_404(client, anna, group_b):
    client.force_login(anna)
    response = client.get(reverse("staff:search_participants"), {"not_in_group": group_b.pk})
    assert response.status_code == 404


def test_a_legal_name_is_found_without_its_diacritics_and_the_read_is_audited(
    client, anna, institution_a
):
    named = ParticipantFactory(institution=institution_a, alias="Kot", legal_name="Łucja Żak")
    ParticipantFactory(institution=institution_a, alias="Pies", legal_name="Anna Nowak")
    client.force_login(anna)
    found = _json(client, "staff:search_participants", q="lucja zak")
    assert [r["id"] for r in found["results"]] == [named.pk]
    assert "Łucja Żak" in found["results"][0]["text"]
    (event,) = AuditEvent.objects.filter(action="participant.listed")
    assert event.details["ids"] == [named.pk] and event.actor_username == "anna"


def test_a_search_that_shows_no_name_writes_no_read_event(client, anna, institution_a):
    ParticipantFactory(institution=institution_a, alias="Kot", legal_name="Łucja Żak")
    client.force_login(anna)
    assert len(_json(client, "staff:search_participants", q="Kot")["results"]) == 1
    assert not AuditEvent.objects.filter(action="participant.listed").exists()


def test_names_are_looked_for_among_a_bounded_set_and_the_page_says_so(
    client, anna, institution_a, monkeypatch
):
    monkeypatch.setattr(search, "NAME_CANDIDATES", 2)
    oldest = ParticipantFactory(institution=institution_a, alias="A", legal_name="Zofia Wrona")
    for name in ("Jan Kos", "Ewa Sowa"):
        ParticipantFactory(institution=institution_a, alias="B", legal_name=name)
    Participant.objects.filter(pk=oldest.pk).update(
        updated_at=timezone.now() - datetime.timedelta(days=30)
    )
    client.force_login(anna)
    response = client.get(reverse("staff:participants"), {"q": "Zofia"})
    html = response.content.decode()
    assert "among the 2,000 most recently changed people only" in html
    assert oldest.code not in html
    # Narrowed by a filter, the candidates are few enough and she is found.
    group = GroupFactory(institution=institution_a)
    EnrollmentFactory(group=group, participant=oldest)
    response = client.get(reverse("staff:participants"), {"q": "Zofia", "group": group.pk})
    assert oldest.code in response.content.decode()


def test_the_group_and_session_searches_are_scoped_and_paged(
    client, anna, group_a, group_b, institution_a
):
    starts = timezone.now() + datetime.timedelta(days=3)
    session = SessionFactory(
        group=group_a, starts_at=starts, ends_at=starts + datetime.timedelta(hours=1)
    )
    SessionFactory(group=group_b, starts_at=starts, ends_at=starts + datetime.timedelta(hours=1))
    client.force_login(anna)
    groups = _json(client, "staff:search_groups", q="")
    assert [r["id"] for r in groups["results"]] == [group_a.pk]
    by_name = _json(client, "staff:search_sessions", q=f"{group_a.name[:4]} #{session.sequence}")
    assert [r["id"] for r in by_name["results"]] == [session.pk]
    day = timezone.localtime(starts).date().isoformat()
    by_day = _json(client, "staff:search_sessions", q=day)
    assert [r["id"] for r in by_day["results"]] == [session.pk]


def test_the_staff_search_of_another_institution_is_a_404(client, anna, institution_b):
    client.force_login(anna)
    response = client.get(reverse("staff:search_staff"), {"institution": institution_b.pk})
    assert response.status_code == 404
    response = client.get(reverse("staff:search_staff"), {"institution": "x"})
    assert response.status_code == 404


def test_the_facilitator_search_finds_the_institutions_facilitators(
    client, anna, ewa, marek, institution_a
):
    client.force_login(anna)
    found = _json(client, "staff:search_staff", institution=institution_a.pk, q="")
    ids = {r["id"] for r in found["results"]}
    assert anna.pk in ids and ewa.pk in ids and marek.pk not in ids


# --- The participants list ---------------------------------------------------------------------


def test_the_participants_list_is_paged(client, anna, institution_a):
    _many_participants(institution_a, 120)
    client.force_login(anna)
    html = client.get(reverse("staff:participants")).content.decode()
    assert html.count('class="row"') == 50
    assert "Page 1 of 3" in html
    last = client.get(reverse("staff:participants"), {"page": 3}).content.decode()
    assert last.count('class="row"') == 20


def test_the_participants_list_filters_by_group_membership_and_consent(
    client, anna, group_a, institution_a
):
    member = ParticipantFactory(institution=institution_a, alias="In Group")
    waiting = ParticipantFactory(institution=institution_a, alias="Waiting One")
    loner = ParticipantFactory(institution=institution_a, alias="Loner")
    EnrollmentFactory(group=group_a, participant=member)
    EnrollmentFactory(group=group_a, participant=waiting, status=Enrollment.Status.WAITLISTED)
    ConsentFactory(participant=member, purpose=Consent.Purpose.PARTICIPATION)
    client.force_login(anna)

    def shown(**params):
        html = client.get(reverse("staff:participants"), params).content.decode()
        return {p.alias for p in (member, waiting, loner) if p.code in html}

    assert shown(group=group_a.pk) == {"In Group", "Waiting One"}
    assert shown(group=group_a.pk, membership="waitlisted") == {"Waiting One"}
    assert shown(membership="none") == {"Loner"}
    assert shown(consent="participation:in_force") == {"In Group"}
    assert shown(consent="participation:missing") == {"Waiting One", "Loner"}
    assert shown(q="loner") == {"Loner"}


def test_a_participants_history_is_paged(client, anna, members_a):
    enrollment = members_a[0]
    for _ in range(25):
        AttendanceFactory(
            session=SessionFactory(group=enrollment.group),
            enrollment=enrollment,
            participant=enrollment.participant,
        )
    client.force_login(anna)
    url = reverse("staff:participant", args=[enrollment.participant_id])
    first = client.get(url).content.decode()
    assert "Page 1 of 2 (25 in all)" in first
    second = client.get(url, {"page": 2}).content.decode()
    assert "Page 2 of 2" in second
    # Every page of the record is a read of it, as before.
    assert AuditEvent.objects.filter(action="participant.viewed").count() == 2


# --- The header's search -----------------------------------------------------------------------


def test_the_header_search_finds_participants_groups_and_sessions(
    client, anna, group_a, institution_a, institution_b
):
    group_a.name = "Żałoba wtorkowa"
    group_a.save(update_fields=["name"])
    starts = timezone.now() + datetime.timedelta(days=1)
    session = SessionFactory(
        group=group_a, starts_at=starts, ends_at=starts + datetime.timedelta(hours=1)
    )
    person = ParticipantFactory(institution=institution_a, alias="Wtorek")
    ParticipantFactory(institution=institution_b, alias="Wtorek obcy")
    client.force_login(anna)
    html = client.get(reverse("staff:search"), {"q": "wtork"}).content.decode()
    assert reverse("staff:group", args=[group_a.pk]) in html
    assert reverse("staff:session", args=[session.pk]) in html
    html = client.get(reverse("staff:search"), {"q": "wtorek"}).content.decode()
    assert person.code in html and reverse("staff:participant", args=[person.pk]) in html
    assert "Wtorek obcy" not in html


def test_every_page_has_the_header_search_box(client, anna):
    client.force_login(anna)
    html = client.get(reverse("staff:today")).content.decode()
    assert 'role="search"' in html and f'action="{reverse("staff:search")}"' in html


# --- No list of everyone -----------------------------------------------------------------------

SELECT = re.compile(r"<select\b[^>]*>(.*?)</select>", re.S)


def _largest_select(html: str) -> int:
    return max((m.group(1).count("<option") for m in SELECT.finditer(html)), default=0)


def test_no_page_carries_a_select_of_more_than_a_hundred_options(
    client, anna, group_a, members_a, begun_session, institution_a
):
    _many_participants(institution_a, 150)
    for i in range(120):
        GroupFactory(institution=institution_a, name=f"Group {i:03d}")
    client.force_login(anna)
    participant = members_a[0].participant
    pages = [
        reverse("staff:group", args=[group_a.pk]),
        reverse("staff:group_new"),
        reverse("staff:participants"),
        reverse("staff:participant", args=[participant.pk]),
        reverse("staff:session", args=[begun_session.pk]),
        reverse("staff:calendar"),
        reverse("staff:calendar") + "?view=month",
        *(
            reverse("staff:reports") + f"?type={kind}"
            for kind in (
                "sign_in_sheet",
                "group_register",
                "activity_summary",
                "attendance_certificate",
                "participant_export",
            )
        ),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert _largest_select(response.content.decode()) <= 100, url


def test_a_picker_shows_the_chosen_option_after_a_refused_post(client, anna, group_a, members_a):
    """The form comes back with what was typed: the chosen person stays chosen."""
    outsider = ParticipantFactory(institution=group_a.institution, alias="Chosen One")
    group_a.capacity = 3
    group_a.save(update_fields=["capacity"])
    client.force_login(anna)
    response = client.post(
        reverse("staff:group_add_member", args=[group_a.pk]),
        {"participant": outsider.pk, "referral_source": "self", "then": "admit"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert f'<option value="{outsider.pk}" selected>{outsider.code} · Chosen One</option>' in html
