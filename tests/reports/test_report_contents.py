"""Every report renders from factory data and, read back from the PDF, holds the figures the
test computes on its own and no name it must not show."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from attendance.models import AttendanceRecord, Consent
from sessions.models import SessionNote
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

from .conftest import MARKS, NAMES, PERIOD, at, pdf_text, squash

ATTENDED = set(AttendanceRecord.ATTENDED)
START, END = PERIOD


def pct(numerator, denominator):
    return f"{round(100 * numerator / denominator)}%"


def expected_rows():
    """Per member: (attended, expected) over the three held sessions, from MARKS alone.
    P6 (index 5) was not a member on the first one; a member without a mark is expected."""
    rows = {}
    for i, marks in MARKS.items():
        attended = sum(1 for m in marks if m in ATTENDED)
        expected = sum(1 for k, m in enumerate(marks) if not (i == 5 and k == 0))
        rows[i] = (attended, expected)
    return rows


def test_group_register_holds_each_members_totals_and_rates_and_the_session_rates(
    world, ewa, make_report
):
    run = make_report("group_register", ewa, group=world.group.pk, start=START, end=END)
    assert run.status == "ready", run.error
    text = pdf_text(run)
    rows = expected_rows()
    lines = text.splitlines()
    for i, (attended, expected) in rows.items():
        label = NAMES[i] if i < 2 else world.participants[i].code
        line = squash(next(line for line in lines if line.startswith(label)))
        assert line.endswith(f"{attended}/{expected}{pct(attended, expected)}"), line
    total_attended = sum(a for a, _ in rows.values())
    total_expected = sum(e for _, e in rows.values())
    assert f"{total_attended}/{total_expected}{pct(total_attended, total_expected)}" in squash(text)
    for k in range(3):  # each held session: attended / on the roster
        on_roster = [i for i in MARKS if not (i == 5 and k == 0)]
        came = sum(1 for i in on_roster if MARKS[i][k] in ATTENDED)
        assert f"{came}/{len(on_roster)}" in text
        assert pct(came, len(on_roster)) in text
    assert "cancelled" in text and "not held" in text
    assert "Sessions held: 3" in text


def test_group_register_names_only_members_whose_consent_and_the_readers_role_allow(
    world, ewa, anna, marek, make_report
):
    for reader in (ewa, anna):
        text = pdf_text(
            make_report("group_register", reader, group=world.group.pk, start=START, end=END)
        )
        assert NAMES[0] in text and NAMES[1] in text
        for i in range(2, 6):
            assert NAMES[i] not in text
            assert world.participants[i].code in text
    text = pdf_text(
        make_report("group_register", marek, group=world.group.pk, start=START, end=END)
    )
    assert not any(name in text for name in NAMES)
    assert all(p.code in text for p in world.participants)


def test_a_facilitator_of_another_group_sees_codes_only(world, institution_a, make_report):
    other = UserFactory(username="piotr")
    MembershipFactory(user=other, institution=institution_a)
    GroupFacilitatorFactory(group=GroupFactory(institution=institution_a), user=other)
    text = pdf_text(
        make_report("group_register", other, group=world.group.pk, start=START, end=END)
    )
    assert not any(name in text for name in NAMES)


def test_sign_in_sheet_lists_aliases_a_signature_column_and_the_ground_rules_in_polish(
    world, ewa, make_report
):
    run = make_report("sign_in_sheet", ewa, language="pl", session=world.sessions[4].pk)
    text = pdf_text(run)
    assert "Lista obecności na spotkaniu" in text
    assert "Podpis" in text and "Zasady grupy" in text
    assert world.group.ground_rules in text
    assert all(p.alias in text for p in world.participants)
    # The sheet lies on the table at the door: no legal name, even for the admin.
    assert not any(name in text for name in NAMES)
    assert "2026-11-03, 18:00–19:30" in text


def test_activity_summary_holds_the_figures_and_suppresses_small_counts(
    world, institution_a, olga, make_report
):
    # The small group starts before the period, as the world's group does: its members are
    # not new enrolments of the period, whatever day the suite runs.
    small = GroupFactory(
        institution=institution_a,
        name="Small bereavement group",
        category="bereavement",
        starts_on=datetime.date(2026, 9, 1),
    )
    session = SessionFactory(
        group=small, starts_at=at("2026-10-08"), ends_at=at("2026-10-08", 19), status="held"
    )
    for status in ("present", "present", "unexcused"):
        AttendanceFactory(session=session, status=status)
    run = make_report(
        "activity_summary", olga, institution=institution_a.pk, start="2026-10-01", end="2026-12-31"
    )
    assert run.status == "ready", run.error
    text = pdf_text(run)
    records = sum(1 for marks in MARKS.values() for m in marks if m is not None)
    attended = sum(1 for marks in MARKS.values() for m in marks if m in ATTENDED)
    flat = squash(text)
    # name, category, held, cancelled, not held, participants, new (<5), drop-outs, rate
    rate = pct(attended, records)
    assert f"ThursdaydepressiongroupDepression311{len(MARKS)}<50{rate}" in flat
    # 3 people in the small group: their count and rate are hidden.
    assert "SmallbereavementgroupBereavement100<500–" in flat
    # Hours: three held sessions of 90 minutes, and one of 60 in the small group.
    assert "5.5" in text and "Anna" in text
    assert pct(attended + 2, records + 3) in text
    # Aggregates only: no name, code or alias of any participant.
    for p in world.participants:
        assert p.code not in text and p.alias not in text and p.legal_name not in text
    assert "<5" in text


def test_auditors_get_aggregates_only(world, olga, institution_a):
    from reports.services import report_request

    with pytest.raises(PermissionDenied, match="Auditors receive aggregate reports only"):
        report_request(
            type="group_register",
            parameters={"group": world.group.pk, "start": START, "end": END},
            by=olga,
        )
    with pytest.raises(PermissionDenied, match="Auditors receive aggregate reports only"):
        report_request(
            type="participant_export", parameters={"participant": world.participants[0].pk}, by=olga
        )


def test_certificate_holds_attendance_against_what_was_required(world, ewa, make_report):
    p1 = world.participants[3]  # P4: unexcused, excused, present
    ConsentFactory(
        participant=p1, purpose=Consent.Purpose.DISCLOSURE, recipient="Sąd Rejonowy w Krakowie"
    )
    run = make_report(
        "attendance_certificate",
        ewa,
        language="pl",
        participant=p1.pk,
        group=world.group.pk,
        recipient="sąd rejonowy w krakowie",
        start=START,
        end=END,
    )
    assert run.status == "ready", run.error
    text = pdf_text(run)
    assert "Zaświadczenie o uczestnictwie" in text
    flat = squash(text)
    assert squash("Spotkania odbyte w czasie członkostwa (wymagane)3") in flat
    assert squash("Spotkania z obecnością1") in flat
    assert squash("Nieobecności usprawiedliwione1") in flat
    assert squash("Nieobecności nieusprawiedliwione1") in flat
    assert "33%" in text
    assert p1.code in text and NAMES[3] not in text  # no health-data consent: the code
    assert run.verification_code and run.verification_code in text
    assert f"/verify/{run.verification_code}/" in text
    assert "Anna" in text  # signed by the group's facilitator


def test_certificate_is_refused_without_a_disclosure_consent_for_that_recipient(world, ewa):
    from reports.services import report_request

    p1 = world.participants[0]
    ConsentFactory(
        participant=p1, purpose=Consent.Purpose.DISCLOSURE, recipient="Probation officer Nowak"
    )
    with pytest.raises(ValidationError) as refused:
        report_request(
            type="attendance_certificate",
            by=ewa,
            parameters={
                "participant": p1.pk,
                "group": world.group.pk,
                "recipient": "Employer Ltd",
                "start": START,
                "end": END,
            },
        )
    assert (
        "no active consent to disclose their attendance to “Employer Ltd”"
        in refused.value.message_dict["recipient"][0]
    )


def test_participant_export_holds_everything_about_the_person_and_nothing_about_others(
    world, ewa, anna, make_report
):
    me, other = world.participants[0], world.participants[1]
    session = world.sessions[0]
    SessionNote.objects.create(
        session=session,
        kind="participant",
        participant=me,
        author=anna,
        text="Spoke about her mother for the first time.",
    )
    SessionNote.objects.create(
        session=session,
        kind="participant",
        participant=other,
        author=anna,
        text="Other member's note.",
    )
    SessionNote.objects.create(
        session=session, kind="private", author=anna, text="My private hunch."
    )
    SessionNote.objects.create(
        session=session, kind="group", author=anna, text="The group worked on anger."
    )
    run = make_report("participant_export", ewa, participant=me.pk)
    text = pdf_text(run)
    assert me.code in text and me.legal_name in text and me.alias in text
    assert "Spoke about her mother for the first time." in text
    flat = squash(text)
    assert squash("Health-related data (GDPR art. 9)") in flat
    assert flat.count("Thursdaydepressiongroup") == 3 + 1 + 1  # attendance, membership, note
    for forbidden in ("Other member's note.", "My private hunch.", "The group worked on anger."):
        assert forbidden not in text
    for p in world.participants[1:]:
        assert p.legal_name not in text and p.code not in text and p.alias not in text


def test_the_export_is_for_the_institutions_admin(world, anna):
    from reports.services import report_request

    with pytest.raises(PermissionDenied, match="Your role does not allow this report"):
        report_request(
            type="participant_export", parameters={"participant": world.participants[0].pk}, by=anna
        )


@pytest.mark.parametrize(
    "report, words",
    [
        ("group_register", ["سجل حضور المجموعة", "المشارك", "النسبة"]),
        ("sign_in_sheet", ["كشف حضور الجلسة", "التوقيع", "قواعد المجموعة"]),
        ("activity_summary", ["ملخص نشاط المؤسسة", "نسبة الحضور"]),
    ],
)
def test_arabic_reports_read_back_as_arabic(world, ewa, institution_a, make_report, report, words):
    params = {
        "group_register": {"group": world.group.pk, "start": START, "end": END},
        "sign_in_sheet": {"session": world.sessions[0].pk},
        "activity_summary": {"institution": institution_a.pk, "start": START, "end": END},
    }[report]
    run = make_report(report, ewa, language="ar", **params)
    text = pdf_text(run)
    for word in words:
        assert word in text
    assert "2026-10-01 – 2026-11-15" in text or report == "sign_in_sheet"


def test_the_report_language_defaults_to_the_institutions(world, ewa, make_report):
    run = make_report("sign_in_sheet", ewa, language=None, session=world.sessions[0].pk)
    assert run.language == "pl"
    assert "Lista obecności" in pdf_text(run)


def test_a_member_who_left_is_off_the_register_after_leaving(world, ewa, make_report):
    leaver = ParticipantFactory(institution=world.group.institution, alias="Leaver")
    EnrollmentFactory(
        group=world.group,
        participant=leaver,
        status="withdrawn",
        joined_on=datetime.date(2026, 9, 1),
        left_on=datetime.date(2026, 10, 10),
    )
    text = pdf_text(make_report("group_register", ewa, group=world.group.pk, start=START, end=END))
    line = squash(next(line for line in text.splitlines() if line.startswith(leaver.code)))
    assert line.endswith("0/1" + "0%")  # on the roster of #1 only, and no mark there
