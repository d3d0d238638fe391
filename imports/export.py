"""Exports: a group's attendance register and the institution's participant list, as CSV or
XLSX. People are shown by code and alias; a legal name only where the reports' privacy rule
allows it (reports.privacy: the reader's role and the participant's health-data consent).
Every export is written to the audit log with its checksum, as a report download is.

A cell that begins with = + - @ (or a tab or carriage return) is prefixed with an apostrophe:
a spreadsheet would otherwise run it as a formula (CSV injection).
"""

import csv
import datetime
import hashlib
import io
from dataclasses import dataclass

from django.utils import timezone

from attendance.models import AttendanceRecord, Consent
from audit.services import audit_record
from clinics.models import Participant
from clinics.roles import Role, role_of
from reports import privacy
from reports.builders import attendance_matrix
from sessions.models import Session

from .policies import require_export

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    content: bytes
    sha256: str


def neutralise(value):
    """A cell as it may be written: text that a spreadsheet would read as a formula gets a
    leading apostrophe; numbers and dates stay what they are."""
    if isinstance(value, str) and value.startswith(DANGEROUS_STARTS):
        return "'" + value
    return value


def _write(header: list[str], rows, file_format: str, title: str) -> bytes:
    if file_format == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)  # rows go out as they come
        sheet = workbook.create_sheet(title[:31])
        sheet.append([neutralise(h) for h in header])
        for row in rows:
            sheet.append([neutralise(v) for v in row])
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    # With a BOM: Excel then reads the Polish letters right.
    return text.getvalue().encode("utf-8-sig")


def _finish(*, content: bytes, filename: str, file_format: str, by, action: str, obj, details):
    sha256 = hashlib.sha256(content).hexdigest()
    audit_record(
        actor=by,
        action=action,
        obj=obj,
        details={**details, "format": file_format, "sha256": sha256},
    )
    return Export(f"{filename}.{file_format}", FORMATS[file_format], content, sha256)


def _check_format(file_format: str) -> None:
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    if file_format not in FORMATS:
        raise ValidationError({"file_format": _("Choose csv or xlsx.")})


def export_participants(*, institution, by, file_format: str) -> Export:
    """The institution's participants: code, alias, name where allowed, reminder channel and
    the consents in force — the columns an import reads, so the list can be edited and
    imported again."""
    require_export(by, institution)
    _check_format(file_format)
    people = Participant.objects.filter(institution=institution).not_erased().order_by("number")
    in_force: dict[int, list[str]] = {}
    for pid, purpose in (
        Consent.objects.active()
        .filter(institution=institution)
        .order_by("participant_id", "purpose")
        .values_list("participant_id", "purpose")
    ):
        in_force.setdefault(pid, []).append(purpose)
    # The institution's list belongs to no group: only its admins may see names there (the
    # role half of reports.privacy.may_see_names), and only with the health-data consent.
    names_allowed = role_of(by, institution) == Role.ADMIN
    named = 0

    def rows():
        nonlocal named
        for p in people.iterator(chunk_size=2000):
            purposes = in_force.get(p.pk, [])
            name = p.legal_name if names_allowed and Consent.Purpose.HEALTH_DATA in purposes else ""
            named += bool(name)
            yield [p.code, p.alias, name, p.reminder_channel, " ".join(purposes)]

    header = ["code", "alias", "legal_name", "reminder_channel", "consents"]
    content = _write(header, rows(), file_format, "participants")
    return _finish(
        content=content,
        filename=f"participants-{timezone.localdate():%Y-%m-%d}",
        file_format=file_format,
        by=by,
        action="export.participants",
        obj=institution,
        details={"named": named},
    )


def export_register(
    *, group, start: datetime.date, end: datetime.date, by, file_format: str
) -> Export:
    """A group's register for a period: one row per participant, one column per session with
    the mark (the API's status values; "cancelled" / "not_held" for a session that did not
    take place), and the attended / expected totals, as in the PDF register."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    require_export(by, group.institution_id)
    _check_format(file_format)
    if end < start:
        raise ValidationError({"end": _("The end must not be before the start.")})
    matrix = attendance_matrix(group, start, end)
    naming = privacy.naming_for(user=by, group=group, participant_ids=matrix.participants.keys())
    dates = [timezone.localtime(s.starts_at, matrix.tz).date() for s in matrix.sessions]
    header = ["code", "alias", "legal_name"]
    header += [
        f"{day.isoformat()} #{s.sequence}" for s, day in zip(matrix.sessions, dates, strict=True)
    ]
    header += ["attended", "expected"]
    attended_statuses = set(AttendanceRecord.ATTENDED)

    def rows():
        pids = sorted(matrix.participants, key=lambda pid: matrix.participants[pid].number)
        for pid in pids:
            person = matrix.participants[pid]
            name = person.legal_name if pid in naming.named_ids else ""
            cells, attended, expected = [], 0, 0
            for session, day in zip(matrix.sessions, dates, strict=True):
                if session.status in (Session.Status.CANCELLED, Session.Status.NOT_HELD):
                    cells.append(session.status)
                    continue
                status = matrix.marks.get((session.pk, pid))
                if status is not None:
                    expected += 1
                    attended += status in attended_statuses
                elif matrix.is_member(pid, day) and session.status == Session.Status.HELD:
                    expected += 1
                cells.append(status or "")
            yield [person.code, person.alias, name, *cells, attended, expected]

    content = _write(header, rows(), file_format, "register")
    return _finish(
        content=content,
        filename=f"register-{group.pk}-{start:%Y%m%d}-{end:%Y%m%d}",
        file_format=file_format,
        by=by,
        action="export.register",
        obj=group,
        details={
            "start": start.isoformat(),
            "end": end.isoformat(),
            "named": len(naming.named_ids),
        },
    )
