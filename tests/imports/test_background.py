"""A large upload is checked in the background (eager Celery here; tests/imports/test_broker.py
has a real worker): the upload returns at once CHECKING, the check ends PREVIEW or INVALID in
the uploader's language, a check cut short is done again, and small files stay synchronous."""

import pytest
from django.utils import translation

from audit.models import AuditEvent
from clinics.models import Participant
from imports import services
from imports.models import ImportJob
from imports.services import import_check, import_upload
from imports.tasks import check_import

from .conftest import sample, upload

pytestmark = pytest.mark.django_db


def _file(rows: int, broken: tuple = ()) -> str:
    lines = ["id,alias,code,consent_participation_date,consent_participation_version"]
    for n in range(1, rows + 1):
        code = f"P-{90000 + n}" if n in broken else ""
        lines.append(f"X-{n},Person {n},{code},2026-09-01,v1")
    return "\n".join(lines) + "\n"


@pytest.fixture
def background(settings):
    settings.IMPORT_BACKGROUND_ROWS = 5


def test_a_large_upload_returns_checking_and_the_worker_makes_it_a_preview(
    ewa, background, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        job = import_upload(kind="participants", file=upload("big.csv", _file(12)), by=ewa)
    assert (job.status, job.rows, job.problem_count) == ("checking", 12, 0)  # rows: estimated
    assert job.file  # kept (encrypted) for the worker
    assert len(queued) == 1
    uploaded = AuditEvent.objects.get(action="import.uploaded")
    assert uploaded.details["checking"] is True
    for callback in queued:  # the worker's turn
        callback()
    job.refresh_from_db()
    assert (job.status, job.rows, job.problem_count) == ("preview", 12, 0)
    assert services.import_progress(job)["total"] == 12
    checked = AuditEvent.objects.get(action="import.checked")
    assert (checked.details["rows"], checked.details["problems"]) == (12, 0)
    assert not Participant.objects.exists()


def test_the_background_check_lists_the_problems_in_the_uploaders_language(
    ewa, background, django_capture_on_commit_callbacks
):
    with translation.override("pl"), django_capture_on_commit_callbacks() as queued:
        job = import_upload(
            kind="participants", file=upload("big.csv", _file(12, broken=(3, 11))), by=ewa
        )
    assert job.language == "pl"
    with translation.override("en"):  # the worker's own language does not matter
        for callback in queued:
            callback()
    job.refresh_from_db()
    assert job.status == "invalid"
    assert [(p["row"], p["column"], p["code"]) for p in job.problems] == [
        (4, "code", "unknown_code"),
        (12, "code", "unknown_code"),
    ]
    assert job.problems[0]["message"] == "Nie ma uczestnika o kodzie P-90003."
    assert not job.file  # a refused file is not kept


def test_a_check_cut_short_leaves_the_job_checking_and_is_done_again(
    ewa, background, django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks(execute=False):
        job = import_upload(kind="participants", file=upload("big.csv", _file(12)), by=ewa)
    real_run = services._run

    class WorkerKilled(BaseException):
        pass

    def dies(*args, **kwargs):
        raise WorkerKilled

    monkeypatch.setattr(services, "_run", dies)
    with pytest.raises(WorkerKilled):
        check_import.delay(job.pk)
    job.refresh_from_db()
    assert job.status == "checking" and job.file
    monkeypatch.setattr(services, "_run", real_run)
    assert check_import.delay(job.pk).get() == "preview"  # the redelivered task
    assert import_check(job_id=job.pk) is None  # a late copy: nothing to do
    assert AuditEvent.objects.filter(action="import.checked").count() == 1


def test_a_file_up_to_the_threshold_is_still_checked_in_the_request(ewa, background):
    job = import_upload(kind="participants", file=upload("small.csv", _file(5)), by=ewa)
    assert (job.status, job.rows, job.created) == ("preview", 5, 5)


def test_an_empty_file_found_in_the_background_is_invalid(ewa, background):
    assert import_upload(kind="participants", file=sample("participants_en.csv"), by=ewa)
    job = ImportJob.objects.create(
        institution=ewa.memberships.get().institution,
        kind="participants",
        status="checking",
        filename="x.csv",
        format="csv",
        encoding="utf-8-sig",
        sha256="0" * 64,
        size=1,
        created_by=ewa,
    )
    job = import_check(job_id=job.pk)
    assert job.status == "invalid"
    assert job.problems[0]["code"] == "file_gone"


def test_the_page_of_an_upload_being_checked_polls_and_shows_rows_checked(
    ui, ewa, background, django_capture_on_commit_callbacks
):
    client = ui(ewa)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post("/imports/", {"kind": "participants", "file": upload("b.csv", _file(12))})
    job = ImportJob.objects.get()
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "data-poll" in page
    assert '<progress id="import-progress" max="12" value="0">' in page
    for callback in queued:
        callback()
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "data-poll" not in page and "Import the file" in page


def test_the_api_shows_an_upload_being_checked(
    api, ewa, background, django_capture_on_commit_callbacks
):
    client = api(ewa)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        answer = client.post(
            "/api/v1/imports/",
            {"kind": "participants", "file": upload("b.csv", _file(12))},
            format="multipart",
        )
    assert answer.status_code == 201
    body = answer.json()
    assert (body["status"], body["progress"]) == (
        "checking",
        {"checked": 0, "written": 0, "total": 12},
    )
    refused = client.post(f"/api/v1/imports/{body['id']}/apply/")
    assert refused.status_code == 400  # not yet a preview
    for callback in queued:
        callback()
    assert client.get(f"/api/v1/imports/{body['id']}/").json()["status"] == "preview"


def test_a_large_xlsx_is_checked_in_the_background_too(
    ewa, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_BACKGROUND_ROWS = 1
    with django_capture_on_commit_callbacks(execute=False) as queued:
        job = import_upload(kind="participants", file=sample("participants_pl.xlsx"), by=ewa)
    assert job.status == "checking" and job.rows >= 2  # the sheet's stated size
    for callback in queued:
        callback()
    job.refresh_from_db()
    assert job.status == "preview", job.problems
    assert job.rows == 3
