"""A real Celery worker against a real Redis: an import whose worker is killed half-way leaves
nothing, and the redelivered task imports the whole file once; two copies of the task at once
import it once. PostgreSQL only (the worker is another process; see
tests/notifications/test_broker.py for how the worker is started and always killed)."""

import threading

import pytest
from django.db import connection

from audit.models import AuditEvent
from clinics.models import Participant
from imports.models import ImportJob
from imports.services import import_apply, import_run, import_upload
from tests.notifications.test_broker import kill, wait_for, worker

from .conftest import upload

ROWS = 300


def _big_file(rows: int = ROWS):
    lines = ["id,alias,consent_participation_date,consent_participation_version"]
    lines += [f"X-{n},Person {n},2026-09-01,v1" for n in range(1, rows + 1)]
    return upload("big.csv", "\n".join(lines) + "\n")


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_import_leaves_nothing_and_the_redelivered_import_finishes(
    publishing, tmp_path, ewa, settings
):
    settings.IMPORT_BACKGROUND_ROWS = 50
    job = import_upload(kind="participants", file=_big_file(), by=ewa)
    assert (job.status, job.rows) == ("checking", ROWS)  # the worker checks it first
    started = tmp_path / "import-started"
    short_visibility = {
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "DJANGO_SETTINGS_MODULE": "tests.imports.worker_settings",
    }

    with worker(
        tmp_path,
        "doomed",
        KRAG_TEST_IMPORT_PAUSE_AFTER="120",
        KRAG_TEST_IMPORT_STARTED=str(started),
        **short_visibility,
    ) as doomed:
        wait_for(
            lambda: ImportJob.objects.filter(pk=job.pk, status="preview").exists(),
            "the worker to check the file",
            tmp_path / "doomed.log",
        )
        assert import_apply(job=job, by=ewa).status == "running"
        wait_for(started.exists, "the worker to write 120 rows", tmp_path / "doomed.log")
        kill(doomed)  # SIGKILL inside the import's transaction

    job.refresh_from_db()
    assert job.status == "running"
    assert Participant.objects.count() == 0
    assert not AuditEvent.objects.filter(action__in=["import.applied", "participant.registered"])

    with worker(tmp_path, "rescuer", **short_visibility):
        wait_for(
            lambda: ImportJob.objects.filter(pk=job.pk, status="done").exists(),
            "the redelivered import to finish",
            tmp_path / "rescuer.log",
        )

    job.refresh_from_db()
    assert (job.created, job.updated, job.unchanged) == (ROWS, 0, 0)
    assert Participant.objects.count() == ROWS
    assert Participant.objects.values("alias").distinct().count() == ROWS
    assert AuditEvent.objects.filter(action="import.applied").count() == 1
    assert AuditEvent.objects.filter(action="participant.registered").count() == ROWS
    assert not job.file  # the encrypted upload is gone once it has served


@pytest.mark.django_db(transaction=True)
def test_two_copies_of_the_import_task_at_once_import_the_file_once(ewa, settings):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    settings.IMPORT_BACKGROUND_ROWS = 10
    for attempt in range(3):
        job = import_upload(kind="participants", file=_big_file(40), by=ewa)
        ImportJob.objects.filter(pk=job.pk).update(status="running", applied_by=ewa)
        barrier = threading.Barrier(2)
        outcomes = []

        def run(barrier=barrier, outcomes=outcomes, job_id=job.pk):
            barrier.wait()
            try:
                outcomes.append(import_run(job_id=job_id))
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done = [o for o in outcomes if o is not None]
        assert len(done) == 1, f"attempt {attempt}: {outcomes}"
        assert done[0].status == "done"
        # The first import created 40; the same file again changes nothing.
        assert (done[0].created, done[0].unchanged) == ((40, 0) if attempt == 0 else (0, 40))
        assert Participant.objects.count() == 40
    assert AuditEvent.objects.filter(action="import.applied").count() == 3


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_check_leaves_the_upload_checking_and_the_redelivered_check_ends(
    publishing, tmp_path, ewa, settings
):
    settings.IMPORT_BACKGROUND_ROWS = 50
    job = import_upload(kind="participants", file=_big_file(), by=ewa)
    assert (job.status, job.rows) == ("checking", ROWS)  # returned at once, rows estimated
    assert job.file
    started = tmp_path / "check-started"
    short_visibility = {
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "DJANGO_SETTINGS_MODULE": "tests.imports.worker_settings",
    }

    with worker(
        tmp_path,
        "doomed",
        KRAG_TEST_CHECK_PAUSE_AFTER="120",
        KRAG_TEST_IMPORT_STARTED=str(started),
        **short_visibility,
    ) as doomed:
        wait_for(started.exists, "the worker to check 120 rows", tmp_path / "doomed.log")
        kill(doomed)  # SIGKILL inside the check's transaction

    job.refresh_from_db()
    assert job.status == "checking"
    assert not AuditEvent.objects.filter(action="import.checked")

    with worker(tmp_path, "rescuer", **short_visibility):
        wait_for(
            lambda: ImportJob.objects.filter(pk=job.pk, status="preview").exists(),
            "the redelivered check to end",
            tmp_path / "rescuer.log",
        )
        job.refresh_from_db()
        assert (job.rows, job.problem_count) == (ROWS, 0)
        assert import_apply(job=job, by=ewa).status == "running"
        wait_for(
            lambda: ImportJob.objects.filter(pk=job.pk, status="done").exists(),
            "the import to finish",
            tmp_path / "rescuer.log",
        )
    assert AuditEvent.objects.filter(action="import.checked").count() == 1
    assert Participant.objects.count() == ROWS
