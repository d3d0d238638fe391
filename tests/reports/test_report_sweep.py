"""Nothing waits forever (issue 15): a request whose broker is down still answers 202 and the
run waits pending, not lost; the sweep dispatches it again when the broker is back, and puts
back a run left RUNNING by a worker killed mid-render."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from reports import services, tasks
from reports.models import ReportRun

from .conftest import PERIOD

START, END = PERIOD


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(tasks.render_report, "apply_async", refuse)
    return monkeypatch


def register_request(client, world):
    return client.post(
        "/api/v1/reports/",
        {
            "type": "group_register",
            "language": "en",
            "parameters": {"group": world.group.pk, "start": START, "end": END},
        },
        format="json",
        headers={"Idempotency-Key": "report-while-the-broker-is-down"},
    )


def test_a_report_asked_for_while_the_broker_is_down_answers_202_and_is_made_later(
    world, ewa, broker_down, django_capture_on_commit_callbacks
):
    client = APIClient(headers={"Accept-Language": "en"})
    client.force_authenticate(ewa)
    with django_capture_on_commit_callbacks(execute=True):
        response = register_request(client, world)
    assert response.status_code == 202, response.content
    run = ReportRun.objects.get(pk=response.json()["id"])
    assert run.status == "pending"

    broker_down.undo()  # the broker is back; the beat's sweep comes by
    assert services.reports_sweep(now=timezone.now()) == []  # too fresh to be called lost
    later = timezone.now() + services.REDISPATCH_AFTER + datetime.timedelta(seconds=1)
    assert services.reports_sweep(now=later) == [run.pk]

    run.refresh_from_db()
    assert run.status == "ready"
    replay = register_request(client, world)  # the stored 202 names the run, now ready
    assert client.get(f"/api/v1/reports/{replay.json()['id']}/").json()["status"] == "ready"


def test_the_staff_form_asked_while_the_broker_is_down_says_the_report_is_on_its_way(
    client, world, ewa, broker_down, django_capture_on_commit_callbacks
):
    client.force_login(ewa)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/reports/?type=group_register",
            {
                "type": "group_register",
                "language": "en",
                "group": world.group.pk,
                "start": START,
                "end": END,
            },
        )
    assert response.status_code == 302, response.content[:500]
    assert ReportRun.objects.get().status == "pending"


def test_a_run_left_running_by_a_dead_worker_is_reclaimed_audited_and_made(
    world, ewa, make_report, settings, broker_down
):
    run = make_report("sign_in_sheet", ewa, session=world.sessions[0].pk)
    assert run.status == "pending"  # its message never reached a worker
    broker_down.undo()
    killed_at = timezone.now()
    ReportRun.objects.filter(pk=run.pk).update(status="running", started_at=killed_at)

    within = killed_at + datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT - 5)
    assert services.reports_sweep(now=within) == []
    assert ReportRun.objects.get(pk=run.pk).status == "running"  # someone may still render it

    past = killed_at + datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)
    assert services.reports_sweep(now=past) == [run.pk]
    assert services.reports_sweep(now=past) == []  # once made, a second sweep finds nothing

    run.refresh_from_db()
    assert run.status == "ready"
    assert AuditEvent.objects.filter(action="report.reclaimed", object_id=str(run.pk)).count() == 1
    assert AuditEvent.objects.filter(action="report.ready", object_id=str(run.pk)).count() == 1


def test_the_sweep_is_scheduled_by_name():
    from config.celery import app

    jobs = {job["task"] for job in app.conf.beat_schedule.values()}
    assert "reports.tasks.sweep_report_runs" in jobs
    assert "reports.tasks.sweep_report_runs" in app.tasks
