"""Real Celery workers for the tests that need one (tests/notifications/test_broker.py,
tests/imports/test_broker.py, the fault suite in tests/faults/): a `celery worker` subprocess on
the test database, this process publishing to the same broker, bounded waits, and kills.

A worker is another process, so it must reach the test's database: the tests that start one
commit their data (`transaction=True`) and run on PostgreSQL.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from tests import clock

WAIT = 60  # seconds: the longest any step may take before the test fails


def database_url() -> str:
    """The test database (`test_<name>`), as a worker subprocess reaches it."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def forget_connection_pools():
    # The app keeps the pool of the broker it first connected to (as after a fork, see
    # Celery._after_fork): drop it so that publishing uses the broker configured now, and
    # reconnects after a restart.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextlib.contextmanager
def publishing_to(broker_url: str):
    """This process publishes its tasks to `broker_url` instead of running them eagerly."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_always_eager
    conf.broker_url, conf.task_always_eager = broker_url, False
    forget_connection_pools()
    try:
        yield broker_url
    finally:
        conf.broker_url, conf.task_always_eager = saved
        forget_connection_pools()


@contextlib.contextmanager
def celery_worker(
    tmp_path: Path,
    name: str,
    *,
    broker_url: str,
    app: str,
    settings_module: str,
    pool: str = "solo",
    concurrency: int = 1,
    **env,
):
    """A `celery -A <app> worker` subprocess, its output in `<tmp_path>/<name>.log`, its
    e-mails in `<tmp_path>/mail`, on this test's clock; killed (SIGKILL) when the block ends.
    The solo pool runs a task in the worker's own process, so a kill stops it mid-way."""
    log = tmp_path / f"{name}.log"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "CELERY_BROKER_URL": broker_url,
        "DATABASE_URL": database_url(),
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        **clock.for_subprocess(),
        **env,
    }
    command = [sys.executable, "-m", "celery", "-A", app, "worker"]
    command += [f"--pool={pool}", f"--concurrency={concurrency}", "--loglevel=INFO"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}@%h"]
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        kill(process)


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=WAIT)


def wait_for(condition, what: str, *logs: Path, timeout: float = WAIT, state=None):
    """Poll `condition` until it holds; else fail with the tail of each log (and `state()`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-4000:]}" for log in logs if log.exists())
    extra = f"\n{state()}" if state else ""
    pytest.fail(f"gave up waiting for {what} after {timeout} s{extra}\n{tails}")
