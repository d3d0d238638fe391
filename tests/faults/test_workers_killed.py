"""kill -9 a worker in the middle of sending and of rendering (issue 15).

Sending: the mail server has accepted a message and the worker dies before recording "sent".
That message's fate is unknown; it is sent again once, under the same Message-ID, and
recorded: the duplicates are bounded by the messages in flight at the kill (one here).
Rendering: a pool child dies mid-render; the run is made once, not left RUNNING forever.
"""

import datetime
import os
import signal
from pathlib import Path

import pytest
from django.utils import timezone

from notifications.models import OutboxMessage
from reports.models import ReportRun
from reports.services import report_request
from sessions.services import session_cancel
from tests.factories import SessionFactory
from tests.notifications.conftest import make_member

from .conftest import mail_headers, wait_for, worker

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = 20
MAIL = {"KRAG_TEST_EMAIL_BACKEND": "tests.faults.stalling.AcceptThenStallBackend"}
# A claim 3 s old counts as its sender's death; a killed worker's messages come back after 5 s.
QUICK = {"OUTBOX_SENDING_TIMEOUT": "3", "CELERY_VISIBILITY_TIMEOUT": "5"}


def cancelled_session_with_members(group, anna):
    session = SessionFactory(
        group=group, starts_at=timezone.now() + datetime.timedelta(hours=20), online_link=""
    )
    for n in range(MEMBERS):
        make_member(group, name=f"member{n:02d}")
    return session


def delivery_figures(tmp_path: Path, session) -> dict:
    messages = OutboxMessage.objects.filter(session=session)
    recipients = mail_headers(tmp_path, "To")
    ids = mail_headers(tmp_path, "Message-ID")
    return {
        "messages_expected": messages.count(),
        "emails_sent": len(recipients),
        "recipients_reached": len(set(recipients)),
        "duplicates": len(recipients) - len(set(recipients)),
        "duplicates_with_their_message_id": len(ids) - len(set(ids)),
        "recorded_of_unknown_fate": messages.filter(uncertain_attempts__gt=0).count(),
    }


def assert_one_in_flight_resent_once(figures, tmp_path, session):
    messages = OutboxMessage.objects.filter(session=session)
    assert figures["messages_expected"] == MEMBERS
    assert set(messages.values_list("status", flat=True)) == {"sent"}
    assert figures["recipients_reached"] == MEMBERS  # nothing lost
    assert figures["duplicates"] <= 1  # bounded by the one message in flight at the kill
    assert figures["duplicates"] == figures["duplicates_with_their_message_id"]
    assert figures["recorded_of_unknown_fate"] == 1
    resent = messages.get(uncertain_attempts=1)
    assert resent.attempts == 2
    assert mail_headers(tmp_path, "Message-ID").count(resent.reference) == 1 + figures["duplicates"]


def test_a_whole_worker_killed_after_the_server_accepted_a_message(
    publishing, tmp_path, group_a, anna, figures
):
    session = cancelled_session_with_members(group_a, anna)
    stalled = tmp_path / "send-stalled"
    with worker(
        tmp_path, "doomed", publishing.url, KRAG_TEST_SEND_STALLED=str(stalled), **MAIL, **QUICK
    ) as doomed:
        session_cancel(session=session, by=anna, reason="Facilitator ill")
        wait_for(stalled.exists, "the fifth message to be accepted", tmp_path / "doomed.log")
        os.killpg(doomed.pid, signal.SIGKILL)  # the worker and everything under it
        doomed.wait(timeout=30)
    in_flight = OutboxMessage.objects.filter(session=session, sending_since__isnull=False)
    assert in_flight.count() == 1  # the claim was committed before the server was called

    with worker(tmp_path, "rescuer", publishing.url, **QUICK):
        wait_for(
            lambda: not OutboxMessage.objects.filter(session=session, status="pending").exists(),
            "every notice to be sent",
            tmp_path / "rescuer.log",
        )

    figures.update(delivery_figures(tmp_path, session), in_flight_at_kill=1)
    assert_one_in_flight_resent_once(figures, tmp_path, session)


def test_a_pool_child_killed_after_the_server_accepted_a_message(
    publishing, tmp_path, group_a, anna, figures
):
    session = cancelled_session_with_members(group_a, anna)
    stalled = tmp_path / "send-stalled"
    with worker(
        tmp_path,
        "prefork",
        publishing.url,
        pool="prefork",
        concurrency=2,
        KRAG_TEST_SEND_STALLED=str(stalled),
        **MAIL,
        **QUICK,
    ):
        session_cancel(session=session, by=anna, reason="Facilitator ill")
        wait_for(stalled.exists, "a message to be accepted", tmp_path / "prefork.log")
        os.kill(int(stalled.read_text()), signal.SIGKILL)  # that child only; the worker lives
        wait_for(
            lambda: not OutboxMessage.objects.filter(session=session, status="pending").exists(),
            "every notice to be sent",
            tmp_path / "prefork.log",
        )

    # The other child may have been sending too at the kill: at most one message in flight
    # was the killed child's, so one duplicate at most.
    figures.update(delivery_figures(tmp_path, session), in_flight_at_kill=1)
    assert_one_in_flight_resent_once(figures, tmp_path, session)


def test_a_pool_child_killed_mid_render_leaves_the_report_made_once(
    publishing, tmp_path, world, ewa, figures
):
    stalled = tmp_path / "render-stalled"
    limits = {"CELERY_TASK_TIME_LIMIT": "20", "CELERY_TASK_SOFT_TIME_LIMIT": "18"}
    with worker(
        tmp_path,
        "renderer",
        publishing.url,
        pool="prefork",
        concurrency=2,
        KRAG_TEST_RENDER_STALLED=str(stalled),
        **limits,
    ):
        run = report_request(
            type="sign_in_sheet", parameters={"session": world.sessions[0].pk}, by=ewa
        )
        wait_for(stalled.exists, "the render to begin", tmp_path / "renderer.log")
        os.kill(int(stalled.read_text()), signal.SIGKILL)
        assert ReportRun.objects.get(pk=run.pk).status == "running"
        wait_for(
            lambda: ReportRun.objects.get(pk=run.pk).status in ("ready", "failed"),
            "the run to be made after its claim lapsed",
            tmp_path / "renderer.log",
        )

    run.refresh_from_db()
    figures.update(
        reports_requested=1,
        reports_rendered=int(run.status == "ready"),
        reports_stuck=ReportRun.objects.filter(status__in=["pending", "running"]).count(),
    )
    assert (run.status, run.error) == ("ready", "")
    assert figures["reports_stuck"] == 0
    with run.file.open("rb") as handle:
        assert handle.read(4) == b"%PDF"
