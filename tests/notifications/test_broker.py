"""A real Celery worker against a real Redis: a cancellation notice goes through, and a worker
killed in the middle of sending leaves the message to a restarted worker, sent exactly once.

The worker is a subprocess, so it must see the test's database: these tests commit their data
(`transaction=True`) and run on PostgreSQL, where the worker reaches `test_<dbname>`.
pytest-django's in-memory SQLite is invisible to another process, so they skip there (CI runs
them on PostgreSQL with CELERY_TEST_BROKER_URL set). Every wait is bounded and the worker is
always killed in a `finally`.
"""

import os
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from notifications.models import OutboxMessage
from sessions.services import session_cancel
from tests.workers import celery_worker, kill, publishing_to
from tests.workers import wait_for as _wait_for

from .conftest import make_member

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

BROKER_URL = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")


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
    with publishing_to(broker):
        yield broker


def worker(tmp_path: Path, name: str, **env):
    """A `celery -A config worker` subprocess on the test database and broker."""
    return celery_worker(
        tmp_path,
        name,
        broker_url=BROKER_URL,
        app="config",
        settings_module="tests.notifications.worker_settings",
        **env,
    )


def wait_for(condition, what: str, *logs: Path):
    _wait_for(condition, what, *logs, state=broker_state)


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


def message_ids(tmp_path: Path) -> list[str]:
    """The Message-ID header of every e-mail the workers wrote to files."""
    folder = tmp_path / "mail"
    return sorted(
        line.removeprefix("Message-ID: ").strip()
        for path in (folder.iterdir() if folder.exists() else [])
        for line in path.read_text().splitlines()
        if line.startswith("Message-ID: ")
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


def test_a_message_whose_worker_is_killed_mid_send_is_resent_once_as_of_unknown_fate(
    publishing, tmp_path, group_a, anna
):
    session, _ = tomorrow_session_with_members(group_a, "kasia")
    started = tmp_path / "send-started"
    # Redelivered after 5 s; a claim 3 s old counts as its sender's death (OUTBOX_SENDING_TIMEOUT).
    short_visibility = {"CELERY_VISIBILITY_TIMEOUT": "5", "OUTBOX_SENDING_TIMEOUT": "3"}

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
    # The claim was committed before the mail server was called, and is still standing.
    assert message.status == "pending"
    assert message.sending_since is not None
    assert sent_emails(tmp_path) == []

    with worker(tmp_path, "rescuer", **short_visibility):
        wait_for(
            lambda: OutboxMessage.objects.filter(pk=message.pk, status="sent").exists(),
            "the redelivered message to be sent",
            tmp_path / "rescuer.log",
        )

    assert sent_emails(tmp_path) == ["kasia@example.org"]
    message.refresh_from_db()
    # Nobody could know whether the first try went out: counted, and resent under its Message-ID.
    assert (message.attempts, message.uncertain_attempts) == (2, 1)
    assert message_ids(tmp_path) == [message.reference]
