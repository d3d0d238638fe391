"""Settings of the Celery worker that the broker tests start in a subprocess: the test
settings, reading the database and broker from the environment, with e-mail written to files
the test can count."""

import os

from tests import clock
from tests.settings import *  # noqa: F403

clock.move_from_environment()  # the moment the test that starts the worker hands it

EMAIL_BACKEND = os.environ.get(
    "KRAG_TEST_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
# Look for messages of a killed worker every second (the default scans about every 100 s), so
# the redelivery test with a short visibility timeout stays short.
CELERY_BROKER_TRANSPORT_OPTIONS = {  # noqa: F405
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
