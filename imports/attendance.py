"""Importing one group's past attendance: each row is one person's mark at the group's session
on that date. The marks of a session are written together by attendance.services
.attendance_record with source "import" (the roster, the session's state and every mark's
rules are checked there); a mark that is already so is left alone."""

from collections import defaultdict

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from attendance.models import AttendanceRecord, Enrollment
from attendance.services import Mark, attendance_record
from clinics.models import Participant
from sessions.models import Session

from .columns import AttendanceRow
from .engine import RowImport
from .models import ImportJob


class AttendanceImport(RowImport):
    def __init__(self, job: ImportJob, **context):
        super().__init__(job, **context)
        self.group = job.group
        people = Participant.objects.filter(institution=job.institution)
        self.by_code = {
            code: (pk, erased is not None)
            for pk, code, erased in people.values_list("pk", "code", "erased_at")
        }
        self.sessions: dict = defaultdict(list)
        for session in Session.objects.filter(group=self.group).order_by("starts_at"):
            self.sessions[session.local_date()].append(session)
        # Memberships as EnrollmentQuerySet.members_on reads them, for every day at once.
        self.memberships: dict = defaultdict(list)
        members = Enrollment.objects.filter(group=self.group, joined_on__isnull=False).exclude(
            status__in=[Enrollment.Status.REFERRED, Enrollment.Status.WAITLISTED]
        )
        for pid, joined, left in members.values_list("participant_id", "joined_on", "left_on"):
            self.memberships[pid].append((joined, left))
        self.marks = {
            (s, p): (status, arrived, left)
            for s, p, status, arrived, left in AttendanceRecord.objects.filter(
                session__group=self.group
            ).values_list("session_id", "participant_id", "status", "arrived_at", "left_at")
        }
        # session id -> [(row number, mark)] of the marks that change something.
        self.pending: dict = defaultdict(list)
        self.seen: set = set()

    def _member_on(self, pid: int, day) -> bool:
        return any(
            joined <= day and (left is None or left > day)
            for joined, left in self.memberships.get(pid, ())
        )

    def check(self, number: int, data: dict) -> dict | None:
        form = AttendanceRow(data)
        if not form.is_valid():
            self.problems.add_form_errors(number, form)
            return None
        row = form.cleaned_data
        code, day = row["code"].upper(), row["date"]
        found = self.by_code.get(code)
        if found is None:
            return self._problem(
                number,
                "code",
                "unknown_code",
                _("No participant has the code %(code)s.") % {"code": code},
            )
        pid, erased = found
        if erased:
            return self._problem(
                number, "code", "erased", _("This participant's data has been erased.")
            )
        sessions = [s for s in self.sessions.get(day, ()) if s.status != Session.Status.CANCELLED]
        if not sessions:
            return self._problem(
                number,
                "date",
                "no_session",
                _("The group has no session on %(date)s.") % {"date": day.isoformat()},
            )
        if len(sessions) > 1:
            return self._problem(
                number,
                "date",
                "several_sessions",
                _("The group has several sessions on %(date)s; record this mark in Krąg.")
                % {"date": day.isoformat()},
            )
        session = sessions[0]
        if session.status == Session.Status.NOT_HELD:
            return self._problem(
                number, "date", "not_held", _("The session was not held; it has no attendance.")
            )
        if not session.has_begun(self.now):
            return self._problem(number, "date", "not_begun", _("That session has not begun yet."))
        if (session.pk, pid) in self.seen:
            return self._problem(
                number, "code", "duplicate", _("This person is marked twice for that date.")
            )
        self.seen.add((session.pk, pid))
        if not self._member_on(pid, day):
            return self._problem(
                number,
                "code",
                "not_member",
                _("This person was not a member of the group on that date."),
            )
        mark = Mark(pid, row["status"], row.get("arrived_at"), row.get("left_at"))
        before = self.marks.get((session.pk, pid))
        if before == (mark.status, mark.arrived_at, mark.left_at):
            self.summary.count("unchanged")
        else:
            self.summary.count("created" if before is None else "updated")
            self.pending[session.pk].append((number, mark))
        return row

    def _problem(self, number, column, code, message):
        self.problems.add(number, column, code, message)
        return None

    def write(self, number: int, row: dict) -> None:
        """Marks are written per session once every row is checked (finish)."""

    def finish(self) -> None:
        sessions = {s.pk: s for day in self.sessions.values() for s in day}
        for session_id, marks in self.pending.items():
            rows = {str(mark.participant_id): number for number, mark in marks}
            try:  # attendance_record is atomic: a refused session leaves nothing
                attendance_record(
                    session=sessions[session_id],
                    marks=[mark for _number, mark in marks],
                    by=self.by,
                    source=AttendanceRecord.Source.IMPORT,
                )
            except (ValidationError, PermissionDenied) as exc:
                self._service_problems(exc, rows)
            self.progress.tick(written=len(marks))

    def _service_problems(self, exc, rows: dict) -> None:
        """attendance_record names a refused mark by its participant's id; anything else is
        about the session, so about every row of that date."""
        if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
            for key, errors in exc.error_dict.items():
                number = rows.get(key)
                for error in errors:
                    for message in error.messages:
                        if number is None:
                            for each in rows.values():
                                self.problems.add(each, "date", error.code or "rejected", message)
                        else:
                            self.problems.add(number, "status", error.code or "rejected", message)
            return
        for number in rows.values():
            self.problems.add_service_error(number, exc, {"__all__": "date"})
