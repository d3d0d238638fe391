"""Celery tasks of the reports app. They take ids and call services; no rules live here."""

from celery import shared_task

from .services import (
    TRANSIENT_ERRORS,
    monthly_summaries_send,
    report_busy_for,
    report_fail,
    report_render,
    reports_sweep,
)


@shared_task(bind=True, max_retries=3, name="reports.tasks.render_report")
def render_report(self, run_id: int) -> str | None:
    """Render one report run. Claimed once with a conditional UPDATE, so a redelivered or
    duplicated message does nothing; only transient errors are retried, with backoff."""
    try:
        run = report_render(run_id=run_id)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= self.max_retries:
            report_fail(run_id=run_id, reason=f"{type(exc).__name__}: {exc}"[:1000])
            return None
        if self.request.is_eager:
            # Without a broker the retry runs at once, in process (Celery's own eager retry
            # would raise out of the request that queued the task).
            return self.apply(args=[run_id], retries=self.request.retries + 1).result
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 2)) from exc
    if run is None and not self.request.is_eager:
        # Claimed by someone else: a live worker, or one killed mid-render whose message came
        # back at once. Look again when that claim lapses, rather than let the run wait forever.
        wait = report_busy_for(run_id)
        if wait is not None:
            render_report.apply_async((run_id,), countdown=int(wait) + 1)
    return run.status if run else None


@shared_task(name="reports.tasks.sweep_report_runs")
def sweep_report_runs() -> int:
    """Dispatch again the runs whose task was lost, reclaim those whose worker died."""
    return len(reports_sweep())


@shared_task(name="reports.tasks.send_monthly_summaries")
def send_monthly_summaries(month: str | None = None) -> int:
    """Each institution with the monthly summary turned on: last month's (or `month`'s, given
    as "YYYY-MM") activity summary, e-mailed to its admins at most once."""
    return len(monthly_summaries_send(month=month))
