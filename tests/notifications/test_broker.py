"""A real Celery worker against a real Redis: a cancellation notice goes through, and a worker
killed in the middle of sending leaves the message to a restarted worker, sent exactly once.

The worker is a subprocess, so it must see the test's database: these tests commit their data
(`transaction=True`) and run on PostgreSQL, where the worker reaches `test_<dbname>`.
pytest-django's in-memory SQLite is invisible to another process, so they skip there (CI runs
them on PostgreSQL with CELERY_TEST_BROKER_URL set). Every wait is bounded and the worker is
always killed in a `finally`.
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
from django.utils import timezone

from config.celery import app as celery_app
from notifications.models import OutboxMessage
from sessions.services import session_cancel
from tests import clock

from .conftest import make_member

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

BROKER_URL = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
WAIT = 60  # seconds: the longest any step may take before the test fails


@pytest.fixture
def broker():
    """The Redis database for these tests, emptied before and after."""
    if connection.vendor == "sqlite":
        pytest.skip(
            "needs a database a worker subprocess can reach: pytest-django's in-memory SQLite "
            "is private to this process (run with DATABASE_URL=postgres://…)"
        )
    import redis

    client = redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis broker reachable at {BROKER_URL}: {exc}")
    client.flushdb()
    yield BROKER_URL
    client.flushdb()
    client.close()


@pytest.fixture
def publishing(broker):
    """Make this process publish tasks to the broker instead of running them eagerly."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_always_eager
    conf.broker_url, conf.task_always_eager = broker, False
    forget_connection_pools()
    try:
        yield broker
    finally:
        conf.broker_url, conf.task_always_eager = saved
        forget_connection_pools()


def forget_connection_pools():
    # The app keeps the pool of the broker it first connected to (as after a fork, see
    # Celery._after_fork): drop it so publishing uses the broker configured now.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def worker(tmp_path: Path, name: str, **env):
    """A `celery -A config worker` subprocess on the test database and broker."""
    log = tmp_path / f"{name}.log"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.notifications.worker_settings",
        "CELERY_BROKER_URL": BROKER_URL,
        "DATABASE_URL": _database_url(),
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        **clock.for_subprocess(),
        **env,
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=solo",  # the task runs in this very process, so SIGKILL stops it mid-way
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{name}@%h",
    ]
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


def wait_for(condition, what: str, *logs: Path):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    pytest.fail(f"gave up waiting for {what} after {WAIT} s\n{broker_state()}\n{tails}")


def broker_state() -> str:
    import redis

    client = redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2)
    return f"broker keys: {sorted(client.keys('*'))}, queued: {client.llen('celery')}"


def sent_emails(tmp_path: Path) -> list[str]:
    """The recipients of every e-mail the workers wrote to files."""
    folder = tmp_path / "mail"
    if not folder.exists():
        return []
    return sorted(
        line.removeprefix("To: ").strip()
        for path in folder.iterdir()
        for line in path.read_text().splitlines()
        if line.startswith("To: ")
    )


def tomorrow_session_with_members(group, *names):
    from datetime import timedelta

    from tests.factories import SessionFactory

    session = SessionFactory(
        group=group, starts_at=timezone.now() + timedelta(hours=20), online_link=""
    )
    members = [make_member(group, name=name) for name in names]
    return session, members


def test_a_real_worker_e_mails_each_consenting_member_once_when_a_session_is_cancelled(
    publishing, tmp_path, group_a, anna
):
    session, _ = tomorrow_session_with_members(group_a, "kasia", "tomek")
    make_member(group_a, name="silent", consent=False)

    with worker(tmp_path, "notices"):
        session_cancel(session=session, by=anna, reason="Facilitator ill")
        messages = OutboxMessage.objects.filter(session=session)
        assert messages.count() == 2
        wait_for(
            lambda: messages.filter(status="sent").count() == 2,
            "both notices sent",
            tmp_path / "notices.log",
        )

    assert sent_emails(tmp_path) == ["kasia@example.org", "tomek@example.org"]
    assert set(messages.values_list("attempts", flat=True)) == {1}


def test_a_message_whose_worker_is_killed_mid_send_is_redelivered_and_sent_exactly_once(
    publishing, tmp_path, group_a, anna
):
    session, _ = tomorrow_session_with_members(group_a, "kasia")
    started = tmp_path / "send-started"
    short_visibility = {"CELERY_VISIBILITY_TIMEOUT": "5"}

    with worker(
        tmp_path,
        "doomed",
        KRAG_TEST_EMAIL_BACKEND="tests.notifications.slow_mail.SlowFileBackend",
        KRAG_TEST_SEND_STARTED=str(started),
        KRAG_TEST_SEND_DELAY="120",
        **short_visibility,
    ) as doomed:
        session_cancel(session=session, by=anna, reason="Facilitator ill")
        wait_for(started.exists, "the first worker to begin sending", tmp_path / "doomed.log")
        kill(doomed)  # SIGKILL in the middle of the send: nothing acknowledged, nothing sent

    message = OutboxMessage.objects.get(session=session)
    assert message.status == "pending"
    assert sent_emails(tmp_path) == []

    with worker(tmp_path, "rescuer", **short_visibility):
        wait_for(
            lambda: OutboxMessage.objects.filter(pk=message.pk, status="sent").exists(),
            "the redelivered message to be sent",
            tmp_path / "rescuer.log",
        )

    assert sent_emails(tmp_path) == ["kasia@example.org"]
    message.refresh_from_db()
    # The killed worker's claim rolled back with its transaction: one attempt counted.
    assert message.attempts == 1
