"""The outbox: claim once, retry transient errors with backoff, give up and say why; the
health check; the read-only admin; every periodic job run twice sends nothing twice."""

import datetime
import smtplib

import pytest
from django.core import mail
from django.db import OperationalError
from django.utils import timezone

from attendance.models import Consent, Enrollment
from attendance.services import Mark, attendance_record
from config.celery import app as celery_app
from notifications import services, tasks, views
from notifications.models import OutboxMessage
from tests.factories import (
    ConsentFactory,
    EnrollmentFactory,
    GroupFactory,
    ParticipantFactory,
    SessionFactory,
)

from .conftest import make_member

Status = OutboxMessage.Status


@pytest.fixture
def pending_reminder(tomorrow_session, django_capture_on_commit_callbacks):
    make_member(tomorrow_session.group, name="kasia")
    with django_capture_on_commit_callbacks(execute=False):
        tasks.send_session_reminders.delay()
    return OutboxMessage.objects.get()


class FlakyBackend:
    """An e-mail backend that fails with `error` for the first `failures` sends."""

    failures = 0
    error: Exception = smtplib.SMTPServerDisconnected("connection lost")
    calls = 0

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            raise type(self).error
        mail.outbox.extend(messages)
        return len(messages)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.calls = 0
    FlakyBackend.error = smtplib.SMTPServerDisconnected("connection lost")
    return FlakyBackend


def test_a_transient_failure_is_retried_and_the_message_sent_once(pending_reminder, flaky):
    flaky.failures = 2

    assert tasks.send_message.delay(pending_reminder.pk).get() == Status.SENT

    pending_reminder.refresh_from_db()
    assert (pending_reminder.status, pending_reminder.attempts) == (Status.SENT, 3)
    assert len(mail.outbox) == 1


def test_a_message_failing_every_time_is_marked_failed_with_the_error(pending_reminder, flaky):
    flaky.failures = 100

    assert tasks.send_message.delay(pending_reminder.pk).get() == Status.FAILED

    pending_reminder.refresh_from_db()
    assert pending_reminder.status == Status.FAILED
    assert pending_reminder.attempts == tasks.MAX_RETRIES + 1
    assert pending_reminder.last_error == "SMTPServerDisconnected: connection lost"
    assert mail.outbox == []


def test_a_refused_address_fails_at_once_without_retries(pending_reminder, flaky):
    flaky.failures = 100
    flaky.error = smtplib.SMTPRecipientsRefused({"kasia@example.org": (550, b"no such user")})

    assert tasks.send_message.delay(pending_reminder.pk).get() == Status.FAILED

    pending_reminder.refresh_from_db()
    assert pending_reminder.attempts == 1
    assert pending_reminder.last_error.startswith("SMTPRecipientsRefused")


def test_the_backoff_grows_exponentially_and_stays_below_the_visibility_timeout(settings):
    delays = [tasks.backoff(n) for n in range(tasks.MAX_RETRIES)]
    assert delays == [60, 120, 240, 480, 600]
    assert max(delays) < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


def test_a_message_already_sent_is_not_sent_again(pending_reminder):
    assert tasks.send_message.delay(pending_reminder.pk).get() == Status.SENT
    assert tasks.send_message.delay(pending_reminder.pk).get() == Status.SENT
    assert len(mail.outbox) == 1
    pending_reminder.refresh_from_db()
    assert pending_reminder.attempts == 1


def test_writing_the_same_key_twice_keeps_one_row(pending_reminder):
    again = services.outbox_enqueue(
        key=pending_reminder.key,
        kind=pending_reminder.kind,
        institution=pending_reminder.institution,
        channel="email",
        body="again",
    )
    assert again is None
    assert OutboxMessage.objects.count() == 1


def test_a_pending_message_whose_task_was_lost_is_dispatched_again(
    pending_reminder, django_capture_on_commit_callbacks
):
    later = timezone.now() + services.STALE_AFTER + datetime.timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.outbox_dispatch_stale() == []  # too fresh: its task may be on its way
        assert services.outbox_dispatch_stale(now=later) == [pending_reminder.pk]
    assert len(mail.outbox) == 1


def test_a_stale_message_that_used_up_its_attempts_is_given_up(pending_reminder):
    OutboxMessage.objects.filter(pk=pending_reminder.pk).update(attempts=services.MAX_ATTEMPTS)
    later = timezone.now() + services.STALE_AFTER + datetime.timedelta(minutes=1)

    assert services.outbox_dispatch_stale(now=later) == []
    pending_reminder.refresh_from_db()
    assert pending_reminder.status == Status.FAILED


# --- Every periodic job, twice ---------------------------------------------------------------


def test_running_every_periodic_job_twice_sends_nothing_twice(
    tomorrow_session, group_a, anna, marek, ewa, run, settings
):
    settings.DAY_PLAN_HOUR = 0  # whatever the hour the test runs at
    institution = group_a.institution
    make_member(group_a, name="kasia")
    # A day plan, a follow-up, an expiring consent, a free seat with a waiting list, a
    # participant past retention, a consent past its expiry.
    SessionFactory(group=group_a, starts_at=institution.local_now().replace(hour=23, minute=0))
    absent = make_member(group_a, name="absent")
    for days in (14, 7):
        session = SessionFactory(group=group_a, starts_at=timezone.now() - datetime.timedelta(days))
        attendance_record(session=session, marks=[Mark(absent.pk, "unexcused")], by=marek)
    ConsentFactory(
        participant=absent,
        purpose=Consent.Purpose.RESEARCH,
        expires_at=timezone.now() + datetime.timedelta(days=3),
    )
    small = GroupFactory(institution=institution, capacity=2, min_size=1)
    waiting = make_member(small, name="waiting")
    Enrollment.objects.filter(participant=waiting).update(
        status="waitlisted", joined_on=None, waitlisted_at=timezone.now()
    )
    old = ParticipantFactory(institution=institution)
    Consent.objects.create(
        institution=institution,
        participant=old,
        purpose=Consent.Purpose.HEALTH_DATA,
        method="verbal",
        text_version="v1",
        granted_at=timezone.now() - datetime.timedelta(days=30),
        expires_at=timezone.now() - datetime.timedelta(days=1),
        recorded_by=ewa,
    )
    EnrollmentFactory(group=small, participant=old, status="completed")

    periodic = {
        name: entry["task"]
        for name, entry in celery_app.conf.beat_schedule.items()
        if entry["task"].startswith("notifications.")
    }
    first = {name: run(celery_app.tasks[task]) for name, task in periodic.items()}
    sent_first = len(mail.outbox)
    second = {name: run(celery_app.tasks[task]) for name, task in periodic.items()}

    assert sent_first >= 5  # reminder, day plan, follow-up, consent flags, seat offer
    assert first["session-reminders"] >= 1 and first["facilitator-day-plans"] == 1
    assert first["follow-up-notices"] == 1 and first["waiting-list-offers"] >= 1
    assert first["expiring-consents"] >= 1 and first["expire-consents"] == 1
    assert {name: count for name, count in second.items() if count} == {}
    assert len(mail.outbox) == sent_first
    assert OutboxMessage.objects.exclude(status=Status.SENT).count() == 0


def test_the_monthly_summaries_are_scheduled_by_name_on_the_first_of_the_month():
    entry = celery_app.conf.beat_schedule["monthly-summaries"]
    assert entry["task"] == "reports.tasks.send_monthly_summaries"
    assert entry["schedule"].day_of_month == {1}
    assert entry["schedule"].hour == {5}


# --- Health ----------------------------------------------------------------------------------


def test_health_is_200_with_the_database_up_and_no_broker_needed(client, db):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "eager", "status": "ok"}


def test_health_is_503_naming_the_database_when_it_is_down(client, db, monkeypatch):
    def down():
        raise OperationalError("could not connect to server")

    monkeypatch.setitem(views.CHECKS, "database", down)

    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json() == {
        "database": "unavailable",
        "broker": "eager",
        "status": "unavailable",
        "failed": ["database"],
    }
    assert "could not connect" not in response.content.decode()


def test_health_is_503_naming_the_broker_when_it_cannot_be_reached(client, db, settings):
    # A broker is configured (not eager) but nothing listens on its port.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_always_eager
    conf.broker_url, conf.task_always_eager = settings.CELERY_BROKER_URL, False
    try:
        response = client.get("/health/")
    finally:
        conf.broker_url, conf.task_always_eager = saved

    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert response.json()["database"] == "ok"


def test_health_answers_get_only(client, db):
    assert client.post("/health/").status_code == 405


# --- The admin -------------------------------------------------------------------------------


def test_the_admin_outbox_is_read_only_and_shows_only_the_users_institutions(
    client, pending_reminder, ewa, karim
):
    from django.contrib.auth.models import Permission

    other = GroupFactory(institution=karim.memberships.get().institution)
    foreign = services.outbox_enqueue(
        key="test:foreign",
        kind="reminder",
        institution=other.institution,
        channel="email",
        body="x",
    )
    for user in (ewa, karim):
        user.is_staff = True
        user.save()
        user.user_permissions.add(Permission.objects.get(codename="view_outboxmessage"))
    client.force_login(ewa)

    listing = client.get("/admin/notifications/outboxmessage/")
    assert listing.status_code == 200
    own = f"/admin/notifications/outboxmessage/{pending_reminder.pk}/change/"
    url = f"/admin/notifications/outboxmessage/{foreign.pk}/change/"
    assert own in listing.content.decode()
    assert url not in listing.content.decode()
    assert pending_reminder.key in client.get(own).content.decode()
    assert client.get(url).status_code == 302  # "does not exist", like a missing row
    assert client.get("/admin/notifications/outboxmessage/add/").status_code == 403
    assert client.post(own, {"status": "sent"}).status_code == 403
    assert OutboxMessage.objects.get(pk=pending_reminder.pk).status == Status.PENDING


# --- Two workers, one message ----------------------------------------------------------------


class SlowLocmemBackend(FlakyBackend):
    """Takes its time to send, so a second sender arrives while the first is still at it."""

    def send_messages(self, messages):
        import time

        time.sleep(0.5)
        mail.outbox.extend(messages)
        return len(messages)


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_message_at_once_send_it_once(settings, group_a):
    import threading

    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("needs row locks and one connection per thread (PostgreSQL)")
    settings.EMAIL_BACKEND = f"{__name__}.SlowLocmemBackend"
    session = SessionFactory(
        group=group_a, starts_at=timezone.now() + datetime.timedelta(hours=20), online_link=""
    )
    member = make_member(group_a, name="kasia")
    message_id = services.outbox_enqueue(  # written, not dispatched
        key="test:race",
        kind=OutboxMessage.Kind.REMINDER,
        institution=group_a.institution,
        channel="email",
        body="See you tomorrow.",
        participant=member,
        session=session,
    ).pk
    assert mail.outbox == []
    outcomes = []

    def worker():
        try:
            outcomes.append(services.outbox_send(message_id=message_id))
        except services.OutboxBusy:
            outcomes.append("busy")  # the other's committed claim: it looks again later
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) in ([Status.SENT, Status.SENT], ["busy", Status.SENT])
    assert [m.to for m in mail.outbox] == [["kasia@example.org"]]
    message = OutboxMessage.objects.get(pk=message_id)
    assert (message.session, message.attempts) == (session, 1)
