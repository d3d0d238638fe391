"""Stop the broker during a cancellation and a report request, start it again (issue 15).

The requests answer as if nothing happened (the work is committed, its publication is what
failed, and is logged); once the broker is back, the beat's sweeps hand the work over and the
worker does it: every notice sent once, the report made, nothing lost, nothing twice.
"""

import datetime
import time

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from notifications.models import OutboxMessage
from notifications.services import STALE_AFTER, outbox_dispatch_stale
from reports.models import ReportRun
from reports.services import REDISPATCH_AFTER, reports_sweep
from sessions.services import session_cancel
from tests.factories import SessionFactory
from tests.notifications.conftest import make_member
from tests.workers import forget_connection_pools

from .conftest import mail_headers, wait_for, worker

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = 20


def test_a_cancellation_and_a_report_asked_for_while_the_broker_is_down_are_done_after(
    publishing, tmp_path, world, anna, ewa, figures
):
    group = world.group
    session = SessionFactory(
        group=group, starts_at=timezone.now() + datetime.timedelta(hours=20), online_link=""
    )
    for n in range(MEMBERS):
        make_member(group, name=f"member{n:02d}")
    api = APIClient(headers={"Accept-Language": "en"})
    api.force_authenticate(ewa)

    with worker(tmp_path, "survivor", publishing.url):
        publishing.stop()
        started = time.monotonic()
        session_cancel(session=session, by=anna, reason="Facilitator ill")
        cancel_seconds = time.monotonic() - started
        response = api.post(
            "/api/v1/reports/",
            {"type": "sign_in_sheet", "language": "en", "parameters": {"session": session.pk}},
            format="json",
            headers={"Idempotency-Key": "report-during-the-outage"},
        )
        answers = [response.status_code]
        run = ReportRun.objects.get(pk=response.json()["id"])
        messages = OutboxMessage.objects.filter(session=session)
        assert messages.count() == MEMBERS and run.status == "pending"  # committed, not lost

        publishing.start()  # an empty Redis: whatever it held is gone
        forget_connection_pools()
        later = timezone.now() + max(STALE_AFTER, REDISPATCH_AFTER) + datetime.timedelta(minutes=1)
        assert sorted(outbox_dispatch_stale(now=later)) == sorted(
            messages.values_list("pk", flat=True)
        )
        assert reports_sweep(now=later) == [run.pk]
        wait_for(
            lambda: (
                not messages.filter(status="pending").exists()
                and ReportRun.objects.get(pk=run.pk).status not in ("pending", "running")
            ),
            "the worker to do the work once the broker was back",
            tmp_path / "survivor.log",
        )
        replay = api.post(
            "/api/v1/reports/",
            {"type": "sign_in_sheet", "language": "en", "parameters": {"session": session.pk}},
            format="json",
            headers={"Idempotency-Key": "report-during-the-outage"},
        )
        answers.append(replay.status_code)
        status_now = api.get(f"/api/v1/reports/{replay.json()['id']}/").json()["status"]

    recipients = mail_headers(tmp_path, "To")
    run.refresh_from_db()
    figures.update(
        messages_expected=MEMBERS,
        emails_sent=len(recipients),
        duplicates=len(recipients) - len(set(recipients)),
        reports_requested=1,
        reports_rendered=int(run.status == "ready"),
        requests_5xx=sum(code >= 500 for code in answers),
        cancellation_seconds_with_the_broker_down=round(cancel_seconds, 2),
    )
    assert answers == [202, 202]
    assert set(messages.values_list("status", flat=True)) == {"sent"}
    assert sorted(recipients) == sorted(f"member{n:02d}@example.org" for n in range(MEMBERS))
    assert (run.status, status_now) == ("ready", "ready")
