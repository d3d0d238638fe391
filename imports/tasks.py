"""Celery tasks of the imports app. They take ids and call services; no rules live here."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext as _

from .services import import_check, import_fail, import_run

TRANSIENT_ERRORS = (OperationalError, InterfaceError)


def _run_step(task, step, job_id: int, too_long: str) -> str | None:
    """Run `step(job_id=…)` (import_run, import_check) as a task: over its time limit the job
    fails with `too_long`; a lost database connection is retried, then fails the job."""
    try:
        job = step(job_id=job_id)
    except SoftTimeLimitExceeded:
        import_fail(job_id=job_id, reason=too_long)
        return None
    except TRANSIENT_ERRORS as exc:
        if task.request.retries >= task.max_retries or task.request.is_eager:
            import_fail(job_id=job_id, reason=f"{type(exc).__name__}: {exc}")
            if task.request.is_eager:
                raise
            return None
        raise task.retry(exc=exc, countdown=2 ** (task.request.retries + 2)) from exc
    return job.status if job else None


@shared_task(
    bind=True,
    max_retries=3,
    name="imports.tasks.apply_import",
    # A 50,000-row file takes minutes, not the global limit's seconds.
    soft_time_limit=settings.IMPORT_TASK_TIME_LIMIT,
    time_limit=settings.IMPORT_TASK_TIME_LIMIT + 60,
)
def apply_import(self, job_id: int) -> str | None:
    """Write one import. Safe to run twice: the job's row lock and status make a second copy
    (a redelivered message, a retry asked by the user) do nothing while the first runs or
    after it finished; a copy after a worker died does the whole import again."""
    return _run_step(self, import_run, job_id, _("The import took longer than its time limit."))


@shared_task(
    bind=True,
    max_retries=3,
    name="imports.tasks.check_import",
    soft_time_limit=settings.IMPORT_TASK_TIME_LIMIT,
    time_limit=settings.IMPORT_TASK_TIME_LIMIT + 60,
)
def check_import(self, job_id: int) -> str | None:
    """Check one large upload. Safe to run twice, like apply_import: a copy finds the job's row
    locked, or the job checked already, and does nothing; a copy after a worker died checks
    the file again."""
    return _run_step(
        self, import_check, job_id, _("Checking the file took longer than its time limit.")
    )
