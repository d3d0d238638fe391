"""Settings of the Celery worker the import broker tests start: the notifications tests'
worker settings, plus a module that can make an import stop half-way (slow_import)."""

from tests.notifications.worker_settings import *  # noqa: F403

CELERY_IMPORTS = ["tests.imports.slow_import"]
