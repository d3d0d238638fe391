"""What importing does: take a file in and check it (`import_upload`), apply a clean one
(`import_apply`, then `import_run` here or in a Celery worker), and say how far it got.

All or nothing: `import_run` writes every row through the domain services inside one
transaction that also moves the job to DONE and writes the one audit event naming the file's
checksum. A worker killed half-way leaves nothing (the transaction dies with it) and the job
RUNNING; the broker redelivers the task (late acknowledgement) and the next worker, finding
the job's row unlocked, does it all again. A second copy of the task finds the row locked and
leaves it to the first.
"""

import contextlib
import hashlib
import logging
import tempfile

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
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


@transaction.atomic
def import_upload(*, kind: str, file, by, group=None, institution=None) -> ImportJob:
    """Take a spreadsheet in and check it: a job PREVIEW when every row is clean, INVALID with
    every problem by row and column otherwise. Nothing of the file is written to the domain.

    Files up to IMPORT_BACKGROUND_ROWS rows are also run through the services in a transaction
    that is rolled back, so the preview says what applying will say; larger ones are checked
    in bulk here and through the services when applied.
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
        sha256=_sha256(file),
        size=file.size,
        created_by=by,
    )
    job.full_clean(exclude=["file", "status", "created_by"])
    job.save()
    progress = Progress(job.pk)
    small_mode = Mode.CHECK
    try:
        summary, problems = _run(job, file, Mode.CHECK, by, progress)
        if not problems and summary.rows <= settings.IMPORT_BACKGROUND_ROWS:
            small_mode = Mode.DRY_RUN
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
    job.rows = summary.rows
    job.problems, job.problem_count = problems.items, problems.count
    if small_mode is Mode.DRY_RUN:
        job.created, job.updated, job.unchanged = (
            summary.created,
            summary.updated,
            summary.unchanged,
        )
    fields = ["rows", "problems", "problem_count", "created", "updated", "unchanged", "status"]
    if not problems:
        job.status = Status.PREVIEW
        # Kept encrypted until applied: it holds names and contacts.
        file.seek(0)
        job.file.save(f"{job.pk}.bin", ContentFile(field_cipher().encrypt(file.read())), save=False)
        fields.append("file")
    job.save(update_fields=fields)
    audit_record(
        actor=by,
        action="import.uploaded",
        obj=job,
        institution=institution,
        details={
            "sha256": job.sha256,
            "kind": kind,
            "rows": job.rows,
            "problems": job.problem_count,
        },
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
        job = (
            ImportJob.objects.select_for_update(skip_locked=True)
            .filter(pk=job_id, status=Status.RUNNING)
            .first()
        )
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
    """A RUNNING import that cannot finish (time limit, a bug): FAILED with the reason, nothing
    of it written (its transaction was rolled back)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id, status=Status.RUNNING).first()
        if job is None:
            return
        job.status = Status.FAILED
        job.error = reason[:1000]
        job.finished_at = timezone.now()
        _forget_file(job)
        job.save(update_fields=["status", "error", "finished_at", "file", "updated_at"])
        audit_record(actor=None, action="import.failed", obj=job, details={"error": job.error})


def import_progress(job: ImportJob) -> dict:
    """Rows checked and written so far, of how many (for the progress bar)."""
    if job.status == Status.DONE:
        return {"checked": job.rows, "written": job.rows, "total": job.rows}
    progress = Progress.read(job.pk) if job.status == Status.RUNNING else {}
    return {
        "checked": progress.get("checked", 0),
        "written": progress.get("written", 0),
        "total": job.rows,
    }
