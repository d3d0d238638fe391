"""What the fault suite's workers do slowly, so a test can kill them at the worst moment.

`AcceptThenStallBackend` is a mail server that has taken the message (it is written to a file)
and then does not answer: the worker dies after the provider accepted, before it could record
"sent" — the one case where a resend is a duplicate. `worker_app` is the Celery app of these
workers: the real one, with the first report render made to stall the same way.
"""

import os
import time
from pathlib import Path

from celery import signals
from django.core.mail.backends.filebased import EmailBackend

from config.celery import app as worker_app  # noqa: F401 - `celery -A tests.faults.stalling`


def _stall_once(marker: str) -> None:
    """Say which process stalls (its pid in the marker file), then hang; only the first time."""
    path = Path(os.environ[marker])
    if path.exists():
        return
    path.write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("KRAG_TEST_STALL_SECONDS", "300")))


class AcceptThenStallBackend(EmailBackend):
    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        folder = Path(self.file_path)
        if len(list(folder.iterdir())) >= int(os.environ.get("KRAG_TEST_STALL_AT", "5")):
            _stall_once("KRAG_TEST_SEND_STALLED")
        return sent


@signals.task_prerun.connect
def _stall_the_first_render(**kwargs):
    from reports import services

    render_pdf = services.render_pdf
    if not os.environ.get("KRAG_TEST_RENDER_STALLED") or hasattr(render_pdf, "stalls"):
        return

    def stalling_render_pdf(*args, **kw):
        _stall_once("KRAG_TEST_RENDER_STALLED")
        return render_pdf(*args, **kw)

    stalling_render_pdf.stalls = True
    services.render_pdf = stalling_render_pdf
