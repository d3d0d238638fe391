"""An e-mail backend for the broker tests: it says that a send began, then takes its time, so
the test can kill the worker in the middle of a task."""

import os
import time
from pathlib import Path

from django.core.mail.backends.filebased import EmailBackend


class SlowFileBackend(EmailBackend):
    def send_messages(self, email_messages):
        Path(os.environ["KRAG_TEST_SEND_STARTED"]).touch()
        time.sleep(float(os.environ.get("KRAG_TEST_SEND_DELAY", "60")))
        return super().send_messages(email_messages)
