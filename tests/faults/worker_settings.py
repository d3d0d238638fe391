"""Settings of the fault suite's Celery workers: the broker tests' settings (test settings,
database and broker from the environment, e-mail to files)."""

from tests.notifications.worker_settings import *  # noqa: F403
