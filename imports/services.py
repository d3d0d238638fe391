"""What importing does: take a file in and check it (`import_upload`, then `import_check` in a
Celery worker for a large file), apply a clean one (`import_apply`, then `import_run` here or
in a Celery worker), and say how far it got.

All or nothing: `import_run` writes every row through the domain services inside one
transaction that also moves the job to DONE and writes the one audit event naming the file's
checksum. A worker killed half-way leaves nothing (the transaction dies with it) and the job
RUNNING; the broker redelivers the task (late acknowledgement) and the next worker, finding
the job's row unlocked, does it all again. A second copy of the task finds the row locked and
leaves it to the first. A large file's check works the same way: a job CHECKING whose worker
died is checked again by the redelivered task.
"""

import contextlib
import hashlib
import logging
import tempfile

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.fields import field_cipher
from clinics.models import Institution
from clinics.querysets import memberships_of
from clinics.roles import Role

from .attendance import AttendanceImport
from .engine import Mode, Problems, Progress, Summary, data_rows, map_header
from .models import ImportJob
from .participants import ParticipantImport
from .policies import require_import
from .reading import FileProblem, detect_encoding, detect_format, open_table

logger = logging.getLogger(__name__)
Status = ImportJob.Status


def _file_error(code: str, message: str) -> ValidationError:
    return ValidationError({"file": ValidationError(message, code=code)})


def _institution_for(by, institution, group) -> Institution:
    if group is not None:
        return group.institution
    if institution is not None:
        return institution
    admin_of = [pk for pk, role in memberships_of(by).items() if role == Role.ADMIN]
    if len(admin_of) != 1:
        raise ValidationError({"institution": _("Say which institution the list is for.")})
    return Institution.objects.get(pk=admin_of[0])


def _sha256(handle) -> str:
    digest = hashlib.sha256()
    handle.seek(0)
    while chunk := handle.read(1 << 16):
        digest.update(chunk)
    handle.seek(0)
    return digest.hexdigest()


def _run(job: ImportJob, handle, mode: Mode, by, progress: Progress) -> tuple[Summary, Problems]:
    """Read the file once, row by row, checking (and in DRY_RUN / WRITE, writing) each."""
    progress.save()  # from 0: not what an earlier pass over the file (the check) counted
    problems = Problems()
    table = open_table(handle, job.format, job.encoding)
    columns = map_header(job.kind, table.header, problems)
    # Without a required column every row would repeat the same problem: row 1 says it once.
    header_broken = any(p["code"] == "missing_column" for p in problems.items)
    engine_class = (
        ParticipantImport if job.kind == ImportJob.Kind.PARTICIPANTS else AttendanceImport
    )
    engine = engine_class(
        job, by=by, columns=columns, problems=problems, mode=mode, progress=progress
    )
    rows = 0
    for number, data in data_rows(table, columns, problems):
        rows += 1
        progress.tick(checked=1)
        if data is None or header_broken:
            continue
        row = engine.check(number, data)
        if row is not None and mode is not Mode.CHECK:
            engine.write(number, row)  # in batches: the engine ticks the rows it wrote
    if mode is not Mode.CHECK and not header_broken:
        engine.finish()
    # A batch's refusals are found after the rows checked since: the list goes by row.
    problems.items.sort(key=lambda problem: problem["row"])
    progress.save()
    engine.summary.rows = rows
    return engine.summary, problems


class _RollBack(Exception):
    """Leaves the savepoint of a dry run, or of a refused import, with nothing written."""


def _run_and_roll_back_if(job, handle, mode, by, progress, *, always: bool):
    outcome = None
    try:
        with transaction.atomic():
            outcome = _run(job, handle, mode, by, progress)
            if always or outcome[1]:
                raise _RollBack
    except _RollBack:
        pass
    return outcome


def _rows_up_to(handle, fmt: str, encoding: str, limit: int) -> int | None:
    """The file's rows below its header when there are at most `limit`, else None. Reads no
    further than row `limit` + 1 (a large file is checked in the background)."""
    table = open_table(handle, fmt, encoding)
    rows = 0
    try:
        for _row in table.rows:
            rows += 1
            if rows > limit:
                return None
    finally:
        table.rows.close()
        handle.seek(0)
    return rows


def _estimated_rows(handle, fmt: str) -> int:
    """About how many rows a large file has, for its progress bar while it is checked: the
    lines of a CSV, the sheet's stated size of an XLSX (0 when it states none)."""
    handle.seek(0)
    rows = 0
    if fmt == "xlsx":
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(handle, read_only=True, data_only=False)
            rows = (workbook.worksheets[0].max_row or 1) - 1
            workbook.close()
        except Exception:  # noqa: BLE001 - an estimate only; the check says what is wrong
            rows = 0
    else:
        last = b""
        while chunk := handle.read(1 << 16):
            rows += chunk.count(b"\n")
            last = chunk[-1:]
        rows += last not in (b"", b"\n")  # a last line without its newline
        rows -= 1  # the header
    handle.seek(0)
    return max(rows, 0)


def _store_file(job: ImportJob, handle) -> None:
    """Keep the upload encrypted until it has served: it holds names and contacts."""
    handle.seek(0)
    job.file.save(f"{job.pk}.bin", ContentFile(field_cipher().encrypt(handle.read())), save=False)


def _checked(job: ImportJob, summary: Summary, problems: Problems, *, counted: bool) -> list[str]:
    """Set what checking found on the job (PREVIEW or INVALID); the fields to save."""
    job.rows = summary.rows
    job.problems, job.problem_count = problems.items, problems.count
    if counted:
        job.created, job.updated, job.unchanged = (
            summary.created,
            summary.updated,
            summary.unchanged,
        )
    job.status = Status.INVALID if problems else Status.PREVIEW
    return ["rows", "problems", "problem_count", "created", "updated", "unchanged", "status"]


@transaction.atomic
def import_upload(*, kind: str, file, by, group=None, institution=None) -> ImportJob:
    """Take a spreadsheet in and check it: a job PREVIEW when every row is clean, INVALID with
    every problem by row and column otherwise. Nothing of the file is written to the domain.

    Files up to IMPORT_BACKGROUND_ROWS rows are checked here and also run through the services
    in a transaction that is rolled back, so the preview says what applying will say. Larger
    ones are stored (encrypted) and the job returned CHECKING at once: a Celery worker checks
    them in bulk (`import_check`), and the services see them when applied.
    """
    if kind not in ImportJob.Kind.values:
        raise ValidationError({"kind": _("Say what the file holds: participants or attendance.")})
    if kind == ImportJob.Kind.ATTENDANCE and group is None:
        raise ValidationError({"group": _("Choose the group whose attendance the file holds.")})
    if kind == ImportJob.Kind.PARTICIPANTS:
        group = None
    institution = _institution_for(by, institution, group)
    require_import(by, institution)
    if file is None:
        raise _file_error("required", _("Choose a file."))
    if file.size > settings.IMPORT_MAX_BYTES:
        raise _file_error(
            "too_large",
            _("The file is larger than %(limit)s MB: split it into smaller files.")
            % {"limit": settings.IMPORT_MAX_BYTES // (1024 * 1024)},
        )
    if not file.size:
        raise _file_error("empty", _("The file is empty."))
    try:
        file.seek(0)
        fmt = detect_format(file.read(8), file.name or "")
        encoding = detect_encoding(file) if fmt == "csv" else ""
        small = _rows_up_to(file, fmt, encoding, settings.IMPORT_BACKGROUND_ROWS)
    except FileProblem as exc:
        raise _file_error(exc.code, exc.message) from exc
    job = ImportJob(
        institution=institution,
        kind=kind,
        group=group,
        status=Status.INVALID,
        filename=(file.name or "")[-255:],
        format=fmt,
        encoding=encoding,
        language=translation.get_language() or "",
        sha256=_sha256(file),
        size=file.size,
        created_by=by,
    )
    job.full_clean(exclude=["file", "status", "created_by"])
    job.save()
    if small is None:
        job.status, job.rows = Status.CHECKING, _estimated_rows(file, fmt)
        _store_file(job, file)
        job.save(update_fields=["status", "rows", "file"])
        Progress(job.pk).save()
        from .tasks import check_import

        transaction.on_commit(lambda: check_import.delay(job.pk))
        _audit_uploaded(job, by, background=True)
        return job
    progress = Progress(job.pk)
    counted = False
    try:
        summary, problems = _run(job, file, Mode.CHECK, by, progress)
        if not problems:
            counted = True
            file.seek(0)
            summary, problems = _run_and_roll_back_if(
                job, file, Mode.DRY_RUN, by, progress, always=True
            )
    except FileProblem as exc:
        transaction.set_rollback(True)
        raise _file_error(exc.code, exc.message) from exc
    if not summary.rows and not problems:
        transaction.set_rollback(True)
        raise _file_error("empty", _("The file has no rows below its header."))
    fields = _checked(job, summary, problems, counted=counted)
    if not problems:
        _store_file(job, file)
        fields.append("file")
    job.save(update_fields=fields)
    _audit_uploaded(job, by)
    return job


def _audit_uploaded(job: ImportJob, by, *, background: bool = False) -> None:
    details = {"sha256": job.sha256, "kind": job.kind}
    if background:
        details["checking"] = True  # `import.checked` says what the check found
    else:
        details.update(rows=job.rows, problems=job.problem_count)
    audit_record(
        actor=by, action="import.uploaded", obj=job, institution=job.institution, details=details
    )


def _claim(job_id: int, status: str) -> ImportJob | None:
    """The job, locked for this worker, if it is in `status` and no other worker holds it."""
    return (
        ImportJob.objects.select_for_update(skip_locked=True)
        .filter(pk=job_id, status=status)
        .first()
    )


def import_check(*, job_id: int) -> ImportJob | None:
    """Check a large upload (CHECKING) in bulk, in the uploader's language: PREVIEW, or INVALID
    with its problems (the file is then deleted). What the check reads it reads as a stream,
    the rows one at a time, progress in the cache ("checked").

    None when there is nothing to do: the job is checked already, or another worker holds its
    row. A worker killed half-way leaves the job CHECKING and its row unlocked: the redelivered
    task checks the file again from the start.
    """
    with transaction.atomic():
        job = _claim(job_id, Status.CHECKING)
        if job is None:
            return None
        with translation.override(job.language or None):
            problems, summary = Problems(), Summary()
            if job.file:
                try:
                    with _decrypted(job) as handle:
                        summary, problems = _run(
                            job, handle, Mode.CHECK, job.created_by, Progress(job.pk)
                        )
                except FileProblem as exc:
                    problems.add(1, "", exc.code, exc.message)
                if not summary.rows and not problems:
                    problems.add(1, "", "empty", _("The file has no rows below its header."))
            else:  # never so for a job made by import_upload; said, not a crash
                problems.add(1, "", "file_gone", _("The uploaded file is no longer stored."))
        fields = _checked(job, summary, problems, counted=False)
        if problems:
            _forget_file(job)
            fields.append("file")
        job.save(update_fields=[*fields, "updated_at"])
        audit_record(
            actor=job.created_by,
            action="import.checked",
            obj=job,
            institution=job.institution,
            details={"sha256": job.sha256, "rows": job.rows, "problems": job.problem_count},
        )
    return job


def import_apply(*, job: ImportJob, by, precondition=None) -> ImportJob:
    """Import a clean preview: at once when it is small, in a Celery worker when it has more
    than IMPORT_BACKGROUND_ROWS rows (the job is RUNNING until the worker is done). Asked again
    while RUNNING, it queues the work again: a worker already on it keeps the job's row
    locked, so the copy does nothing, and one that died is replaced."""
    require_import(by, job.institution_id)
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update(skip_locked=True).filter(pk=job.pk).first()
        if locked is None:
            return ImportJob.objects.get(pk=job.pk)  # a worker is writing it right now
        if precondition:
            precondition(locked)
        if locked.status not in (Status.PREVIEW, Status.RUNNING):
            raise ValidationError(
                _("This import is “%(status)s”; only a clean preview can be imported.")
                % {"status": locked.get_status_display()}
            )
        if locked.status == Status.PREVIEW:
            locked.status = Status.RUNNING
            locked.applied_by = by
            locked.started_at = timezone.now()
            locked.save(update_fields=["status", "applied_by", "started_at", "updated_at"])
        background = locked.rows > settings.IMPORT_BACKGROUND_ROWS
        if background:
            from .tasks import apply_import

            transaction.on_commit(lambda: apply_import.delay(locked.pk))
    if not background:
        import_run(job_id=locked.pk)
    return ImportJob.objects.get(pk=locked.pk)


@contextlib.contextmanager
def _decrypted(job: ImportJob):
    with job.file.open("rb") as stored:
        plain = field_cipher().decrypt(stored.read())
    with tempfile.TemporaryFile() as handle:
        handle.write(plain)
        del plain
        handle.seek(0)
        yield handle


def _forget_file(job: ImportJob) -> None:
    """The upload has served: delete it once the transaction commits (the checksum stays)."""
    if job.file:
        storage, name = job.file.storage, job.file.name
        transaction.on_commit(lambda: storage.delete(name))
        job.file = ""


def import_run(*, job_id: int) -> ImportJob | None:
    """Write a RUNNING import, all or nothing, in one transaction with its audit event.

    None when there is nothing to do: the job is done already, or another worker holds it.
    """
    with transaction.atomic():
        job = _claim(job_id, Status.RUNNING)
        if job is None:
            return None
        if not job.file:  # never so for a preview made by import_upload; said, not a crash
            job.status, job.error = Status.FAILED, _("The uploaded file is no longer stored.")
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "error", "finished_at", "updated_at"])
            return job
        progress = Progress(job.pk)
        with _decrypted(job) as handle:
            summary, problems = _run_and_roll_back_if(
                job, handle, Mode.WRITE, job.applied_by, progress, always=False
            )
        job.rows = summary.rows
        job.created, job.updated, job.unchanged = (
            summary.created,
            summary.updated,
            summary.unchanged,
        )
        job.problems, job.problem_count = problems.items, problems.count
        job.finished_at = timezone.now()
        if problems:
            # Something changed since the preview (a consent withdrawn, a session cancelled):
            # nothing was written; the problems say what to correct.
            job.status = Status.INVALID
            job.created = job.updated = job.unchanged = 0
        else:
            job.status = Status.DONE
        _forget_file(job)
        job.save()
        if job.status == Status.DONE:
            audit_record(
                actor=job.applied_by,
                action="import.applied",
                obj=job,
                institution=job.institution,
                details={
                    "sha256": job.sha256,
                    "kind": job.kind,
                    "group": job.group_id,
                    "rows": job.rows,
                    "created": job.created,
                    "updated": job.updated,
                    "unchanged": job.unchanged,
                },
            )
    return job


def import_fail(*, job_id: int, reason: str) -> None:
    """A RUNNING import, or a CHECKING upload, that cannot finish (time limit, a bug): FAILED
    with the reason, nothing of it written (its transaction was rolled back)."""
    with transaction.atomic():
        job = (
            ImportJob.objects.select_for_update()
            .filter(pk=job_id, status__in=[Status.RUNNING, Status.CHECKING])
            .first()
        )
        if job is None:
            return
        job.status = Status.FAILED
        job.error = reason[:1000]
        job.finished_at = timezone.now()
        _forget_file(job)
        job.save(update_fields=["status", "error", "finished_at", "file", "updated_at"])
        audit_record(actor=None, action="import.failed", obj=job, details={"error": job.error})


def import_progress(job: ImportJob) -> dict:
    """Rows checked and written so far, of how many (for the progress bar; while a large file
    is checked, the total is an estimate)."""
    if job.status == Status.DONE:
        return {"checked": job.rows, "written": job.rows, "total": job.rows}
    busy = job.status in (Status.RUNNING, Status.CHECKING)
    progress = Progress.read(job.pk) if busy else {}
    return {
        "checked": progress.get("checked", 0),
        "written": progress.get("written", 0),
        "total": job.rows,
    }
