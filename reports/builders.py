"""The five reports: each builder turns a ReportRun's parameters into a template context.

Builders read; they never write. Every query is bounded: a report costs the same number of
queries for 5 participants as for 500 (aggregates are computed in the database, matrices are
filled from one query each). Who is named and which counts are hidden is asked of
`reports.privacy`, never decided here.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone
from django.utils.safestring import mark_safe

from attendance.models import AttendanceRecord, Consent, Enrollment
from attendance.policies import is_member_on
from clinics.models import Participant
from sessions import policies as group_policies
from sessions.models import GroupFacilitator, Session, SessionNote, SupportGroup

from . import privacy
from .labels import choice_label, labels_for
from .models import ReportRun

ATTENDED = tuple(AttendanceRecord.ATTENDED)
ABSENT = (AttendanceRecord.Status.EXCUSED, AttendanceRecord.Status.UNEXCUSED)
SessionStatus = Session.Status
# Sessions per table of the register: 13 fit an A4 landscape page next to the names.
REGISTER_COLUMNS = 13


@dataclass
class Built:
    template: str
    context: dict
    certificate_facts: dict | None = None


def person_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def local_bounds(start: datetime.date, end: datetime.date, tzinfo):
    """[start 00:00, end+1 00:00) in the institution's zone, as aware datetimes."""
    lo = datetime.datetime.combine(start, datetime.time.min, tzinfo=tzinfo)
    hi = datetime.datetime.combine(
        end + datetime.timedelta(days=1), datetime.time.min, tzinfo=tzinfo
    )
    return lo, hi


def _duration():
    return ExpressionWrapper(F("ends_at") - F("starts_at"), output_field=DurationField())


def _hours(value: datetime.timedelta | None) -> str:
    seconds = value.total_seconds() if value else 0
    return f"{seconds / 3600:.1f}"


def _base_context(run: ReportRun, title_key: str) -> dict:
    t = labels_for(run.language)
    return {
        "t": t,
        "language": run.language,
        "rtl": run.language == "ar",
        "title": t[title_key],
        "institution": run.institution,
        "generated_at": timezone.localtime(timezone.now(), run.institution.tzinfo),
        "generated_by": person_name(run.requested_by),
    }


def _facilitator_names(group) -> list[str]:
    roles = (
        GroupFacilitator.objects.filter(group=group, role__in=GroupFacilitator.BOOKED_ROLES)
        .select_related("user")
        .order_by("role", "user__last_name", "user__username")
    )
    return [person_name(r.user) for r in roles]


def _date(value) -> datetime.date:
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)


# --- Sign-in sheet ---------------------------------------------------------------------------


def build_sign_in_sheet(run: ReportRun) -> Built:
    from attendance.services import session_roster

    session = Session.objects.select_related("group", "room", "institution").get(
        pk=run.parameters["session"], institution=run.institution
    )
    group = session.group
    roster = session_roster(session, legal_names=True)
    naming = privacy.naming_for(
        user=run.requested_by,
        group=group,
        participant_ids=[e.participant_id for e in roster],
        group_facing=True,
    )
    tz = run.institution.tzinfo
    facilitators = _facilitator_names(group)
    if session.substitute_facilitator_id:
        facilitators.append(person_name(session.substitute_facilitator))
    context = _base_context(run, "sign_in_sheet")
    rows = [naming.label(e.participant) for e in roster]
    context.update(
        session=session,
        group=group,
        starts=timezone.localtime(session.starts_at, tz),
        ends=timezone.localtime(session.ends_at, tz),
        room=session.room.name if session.room_id else "",
        online=bool(session.online_link),
        facilitators=facilitators,
        rows=rows,
        # A few empty lines for walk-ins of an open group.
        blanks=range(3 if group.membership_mode != SupportGroup.MembershipMode.CLOSED else 0),
    )
    return Built("reports/sign_in_sheet.html", context)


# --- Attendance matrix (register and certificate) --------------------------------------------


@dataclass
class Matrix:
    sessions: list
    members: dict  # participant_id -> list of (joined_on, left_on)
    participants: dict  # participant_id -> Participant
    marks: dict  # (session_id, participant_id) -> status
    tz: object

    def is_member(self, participant_id: int, day: datetime.date) -> bool:
        return any(
            is_member_on(joined, left, day) for joined, left in self.members.get(participant_id, ())
        )


def attendance_matrix(group, start, end, participant_id: int | None = None) -> Matrix:
    """Sessions, memberships and marks of one group in a period: three queries in all."""
    tz = group.institution.tzinfo
    lo, hi = local_bounds(start, end, tz)
    sessions = list(
        Session.objects.filter(group=group, starts_at__gte=lo, starts_at__lt=hi).order_by(
            "starts_at", "id"
        )
    )
    enrollments = (
        Enrollment.objects.filter(group=group, joined_on__isnull=False, joined_on__lte=end)
        .filter(Q(left_on__isnull=True) | Q(left_on__gte=start))
        .exclude(status__in=[Enrollment.Status.REFERRED, Enrollment.Status.WAITLISTED])
        .select_related("participant")
        .order_by("participant__number", "joined_on")
    )
    records = AttendanceRecord.objects.filter(session__in=[s.pk for s in sessions])
    if participant_id is not None:
        enrollments = enrollments.filter(participant_id=participant_id)
        records = records.filter(participant_id=participant_id)
    members: dict = defaultdict(list)
    participants = {}
    for enrollment in enrollments:
        members[enrollment.participant_id].append((enrollment.joined_on, enrollment.left_on))
        participants[enrollment.participant_id] = enrollment.participant
    marks = {}
    stray = set()
    for session_id, pid, status in records.values_list("session_id", "participant_id", "status"):
        marks[(session_id, pid)] = status
        if pid not in participants:
            stray.add(pid)
    if stray:  # a mark without a membership in the period: still shown, never lost
        participants.update(Participant.objects.in_bulk(stray))
    return Matrix(sessions, dict(members), participants, marks, tz)


def _mark_symbols(t) -> dict:
    return {
        "present": t["mark_present"],
        "late": t["mark_late"],
        "left_early": t["mark_left_early"],
        "excused": t["mark_excused"],
        "unexcused": t["mark_unexcused"],
    }


def build_group_register(run: ReportRun) -> Built:
    p = run.parameters
    start, end = _date(p["start"]), _date(p["end"])
    group = SupportGroup.objects.select_related("institution").get(
        pk=p["group"], institution=run.institution
    )
    matrix = attendance_matrix(group, start, end)
    context = _base_context(run, "group_register")
    t = context["t"]
    symbols = _mark_symbols(t)
    naming = privacy.naming_for(
        user=run.requested_by, group=group, participant_ids=matrix.participants.keys()
    )
    off_labels = {
        SessionStatus.CANCELLED: t["mark_cancelled"],
        SessionStatus.NOT_HELD: t["mark_not_held"],
        SessionStatus.SCHEDULED: "",
    }
    columns = []
    for session in matrix.sessions:
        columns.append(
            {
                "session": session,
                "sequence": session.sequence,
                "date": timezone.localtime(session.starts_at, matrix.tz).date(),
                "off": session.status != SessionStatus.HELD,
                "off_label": off_labels.get(session.status, ""),
                "attended": 0,
                "expected": 0,
            }
        )
    rows = []
    pids = sorted(matrix.participants, key=lambda pid: matrix.participants[pid].number)
    for pid in pids:
        cells, attended, expected = [], 0, 0
        for col in columns:
            session = col["session"]
            status = matrix.marks.get((session.pk, pid))
            member = matrix.is_member(pid, col["date"])
            if col["off"]:
                cells.append({"mark": "", "css": "off"})
                continue
            if status is not None:
                is_attended = status in ATTENDED
                cells.append({"mark": symbols[status], "css": "" if is_attended else "abs"})
                expected += 1
                col["expected"] += 1
                if is_attended:
                    attended += 1
                    col["attended"] += 1
            elif member:
                cells.append({"mark": t["mark_missing"], "css": "abs"})
                expected += 1
                col["expected"] += 1
            else:
                cells.append({"mark": t["mark_not_member"], "css": ""})
        rows.append(
            {
                "label": naming.label(matrix.participants[pid]),
                "cells": cells,
                "attended": attended,
                "expected": expected,
                "rate": privacy.plain_rate(attended, expected),
            }
        )
    for col in columns:
        col["rate"] = privacy.plain_rate(col["attended"], col["expected"])
    chunks = []
    for offset in range(0, max(len(columns), 1), REGISTER_COLUMNS):
        chunk_rows = [
            {**row, "cells": row["cells"][offset : offset + REGISTER_COLUMNS]} for row in rows
        ]
        chunks.append(
            {
                "columns": columns[offset : offset + REGISTER_COLUMNS],
                "rows": chunk_rows,
                "last": offset + REGISTER_COLUMNS >= len(columns),
            }
        )
    total_attended = sum(r["attended"] for r in rows)
    total_expected = sum(r["expected"] for r in rows)
    status_of = [s.status for s in matrix.sessions]
    legend = [
        (t["mark_present"], t["status_present"]),
        (t["mark_late"], t["status_late"]),
        (t["mark_left_early"], t["status_left_early"]),
        (t["mark_excused"], t["status_excused"]),
        (t["mark_unexcused"], t["status_unexcused"]),
        (t["mark_missing"], t["status_missing"]),
        (t["mark_not_member"], t["status_not_member"]),
    ]
    context.update(
        group=group,
        facilitators=_facilitator_names(group),
        period_start=start,
        period_end=end,
        chunks=chunks,
        rows=rows,
        held_count=status_of.count(SessionStatus.HELD),
        cancelled_count=status_of.count(SessionStatus.CANCELLED),
        not_held_count=status_of.count(SessionStatus.NOT_HELD),
        total_attended=total_attended,
        total_expected=total_expected,
        total_rate=privacy.plain_rate(total_attended, total_expected),
        legend=legend,
    )
    return Built("reports/group_register.html", context)


# --- Activity summary ------------------------------------------------------------------------


def _bar(fraction: float, rtl: bool, colour: str = "#1f4e79") -> str:
    """A horizontal bar drawn as SVG (numbers only: nothing typed by a user goes in)."""
    width = max(0.0, min(1.0, fraction)) * 100
    flip = ' transform="translate(100 0) scale(-1 1)"' if rtl else ""
    return mark_safe(  # noqa: S308 - built from numbers only  # nosec B308 B703
        f'<svg width="56mm" height="3.2mm" viewBox="0 0 100 4" preserveAspectRatio="none">'
        f'<rect x="0" y="0" width="100" height="4" fill="#edf1f6"/>'
        f'<g{flip}><rect x="0" y="0" width="{width:.2f}" height="4" fill="{colour}"/></g></svg>'
    )


def _stacked_bar(parts: list[tuple[int, str]], total: int, rtl: bool) -> str:
    flip = ' transform="translate(100 0) scale(-1 1)"' if rtl else ""
    x, rects = 0.0, []
    for value, colour in parts:
        width = 100 * value / total if total else 0
        rects.append(f'<rect x="{x:.2f}" y="0" width="{width:.2f}" height="4" fill="{colour}"/>')
        x += width
    return mark_safe(  # noqa: S308 - built from numbers only  # nosec B308 B703
        '<svg width="22mm" height="3.2mm" viewBox="0 0 100 4" preserveAspectRatio="none">'
        f"<g{flip}>{''.join(rects)}</g></svg>"
    )


HELD_COLOUR, CANCELLED_COLOUR, NOT_HELD_COLOUR = "#1f4e79", "#c0504d", "#f2b134"


def build_activity_summary(run: ReportRun) -> Built:
    """The institution's month or quarter in figures, aggregated in the database."""
    p = run.parameters
    start, end = _date(p["start"]), _date(p["end"])
    institution = run.institution
    lo, hi = local_bounds(start, end, institution.tzinfo)
    context = _base_context(run, "activity_summary")
    t, rtl, lang = context["t"], context["rtl"], run.language

    sessions = Session.objects.filter(institution=institution, starts_at__gte=lo, starts_at__lt=hi)
    held_q = Q(status=SessionStatus.HELD)
    per_group = {
        row["group_id"]: row
        for row in sessions.values("group_id").annotate(
            held=Count("id", filter=held_q),
            cancelled=Count("id", filter=Q(status=SessionStatus.CANCELLED)),
            not_held=Count("id", filter=Q(status=SessionStatus.NOT_HELD)),
            duration=Sum(_duration(), filter=held_q),
        )
    }
    records = AttendanceRecord.objects.filter(
        institution=institution,
        session__status=SessionStatus.HELD,
        session__starts_at__gte=lo,
        session__starts_at__lt=hi,
    )
    attendance_aggregates = {
        "records": Count("id"),
        "attended": Count("id", filter=Q(status__in=ATTENDED)),
        "people": Count("participant", distinct=True),
        "participants": Count("participant", distinct=True, filter=Q(status__in=ATTENDED)),
    }
    att_by_group = {
        row["session__group_id"]: row
        for row in records.values("session__group_id").annotate(**attendance_aggregates)
    }
    att_by_category = {
        row["session__group__category"]: row
        for row in records.values("session__group__category").annotate(**attendance_aggregates)
    }
    overall = records.aggregate(**attendance_aggregates)
    enrollments = Enrollment.objects.filter(institution=institution)
    new_by_group = dict(
        enrollments.filter(joined_on__gte=start, joined_on__lte=end)
        .values("group_id")
        .annotate(n=Count("id"))
        .values_list("group_id", "n")
    )
    dropouts_by_group = dict(
        enrollments.filter(status=Enrollment.Status.WITHDRAWN, left_on__gte=start, left_on__lte=end)
        .values("group_id")
        .annotate(n=Count("id"))
        .values_list("group_id", "n")
    )
    active_ids = set(per_group) | set(new_by_group) | set(dropouts_by_group)
    groups = list(
        SupportGroup.objects.filter(institution=institution)
        .filter(Q(pk__in=active_ids) | Q(status=SupportGroup.Status.ACTIVE))
        .values("id", "name", "category")
        .order_by("category", "name")
    )

    max_sessions = max(
        (r["held"] + r["cancelled"] + r["not_held"] for r in per_group.values()), default=0
    )
    group_rows, category_groups, category_held = [], defaultdict(int), defaultdict(int)
    for g in groups:
        s = per_group.get(g["id"], {})
        a = att_by_group.get(g["id"], {})
        held, cancelled, not_held = s.get("held", 0), s.get("cancelled", 0), s.get("not_held", 0)
        category_groups[g["category"]] += 1
        category_held[g["category"]] += held
        group_rows.append(
            {
                "name": g["name"],
                "category": choice_label(lang, "category", g["category"]),
                "held": held,
                "cancelled": cancelled,
                "not_held": not_held,
                "participants": privacy.suppress(a.get("participants", 0)),
                "new": privacy.suppress(new_by_group.get(g["id"], 0)),
                "dropouts": privacy.suppress(dropouts_by_group.get(g["id"], 0)),
                "rate": privacy.rate(
                    a.get("attended", 0), a.get("records", 0), people=a.get("people", 0)
                ),
                "bar": _stacked_bar(
                    [
                        (held, HELD_COLOUR),
                        (cancelled, CANCELLED_COLOUR),
                        (not_held, NOT_HELD_COLOUR),
                    ],
                    max_sessions,
                    rtl,
                ),
            }
        )
    category_rows = []
    for category in sorted(category_groups, key=lambda c: choice_label(lang, "category", c)):
        a = att_by_category.get(category, {})
        rate_text = privacy.rate(
            a.get("attended", 0), a.get("records", 0), people=a.get("people", 0)
        )
        fraction = a["attended"] / a["records"] if rate_text.endswith("%") else 0
        category_rows.append(
            {
                "label": choice_label(lang, "category", category),
                "groups": category_groups[category],
                "held": category_held[category],
                "participants": privacy.suppress(a.get("participants", 0)),
                "rate": rate_text,
                "bar": _bar(fraction, rtl),
            }
        )

    # Facilitation hours: the group's lead and co-facilitators for a held session, or the
    # substitute alone when one stood in.
    held_in_period = Q(
        group__sessions__status=SessionStatus.HELD,
        group__sessions__starts_at__gte=lo,
        group__sessions__starts_at__lt=hi,
        group__sessions__substitute_facilitator__isnull=True,
    )
    by_user: dict = {}
    regular = (
        GroupFacilitator.objects.filter(
            held_in_period,
            group__institution=institution,
            role__in=GroupFacilitator.BOOKED_ROLES,
        )
        .values("user_id", "user__first_name", "user__last_name", "user__username")
        .annotate(
            sessions=Count("group__sessions"),
            duration=Sum(
                ExpressionWrapper(
                    F("group__sessions__ends_at") - F("group__sessions__starts_at"),
                    output_field=DurationField(),
                )
            ),
        )
    )
    substitutes = (
        sessions.filter(held_q, substitute_facilitator__isnull=False)
        .values(
            user_id=F("substitute_facilitator_id"),
            user__first_name=F("substitute_facilitator__first_name"),
            user__last_name=F("substitute_facilitator__last_name"),
            user__username=F("substitute_facilitator__username"),
        )
        .annotate(sessions=Count("id"), duration=Sum(_duration()))
    )
    for row in [*regular, *substitutes]:
        entry = by_user.setdefault(
            row["user_id"],
            {
                "name": f"{row['user__first_name']} {row['user__last_name']}".strip()
                or row["user__username"],
                "sessions": 0,
                "duration": datetime.timedelta(),
            },
        )
        entry["sessions"] += row["sessions"]
        entry["duration"] += row["duration"] or datetime.timedelta()
    facilitator_rows = [
        {"name": e["name"], "sessions": e["sessions"], "hours": _hours(e["duration"])}
        for e in sorted(by_user.values(), key=lambda e: (-e["duration"], e["name"]))
    ]

    consent_counts = defaultdict(int)
    for purpose, status, n in (
        Consent.objects.filter(institution=institution)
        .values("purpose", "status")
        .annotate(n=Count("id"))
        .values_list("purpose", "status", "n")
    ):
        consent_counts[(purpose, status)] = n
    statuses = list(Consent.Status.values)
    consent_rows = [
        {
            "label": choice_label(lang, "purpose", purpose),
            "counts": [privacy.suppress(consent_counts[(purpose, s)]) for s in statuses],
        }
        for purpose in Consent.Purpose.values
    ]

    total_duration = sum(
        (r["duration"] or datetime.timedelta() for r in per_group.values()), datetime.timedelta()
    )
    context.update(
        period_start=start,
        period_end=end,
        totals={
            "held": sum(r["held"] for r in per_group.values()),
            "cancelled": sum(r["cancelled"] for r in per_group.values()),
            "not_held": sum(r["not_held"] for r in per_group.values()),
            "hours": _hours(total_duration),
            "participants": privacy.suppress(overall["participants"]),
            "new": privacy.suppress(sum(new_by_group.values())),
            "dropouts": privacy.suppress(sum(dropouts_by_group.values())),
            "rate": privacy.rate(overall["attended"], overall["records"], people=overall["people"]),
        },
        groups=group_rows,
        categories=category_rows,
        facilitators=facilitator_rows,
        consent_statuses=[choice_label(lang, "consent_status", s) for s in statuses],
        consents=consent_rows,
        sessions_legend=mark_safe(  # noqa: S308 - fixed labels and colours only  # nosec B308 B703
            " ".join(
                f'<span style="color:{colour}">■</span> {label}'
                for colour, label in (
                    (HELD_COLOUR, t["held"]),
                    (CANCELLED_COLOUR, t["cancelled"]),
                    (NOT_HELD_COLOUR, t["not_held"]),
                )
            )
        ),
    )
    return Built("reports/activity_summary.html", context)


# --- Attendance certificate ------------------------------------------------------------------


def certificate_figures(group, participant, start, end) -> dict:
    """What one participant's attendance was against what was required (held sessions while a
    member); cancelled and not-held sessions are required of no one."""
    matrix = attendance_matrix(group, start, end, participant_id=participant.pk)
    required = attended = excused = unexcused = 0
    for session in matrix.sessions:
        if session.status != SessionStatus.HELD:
            continue
        day = timezone.localtime(session.starts_at, matrix.tz).date()
        status = matrix.marks.get((session.pk, participant.pk))
        if status is None and not matrix.is_member(participant.pk, day):
            continue
        required += 1
        if status in ATTENDED:
            attended += 1
        elif status == AttendanceRecord.Status.EXCUSED:
            excused += 1
        elif status == AttendanceRecord.Status.UNEXCUSED:
            unexcused += 1
    return {
        "required": required,
        "attended": attended,
        "excused": excused,
        "unexcused": unexcused,
        "not_recorded": required - attended - excused - unexcused,
        "rate": privacy.plain_rate(attended, required),
    }


def build_attendance_certificate(run: ReportRun) -> Built:
    p = run.parameters
    start, end = _date(p["start"]), _date(p["end"])
    group = SupportGroup.objects.select_related("institution").get(
        pk=p["group"], institution=run.institution
    )
    participant = Participant.objects.get(pk=p["participant"], institution=run.institution)
    # Checked again at render time: consent withdrawn since the request means no certificate.
    privacy.check_certificate_consent(participant=participant, recipient=p["recipient"])
    naming = privacy.naming_for(
        user=run.requested_by, group=group, participant_ids=[participant.pk]
    )
    label = naming.label(participant)
    signer = run.requested_by
    if signer is None or not group_policies.facilitates(
        signer, group, GroupFacilitator.LOCKING_ROLES
    ):
        lead = (
            GroupFacilitator.objects.filter(group=group, role__in=GroupFacilitator.BOOKED_ROLES)
            .select_related("user")
            .order_by("role", "id")
            .first()
        )
        signer = lead.user if lead else signer
    facts = {
        "institution": run.institution.name,
        "participant": label,
        "participant_is_code": label == participant.code,
        # The group's name tells its topic ("… for people with depression"): only with the
        # disclosure consent's leave.
        "group": group.name
        if privacy.certificate_names_group(participant=participant, recipient=p["recipient"])
        else labels_for(run.language)["a_support_group"],
        "start": start.isoformat(),
        "end": end.isoformat(),
        "recipient": p["recipient"].strip(),
        "signed_by": person_name(signer),
        "issued_on": timezone.localdate().isoformat(),
        "code": run.verification_code,
        **certificate_figures(group, participant, start, end),
    }
    context = _base_context(run, "attendance_certificate")
    context.update(facts=facts, verify_url=p.get("verify_url", ""))
    return Built("reports/attendance_certificate.html", context, certificate_facts=facts)


# --- Participant export ----------------------------------------------------------------------


def build_participant_export(run: ReportRun) -> Built:
    """Everything held about one person; their own participant notes only, never a private
    note, never another member's name or note."""
    participant = Participant.objects.get(
        pk=run.parameters["participant"], institution=run.institution
    )
    context = _base_context(run, "participant_export")
    t, lang = context["t"], run.language
    identity = [
        (t["code"], participant.code, True),
        (t["alias"], participant.alias, False),
        (t["legal_name"], participant.legal_name, False),
        (t["email"], participant.email, True),
        (t["phone"], participant.phone, True),
        (t["birth_year"], participant.birth_year or "", True),
        (
            t["language"],
            choice_label(lang, "language", participant.language) if participant.language else "",
            False,
        ),
        (t["reminder_channel"], choice_label(lang, "channel", participant.reminder_channel), False),
        (t["registered_on"], participant.created_at.date().isoformat(), True),
    ]
    if participant.erased_at:
        identity.append((t["erased_on"], participant.erased_at.date().isoformat(), True))
    enrollments = [
        {
            "group": e.group.name,
            "status": choice_label(lang, "enrollment_status", e.status),
            "referral": choice_label(lang, "referral", e.referral_source),
            "joined": e.joined_on,
            "left": e.left_on,
            "reason": e.end_reason,
        }
        for e in participant.enrollments.select_related("group").order_by("referred_on", "id")
    ]
    consents = [
        {
            "purpose": choice_label(lang, "purpose", c.purpose),
            "status": choice_label(lang, "consent_status", c.status),
            "method": choice_label(lang, "method", c.method),
            "version": c.text_version,
            "granted": c.granted_at,
            "withdrawn": c.withdrawn_at,
            "expires": c.expires_at,
            "recipient": c.recipient,
            "text": c.text,  # the exact text agreed to, printed in full below
        }
        for c in participant.consents.select_related("text").order_by("granted_at", "id")
    ]
    tz = run.institution.tzinfo
    attendance = [
        {
            "date": timezone.localtime(a.session.starts_at, tz),
            "group": a.session.group.name,
            "sequence": a.session.sequence,
            "status": labels_for(lang)[f"status_{a.status}"],
            "arrived": a.arrived_at,
            "left": a.left_at,
        }
        for a in participant.attendance_records.select_related("session__group").order_by(
            "session__starts_at"
        )
    ]
    notes = [
        {
            "date": timezone.localtime(n.session.starts_at, tz),
            "group": n.session.group.name,
            "theme": n.theme,
            "text": n.text,
            "signed": n.signed_at,
            "addenda": list(n.addenda.all()),
        }
        for n in SessionNote.objects.filter(
            participant=participant, kind__in=privacy.REPORTABLE_NOTE_KINDS
        )
        .select_related("session__group")
        .prefetch_related("addenda")
        .order_by("session__starts_at")
    ]
    context.update(
        participant=participant,
        identity=identity,
        enrollments=enrollments,
        consents=consents,
        attendance=attendance,
        notes=notes,
    )
    return Built("reports/participant_export.html", context)


BUILDERS = {
    ReportRun.Type.SIGN_IN_SHEET: build_sign_in_sheet,
    ReportRun.Type.GROUP_REGISTER: build_group_register,
    ReportRun.Type.ACTIVITY_SUMMARY: build_activity_summary,
    ReportRun.Type.ATTENDANCE_CERTIFICATE: build_attendance_certificate,
    ReportRun.Type.PARTICIPANT_EXPORT: build_participant_export,
}


def build(run: ReportRun) -> Built:
    return BUILDERS[run.type](run)
