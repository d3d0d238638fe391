"""Settings of the Celery worker that the broker tests start in a subprocess: the test
settings, reading the database and broker from the environment, with e-mail written to files
the test can count."""

import os

from tests.settings import *  # noqa: F403

EMAIL_BACKEND = os.environ.get(
    "KRAG_TEST_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
