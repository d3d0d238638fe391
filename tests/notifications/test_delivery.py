"""Honest delivery (issue 15): the claim is committed before the provider is called and the
outcome right after; every message keeps one Message-ID or SMS reference; a message whose
sender died mid-send is sent again once, and recorded; a notice about a past session is not
sent; a batch is published once, and never fails the request that wrote it."""

import datetime
import logging
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from notifications import services, tasks
from notifications.models import OutboxMessage
from notifications.services import outbox
from notifications.sms import LocmemSMSBackend, SMSTemporaryError
from sessions.services import session_cancel
from tests.factories import SessionFactory

from .conftest import make_member

Status = OutboxMessage.Status


def written(member, session, *, channel="email", kind=OutboxMessage.Kind.REMINDER):
    """A pending message to `member` about `session`, written and not dispatched."""
    return services.outbox_enqueue(
        key=f"test:{kind}:{member.pk}",
        kind=kind,
        institution=member.institution,
        channel=channel,
        subject="Tomorrow",
        body="See you tomorrow.",
        participant=member,
        session=session,
    )


@pytest.fixture
def session(group_a):
    return SessionFactory(
        group=group_a, starts_at=timezone.now() + datetime.timedelta(hours=20), online_link=""
    )


@pytest.fixture
def sms(settings):
    settings.SMS_BACKEND = "notifications.sms.LocmemSMSBackend"
    LocmemSMSBackend.outbox.clear()
    LocmemSMSBackend.references.clear()
    return LocmemSMSBackend


def test_every_e_mail_carries_the_message_id_its_row_keeps(session, group_a):
    message = written(make_member(group_a, name="kasia"), session)

    assert services.outbox_send(message_id=message.pk) == Status.SENT

    message.refresh_from_db()
    assert message.reference.startswith(f"<krag-outbox-{message.pk}@")
    assert mail.outbox[0].message()["Message-ID"] == message.reference
    assert (message.sending_since, message.attempts, message.uncertain_attempts) == (None, 1, 0)


def test_a_message_whose_sender_died_mid_send_is_sent_again_once_under_the_same_id(
    session, group_a, settings
):
    message = written(make_member(group_a, name="kasia"), session)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        claimed = outbox._claim(message.pk)  # the claim a killed worker left behind
    assert claimed.sending_since == start

    with time_machine.travel(start + datetime.timedelta(seconds=5), tick=False):
        with pytest.raises(services.OutboxBusy):  # it may still be talking to the server
            services.outbox_send(message_id=message.pk)
    assert mail.outbox == []

    later = start + datetime.timedelta(seconds=settings.OUTBOX_SENDING_TIMEOUT + 1)
    with time_machine.travel(later, tick=False):
        assert services.outbox_send(message_id=message.pk) == Status.SENT

    message.refresh_from_db()
    assert (message.attempts, message.uncertain_attempts) == (2, 1)
    assert mail.outbox[0].message()["Message-ID"] == claimed.reference == message.reference
    assert AuditEvent.objects.filter(action="notification.fate_unknown").count() == 1


def test_a_message_of_unknown_fate_twice_is_not_sent_a_third_time(session, group_a, settings):
    message = written(make_member(group_a, name="kasia"), session)
    start = timezone.now()
    timeout = datetime.timedelta(seconds=settings.OUTBOX_SENDING_TIMEOUT + 1)
    for died_at in (start, start + timeout):  # two senders died mid-send, one after the other
        with time_machine.travel(died_at, tick=False):
            assert not isinstance(outbox._claim(message.pk), str)

    with time_machine.travel(start + 2 * timeout, tick=False):
        assert services.outbox_send(message_id=message.pk) == Status.UNKNOWN

    message.refresh_from_db()
    assert (message.status, message.uncertain_attempts, message.sending_since) == (
        Status.UNKNOWN,
        2,
        None,
    )
    assert mail.outbox == []
    assert services.outbox_dispatch_stale(now=start + 10 * timeout) == []


def test_a_temporary_sms_error_is_retried_not_failed(session, group_a, sms, monkeypatch):
    # SMSTemporaryError is an SMSError: it used to meet the permanent errors first.
    member = make_member(group_a, name="kasia", channel="sms")
    message = written(member, session, channel="sms")
    calls = []

    def flaky_send(self, *, to, text, reference=""):
        calls.append(reference)
        if len(calls) == 1:
            raise SMSTemporaryError("provider busy")
        sms.outbox.append((to, text))

    monkeypatch.setattr(LocmemSMSBackend, "send", flaky_send)

    assert tasks.send_message.delay(message.pk).get() == Status.SENT

    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 2)
    assert calls == [f"krag-outbox-{message.pk}"] * 2  # the same provider reference each time


def test_the_logging_sms_backend_writes_neither_the_number_nor_the_text(caplog):
    from notifications.sms import LoggingSMSBackend

    with caplog.at_level(logging.INFO, logger="notifications.sms"):
        LoggingSMSBackend().send(to="+48 600 100 200", text="Group moved to Friday", reference="r1")

    assert "600 100" not in caplog.text and "600100" not in caplog.text
    assert "Friday" not in caplog.text
    assert "********200" in caplog.text and "r1" in caplog.text


def test_a_cancellation_notice_about_a_session_already_past_is_not_sent(session, group_a, anna):
    make_member(group_a, name="kasia")
    with time_machine.travel(session.starts_at - datetime.timedelta(hours=1), tick=False):
        session_cancel(session=session, by=anna, reason="Facilitator ill")  # not dispatched yet
    message = OutboxMessage.objects.get(session=session)

    # The jobs first ran after the session's hour (a worker down all evening).
    with time_machine.travel(session.starts_at + datetime.timedelta(minutes=5), tick=False):
        assert services.outbox_send(message_id=message.pk) == Status.SKIPPED

    message.refresh_from_db()
    assert message.last_error == "the session is already past"
    assert mail.outbox == []


def test_a_batch_of_notices_is_published_once_without_publish_retries(
    session, group_a, anna, monkeypatch, django_capture_on_commit_callbacks
):
    for name in ("kasia", "tomek", "ola"):
        make_member(group_a, name=name)
    published = []
    monkeypatch.setattr(
        tasks.send_messages,
        "apply_async",
        lambda args, **options: published.append((args, options)),
    )

    with django_capture_on_commit_callbacks(execute=True):
        session_cancel(session=session, by=anna, reason="Facilitator ill")

    ids = sorted(OutboxMessage.objects.filter(session=session).values_list("pk", flat=True))
    assert len(ids) == 3
    assert [(sorted(args[0]), options) for args, options in published] == [(ids, {"retry": False})]


def test_a_broker_that_refuses_the_batch_fails_neither_the_request_nor_the_rows(
    session, group_a, anna, monkeypatch, django_capture_on_commit_callbacks
):
    make_member(group_a, name="kasia")

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(tasks.send_messages, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        session_cancel(session=session, by=anna, reason="Facilitator ill")

    message = OutboxMessage.objects.get(session=session)
    assert message.status == Status.PENDING  # the sweep hands it over when the broker is back
    later = timezone.now() + services.STALE_AFTER + datetime.timedelta(minutes=1)
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.outbox_dispatch_stale(now=later) == [message.pk]
    message.refresh_from_db()
    assert message.status == Status.SENT


@pytest.mark.django_db(transaction=True)
def test_the_claim_is_committed_before_the_mail_server_is_called(settings, group_a):
    if connection.vendor == "sqlite":
        pytest.skip("needs a second connection that sees only what is committed (PostgreSQL)")
    session = SessionFactory(
        group=group_a, starts_at=timezone.now() + datetime.timedelta(hours=20), online_link=""
    )
    message = written(make_member(group_a, name="kasia"), session)
    seen = {}

    def look_from_elsewhere():
        try:
            row = OutboxMessage.objects.get(pk=message.pk)
            seen.update(status=row.status, sending_since=row.sending_since, ref=row.reference)
        finally:
            connection.close()

    class WatchedBackend(mail.backends.locmem.EmailBackend):
        def send_messages(self, messages):
            other = threading.Thread(target=look_from_elsewhere)
            other.start()
            other.join(timeout=10)
            return super().send_messages(messages)

    settings.EMAIL_BACKEND = f"{__name__}.WatchedBackend"
    globals()["WatchedBackend"] = WatchedBackend
    assert services.outbox_send(message_id=message.pk) == Status.SENT

    assert seen["status"] == Status.PENDING
    assert seen["sending_since"] is not None  # another process would know it is being sent
    assert seen["ref"] == OutboxMessage.objects.get(pk=message.pk).reference
