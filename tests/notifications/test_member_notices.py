"""Reminders and cancellation/move notices to members, in eager mode."""

import datetime

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from attendance.models import Consent
from attendance.services import consent_withdraw
from clinics.models import Participant
from notifications import tasks
from notifications.models import OutboxMessage
from notifications.sms import LocmemSMSBackend
from sessions.services import session_cancel, session_reschedule
from tests.factories import SessionFactory

from .conftest import make_member

Status = OutboxMessage.Status


def test_a_consenting_member_is_reminded_once_of_tomorrows_session(tomorrow_session, run):
    member = make_member(tomorrow_session.group, name="kasia")

    assert run(tasks.send_session_reminders) == 1
    assert run(tasks.send_session_reminders) == 0

    assert [m.to for m in mail.outbox] == [["kasia@example.org"]]
    message = OutboxMessage.objects.get()
    assert (message.participant, message.kind, message.status) == (member, "reminder", "sent")
    assert message.sent_at is not None and message.attempts == 1


def test_a_reminder_names_date_time_place_and_institution_but_not_the_group(tomorrow_session, run):
    make_member(tomorrow_session.group, name="kasia")
    run(tasks.send_session_reminders)

    email = mail.outbox[0]
    local = tomorrow_session.local_starts_at()
    assert local.strftime("%H:%M") in email.body
    assert "Room 1" in email.body
    assert tomorrow_session.institution.name in email.body
    group = tomorrow_session.group
    for secret in (group.name, group.category, group.get_category_display(), "depress"):
        assert secret.lower() not in (email.subject + email.body).lower()


def test_nobody_without_a_contact_consent_or_a_channel_is_reminded(tomorrow_session, run):
    group = tomorrow_session.group
    make_member(group, name="noconsent", consent=False)
    make_member(group, name="nochannel", channel=Participant.Channel.NONE)

    assert run(tasks.send_session_reminders) == 0
    assert mail.outbox == []
    assert not OutboxMessage.objects.exists()


def test_a_member_who_chose_sms_gets_the_reminder_by_sms(tomorrow_session, run, settings):
    settings.SMS_BACKEND = "notifications.sms.LocmemSMSBackend"
    LocmemSMSBackend.outbox.clear()
    make_member(tomorrow_session.group, name="sms", channel=Participant.Channel.SMS)

    run(tasks.send_session_reminders)

    assert [to for to, _text in LocmemSMSBackend.outbox] == ["+48600100200"]
    assert mail.outbox == []


def test_sessions_further_than_a_day_ahead_or_cancelled_get_no_reminder(
    tomorrow_session, run, anna
):
    group = tomorrow_session.group
    make_member(group)
    tomorrow_session.starts_at = timezone.now() + datetime.timedelta(hours=30)
    tomorrow_session.ends_at = tomorrow_session.starts_at + datetime.timedelta(hours=1)
    tomorrow_session.save()
    assert run(tasks.send_session_reminders) == 0

    tomorrow_session.starts_at = timezone.now() + datetime.timedelta(hours=3)
    tomorrow_session.ends_at = tomorrow_session.starts_at + datetime.timedelta(hours=1)
    tomorrow_session.save()
    session_cancel(session=tomorrow_session, by=anna, reason="Facilitator ill")
    mail.outbox.clear()
    assert run(tasks.send_session_reminders) == 0


def test_a_reminder_written_before_the_session_was_cancelled_is_not_sent(
    tomorrow_session, anna, django_capture_on_commit_callbacks
):
    make_member(tomorrow_session.group)
    with django_capture_on_commit_callbacks(execute=False):  # written, not yet sent
        tasks.send_session_reminders.delay()
    message = OutboxMessage.objects.get(kind="reminder")
    session_cancel(session=tomorrow_session, by=anna, reason="Room flooded")

    assert tasks.send_message.delay(message.pk).get() == Status.SKIPPED
    message.refresh_from_db()
    assert message.last_error == "the session was cancelled"
    assert mail.outbox == []


def test_a_reminder_is_not_sent_when_consent_was_withdrawn_in_between(
    tomorrow_session, marek, django_capture_on_commit_callbacks
):
    member = make_member(tomorrow_session.group)
    with django_capture_on_commit_callbacks(execute=False):
        tasks.send_session_reminders.delay()
    message = OutboxMessage.objects.get()
    consent = Consent.objects.get(participant=member, purpose=Consent.Purpose.CONTACT)
    consent_withdraw(consent=consent, by=marek, reason="No more e-mails")

    assert tasks.send_message.delay(message.pk).get() == Status.SKIPPED
    message.refresh_from_db()
    assert message.last_error == "no active contact consent"
    assert mail.outbox == []


def test_cancelling_a_session_tells_each_consenting_member_once(
    tomorrow_session, anna, run, django_capture_on_commit_callbacks
):
    group = tomorrow_session.group
    make_member(group, name="kasia")
    make_member(group, name="tomek")
    make_member(group, name="silent", consent=False)

    with django_capture_on_commit_callbacks(execute=True):
        session_cancel(session=tomorrow_session, by=anna, reason="Facilitator ill")

    assert sorted(m.to[0] for m in mail.outbox) == ["kasia@example.org", "tomek@example.org"]
    assert all("cancel" in m.subject.lower() for m in mail.outbox)
    assert group.name not in mail.outbox[0].body
    assert OutboxMessage.objects.filter(kind="session_cancelled", status="sent").count() == 2
    run(tasks.send_session_reminders)
    run(tasks.dispatch_stale_messages)
    assert len(mail.outbox) == 2


def test_cancelling_a_session_that_already_began_tells_nobody(
    group_a, anna, django_capture_on_commit_callbacks
):
    """Marking a past session cancelled puts the record right; it is no news to members."""
    make_member(group_a, name="kasia")
    past = SessionFactory(group=group_a, starts_at=timezone.now() - datetime.timedelta(days=30))
    begun = SessionFactory(group=group_a, starts_at=timezone.now() - datetime.timedelta(minutes=5))

    with django_capture_on_commit_callbacks(execute=True):
        session_cancel(session=past, by=anna, reason="The centre was closed that day")
        session_cancel(session=begun, by=anna, reason="Facilitator ill")

    assert not OutboxMessage.objects.exists()
    assert mail.outbox == []


def test_a_cancellation_rolled_back_tells_nobody(
    tomorrow_session, anna, django_capture_on_commit_callbacks
):
    make_member(tomorrow_session.group)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            session_cancel(session=tomorrow_session, by=anna, reason="Facilitator ill")
            assert OutboxMessage.objects.count() == 1  # written with the cancellation
            raise RuntimeError("the request fails after the cancellation")

    assert callbacks == []
    assert not OutboxMessage.objects.exists()
    assert mail.outbox == []


def test_moving_a_session_tells_members_the_new_time_and_the_old_reminder_goes_stale(
    tomorrow_session, anna, run, django_capture_on_commit_callbacks
):
    make_member(tomorrow_session.group, name="kasia")
    with django_capture_on_commit_callbacks(execute=False):
        tasks.send_session_reminders.delay()
    old_reminder = OutboxMessage.objects.get(kind="reminder")
    new_start = tomorrow_session.starts_at + datetime.timedelta(hours=2)

    with django_capture_on_commit_callbacks(execute=True):
        session_reschedule(session=tomorrow_session, by=anna, starts_at=new_start)

    (notice,) = mail.outbox
    local = timezone.localtime(new_start, tomorrow_session.institution.tzinfo)
    assert "moved" in notice.subject.lower() and local.strftime("%H:%M") in notice.body
    assert tasks.send_message.delay(old_reminder.pk).get() == Status.SKIPPED
    # The reminder for the new time is a new message, sent once.
    assert run(tasks.send_session_reminders) == 1
    assert run(tasks.send_session_reminders) == 0
    assert len(mail.outbox) == 2
