"""Celery tasks of groups and sessions (listed in the beat schedule in config/celery.py). They
call services and hold no rules; each is idempotent."""

from celery import shared_task

from .services import groups_resume_due, sessions_settle_quorum


@shared_task(name="sessions.tasks.settle_sessions")
def settle_sessions() -> dict:
    """Sessions that ended: not held when the quorum was missed, a task when no one marked
    attendance; paused groups whose day has come resume."""
    counts = sessions_settle_quorum()
    counts["resumed"] = len(groups_resume_due())
    return counts
