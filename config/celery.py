"""The Celery app. Configuration lives in settings.py under the CELERY_ namespace (late
acknowledgement, redelivery of tasks lost with their worker, prefetch of one, JSON only, global
time limits); the beat schedule of the periodic jobs lives here.

Beat names tasks by string, so it imports none of them: `celery -A config beat` is cheap and
a task module added later (reports) needs no change here. Run exactly one beat.
"""

import os

from celery import Celery, signals
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("krag")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def _require_secrets(**kwargs):
    # Not at import: every manage.py command imports this app (config/__init__.py).
    from config.secrets import require_secrets

    require_secrets()


QUARTER_HOUR = 15 * 60
# A frequent job that waited in the queue longer than its period is dropped, not run late:
# the next run does the same work.

app.conf.beat_schedule = {
    # Members: 24 hours ahead, checked every quarter of an hour.
    "session-reminders": {
        "task": "notifications.tasks.send_session_reminders",
        "schedule": QUARTER_HOUR,
        "options": {"expires": QUARTER_HOUR},
    },
    # Facilitators: today's sessions, from 06:00 in each institution's own time zone.
    "facilitator-day-plans": {
        "task": "notifications.tasks.send_day_plans",
        "schedule": crontab(minute=10),
        "options": {"expires": 60 * 60},
    },
    # Sessions that ended: quorum (not held by itself), "attendance not taken" tasks; paused
    # groups resume on their day. Before the offers, so a resumed group offers in the same run.
    "settle-sessions": {
        "task": "sessions.tasks.settle_sessions",
        "schedule": QUARTER_HOUR,
        "options": {"expires": QUARTER_HOUR},
    },
    "waiting-list-offers": {
        "task": "notifications.tasks.offer_free_seats",
        "schedule": QUARTER_HOUR,
        "options": {"expires": QUARTER_HOUR},
    },
    "follow-up-notices": {
        "task": "notifications.tasks.notify_follow_ups",
        "schedule": QUARTER_HOUR,
        "options": {"expires": QUARTER_HOUR},
    },
    "expire-consents": {
        "task": "notifications.tasks.expire_consents",
        "schedule": crontab(minute=5),
    },
    "expiring-consents": {
        "task": "notifications.tasks.flag_expiring_consents",
        "schedule": crontab(hour=7, minute=0),
    },
    "retention": {
        "task": "notifications.tasks.erase_inactive_participants",
        "schedule": crontab(hour=3, minute=30),
    },
    "outbox-stale-messages": {
        "task": "notifications.tasks.dispatch_stale_messages",
        "schedule": 10 * 60,
        "options": {"expires": 10 * 60},
    },
    # Report runs whose task was lost (broker down at the request) or whose worker died.
    "report-runs-sweep": {
        "task": "reports.tasks.sweep_report_runs",
        "schedule": 5 * 60,
        "options": {"expires": 5 * 60},
    },
    "monthly-summaries": {
        "task": "reports.tasks.send_monthly_summaries",
        "schedule": crontab(day_of_month=1, hour=5, minute=0),
    },
    # API: idempotency keys are kept 48 hours (at least the promised 24), expired tokens go, and
    # the sync's tombstones and scope changes once no accepted token can ask for them.
    "api-housekeeping": {
        "task": "api.tasks.purge_api_state",
        "schedule": crontab(minute=40),
    },
}
