"""Attendance: the roster of a session and recording its marks, corrections keeping history."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Value, When, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_event, audit_record_many
from clinics.locking import Precondition
from clinics.models import Participant
from clinics.roles import CLINICAL_ROLES, require_role
from sessions.models import Session

from ..models import AttendanceNotTaken, AttendanceRecord, AttendanceRevision, Enrollment
from ..policies import attendance_refusal
from .follow_ups import _raise_follow_ups

Status = Enrollment.Status


# --- Attendance ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """One person's mark in a roster."""

    participant_id: int
    status: str
    arrived_at: datetime.time | None = None
    left_at: datetime.time | None = None


def session_roster(session: Session, *, legal_names: bool = False) -> list[Enrollment]:
    """Who is on a session's roster: members on that day (including walk-ins).

    Their participants come without the legal name unless `legal_names` (a report that may
    print it): the column is encrypted, and a roster shown by alias should neither decrypt it
    nor hold it in memory."""
    roster = (
        Enrollment.objects.filter(group_id=session.group_id)
        .members_on(session.local_date())
        .select_related("participant")
        .order_by("participant__number")
    )
    return list(roster if legal_names else roster.defer("participant__legal_name"))


@dataclass(frozen=True)
class RosterLine:
    """One line of a session's roster: a member that day with their mark (if any), or someone
    marked earlier who is no longer a member that day (`on_roster` false)."""

    enrollment: Enrollment
    participant: Participant
    record: AttendanceRecord | None
    on_roster: bool


def roster_lines(
    session: Session,
    *,
    roster: list[Enrollment] | None = None,
    records: Iterable[AttendanceRecord] | None = None,
) -> list[RosterLine]:
    """The session's roster with each member's mark, then anyone marked earlier who is no
    longer a member that day, by participant number.

    `roster` (as `session_roster` gives it) and `records` (all the session's marks) are read
    here unless the caller already holds them, as `attendance_record_roster` does.
    """
    if records is None:
        records = session.attendance_records.select_related("participant", "enrollment").defer(
            "participant__legal_name"
        )
        # By pk: the default ordering would join the session and the institution for nothing.
        records = records.order_by("pk")
    if roster is None:
        roster = session_roster(session)
    marks = {record.participant_id: record for record in records}
    lines = [
        RosterLine(
            enrollment, enrollment.participant, marks.pop(enrollment.participant_id, None), True
        )
        for enrollment in roster
    ]
    no_longer_members = list(marks.values())
    # Records read without their participant and enrollment (the write's lock) get them here,
    # in one query each, and only when someone has left the roster; joined ones cost nothing.
    prefetch_related_objects(no_longer_members, "participant", "enrollment")
    no_longer_members.sort(key=lambda record: (record.participant.number, record.pk))
    lines += [RosterLine(r.enrollment, r.participant, r, False) for r in no_longer_members]
    return lines


def _check_session_open_for_attendance(session: Session, now) -> None:
    """Attendance is taken from shortly before a session begins, never for one that did not happen."""
    refusal = attendance_refusal(session, now)
    if refusal:
        raise ValidationError(refusal)


def _mark_errors(mark: Mark, session: Session) -> str | None:
    """What is wrong with one person's mark, if anything (the roster is checked separately)."""
    if mark.status not in AttendanceRecord.Status.values:
        return _("Unknown attendance status “%(status)s”.") % {"status": mark.status}
    absent = mark.status in (AttendanceRecord.Status.EXCUSED, AttendanceRecord.Status.UNEXCUSED)
    if absent and (mark.arrived_at or mark.left_at):
        return _("An absence has no arrival or leaving time.")
    if mark.arrived_at and mark.left_at and mark.left_at <= mark.arrived_at:
        return _("The leaving time must be after the arrival time.")
    return None


# The fields a correction changes (updated_at too: an UPDATE does not apply auto_now).
_CORRECTED_FIELDS = [
    "status",
    "arrived_at",
    "left_at",
    "recorded_by",
    "recorded_at",
    "source",
    "version",
    "updated_at",
]


def _update_in_one_statement(records: list[AttendanceRecord]) -> None:
    """Write the corrected records' fields with one UPDATE, as bulk_update does, but set a
    column that has the same value in every row plainly instead of with a CASE of one WHEN per
    row: bulk_update's 8 columns × 15 rows of CASE cost half of a roster PUT's time in Python,
    and in a roster most columns (who, when, from where, usually the times) are the same."""
    if not records:
        return
    values = {}
    for name in _CORRECTED_FIELDS:
        field = AttendanceRecord._meta.get_field(name)
        column = {getattr(r, field.attname) for r in records}
        if len(column) == 1:
            values[field.attname] = column.pop()
        else:
            values[field.attname] = Case(
                *(When(pk=r.pk, then=Value(getattr(r, field.attname), field)) for r in records),
                output_field=field,
            )
    AttendanceRecord.objects.filter(pk__in=[r.pk for r in records]).update(**values)


@dataclass(frozen=True)
class _Taken:
    """What taking attendance read and wrote, for the callers' answers."""

    session: Session  # locked, with its status as it now stands
    roster: list[Enrollment]
    records: list[AttendanceRecord]  # every mark of the session as it now stands
    marked: list[AttendanceRecord]  # one per mark sent, in their order


@transaction.atomic
def attendance_record(
    *,
    session: Session,
    marks: list[Mark],
    by,
    source: str = AttendanceRecord.Source.WEB,
    precondition: Precondition = None,
) -> list[AttendanceRecord]:
    """Record or correct the attendance of one session, all marks or none.

    Taking attendance marks a scheduled session held. Only people on the roster that day can be
    marked. Corrections keep the earlier version. Two unexplained absences in a row raise a
    follow-up task for the group's facilitators.
    """
    return _take_attendance(session, marks, by, source, precondition).marked


@transaction.atomic
def attendance_record_roster(
    *,
    session: Session,
    marks: list[Mark],
    by,
    source: str = AttendanceRecord.Source.WEB,
    precondition: Precondition = None,
) -> tuple[Session, list[RosterLine]]:
    """Record the marks as `attendance_record` does, and answer with the session as it now
    stands and its roster lines, built from the rows the write read and wrote: reading them
    again would cost a query per table for nothing."""
    taken = _take_attendance(session, marks, by, source, precondition)
    return taken.session, roster_lines(taken.session, roster=taken.roster, records=taken.records)


def _take_attendance(
    session: Session, marks: list[Mark], by, source: str, precondition: Precondition = None
) -> _Taken:
    """The rules of `attendance_record`, writing in bulk: a constant handful of queries
    whatever the number of people."""
    require_role(by, session.institution_id, CLINICAL_ROLES, _("record attendance"))
    # Lock the session row only: FOR UPDATE on the join would also lock the institution's row
    # and so serialise every roster marked in the institution (and every registration).
    session = (
        Session.objects.select_for_update(of=("self",))
        .select_related("group", "institution")
        .get(pk=session.pk)
    )
    if precondition is not None:
        # Every mark of a session is written under this lock: the roster (or one record) the
        # caller read is checked where no other write can race it.
        precondition(session)
    now = timezone.now()
    _check_session_open_for_attendance(session, now)
    if source not in AttendanceRecord.Source.values:
        raise ValidationError({"source": _("Unknown source.")})
    roster_in_order = session_roster(session)
    roster = {e.participant_id: e for e in roster_in_order}
    errors: dict[str, str] = {}
    seen: set[int] = set()
    for mark in marks:
        key = str(mark.participant_id)
        if mark.participant_id in seen:
            errors[key] = _("This person is marked twice.")
            continue
        seen.add(mark.participant_id)
        if mark.participant_id not in roster:
            errors[key] = _("This person is not on the roster of this session.")
            continue
        problem = _mark_errors(mark, session)
        if problem:
            errors[key] = problem
    if errors:
        raise ValidationError(errors)
    if session.status == Session.Status.SCHEDULED:
        session.status = Session.Status.HELD
        session.save(update_fields=["status", "updated_at"])
        # The first marks came: a task "attendance not taken" (raised only for a session still
        # scheduled at its end) is done; the quorum job looks at the session again.
        if session.ends_at <= now:
            AttendanceNotTaken.objects.filter(
                session=session, status=AttendanceNotTaken.Status.OPEN
            ).update(status=AttendanceNotTaken.Status.DONE, resolved_at=now, updated_at=now)
    # order_by("pk"): the default ordering joins participant and institution, and FOR UPDATE
    # would lock their rows too.
    records = session.attendance_records.order_by("pk").select_for_update()
    existing = {r.participant_id: r for r in records}
    new: list[AttendanceRecord] = []
    revisions: list[AttendanceRevision] = []
    corrected: list[AttendanceRecord] = []
    changes: list[tuple[AttendanceRecord, str, dict]] = []  # for the audit log, in marks' order
    marked: list[AttendanceRecord] = []
    for mark in marks:
        record = existing.get(mark.participant_id)
        if record is None:
            enrollment = roster[mark.participant_id]
            record = AttendanceRecord(
                institution_id=session.institution_id,
                session=session,
                participant=enrollment.participant,
                enrollment=enrollment,
                status=mark.status,
                arrived_at=mark.arrived_at,
                left_at=mark.left_at,
                recorded_by=by,
                recorded_at=now,
                source=source,
            )
            new.append(record)
            changes.append((record, "attendance.recorded", {"status": mark.status}))
        elif (record.status, record.arrived_at, record.left_at) != (
            mark.status,
            mark.arrived_at,
            mark.left_at,
        ):
            revisions.append(
                AttendanceRevision(
                    record=record,
                    version=record.version,
                    status=record.status,
                    arrived_at=record.arrived_at,
                    left_at=record.left_at,
                    recorded_by_id=record.recorded_by_id,
                    recorded_at=record.recorded_at,
                    source=record.source,
                )
            )
            changes.append(
                (record, "attendance.corrected", {"from": record.status, "to": mark.status})
            )
            record.status = mark.status
            record.arrived_at = mark.arrived_at
            record.left_at = mark.left_at
            record.recorded_by = by
            record.recorded_at = now
            record.source = source
            record.version += 1
            corrected.append(record)
        marked.append(record)
    # Both backends hand back the new primary keys, which the audit events below name.
    AttendanceRecord.objects.bulk_create(new)
    AttendanceRevision.objects.bulk_create(revisions)
    written_at = timezone.now()
    for record in corrected:
        record.updated_at = written_at  # what save() would do: the mobile app syncs by it
    _update_in_one_statement(corrected)
    raised = _raise_follow_ups(
        session, [r for r in marked if r.status == AttendanceRecord.Status.UNEXCUSED]
    )
    # One insert for the whole roster's events; the institution is given, not read per mark.
    events = [
        audit_event(
            actor=by, action=action, obj=record, institution=session.institution, details=details
        )
        for record, action, details in changes
    ]
    events += [
        audit_event(
            actor=None, action="follow_up.raised", obj=task, institution=session.institution
        )
        for task in raised
    ]
    audit_record_many(events)
    return _Taken(
        session=session,
        roster=roster_in_order,
        records=[*existing.values(), *new],
        marked=marked,
    )
