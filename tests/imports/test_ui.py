"""The spreadsheets page of the staff UI: upload, preview, import, progress, exports."""

import io

import pytest
from openpyxl import load_workbook

from attendance.models import AttendanceRecord
from audit.models import AuditEvent
from clinics.models import Participant
from imports.models import ImportJob

from .conftest import sample, upload

pytestmark = pytest.mark.django_db


def test_an_admin_uploads_the_polish_sample_sees_the_preview_and_imports_it(ui, ewa):
    client = ui(ewa)
    page = client.get("/imports/")
    assert page.status_code == 200
    assert b'enctype="multipart/form-data"' in page.content
    answer = client.post(
        "/imports/", {"kind": "participants", "file": sample("participants_pl.csv")}
    )
    job = ImportJob.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/imports/{job.pk}/"
    preview = client.get(answer["Location"])
    assert b"Import the file" in preview.content
    assert b"3 new, 0 changed, 0 unchanged." in preview.content
    assert not Participant.objects.exists()
    done = client.post(f"/imports/{job.pk}/apply/", follow=True)
    assert b"The file has been imported." in done.content
    assert Participant.objects.count() == 3


def test_the_preview_lists_every_problem_by_row_and_column_in_the_users_language(ui, ewa):
    client = ui(ewa, language="pl")
    client.post("/imports/", {"kind": "participants", "file": sample("participants_broken.csv")})
    job = ImportJob.objects.get()
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "3 problemy" in page
    assert "Nic nie zostało zaimportowane." in page
    for problem in job.problems:
        assert (
            f'<tr><td data-label="Wiersz">{problem["row"]}</td>'
            f'<td data-label="Kolumna">{problem["column"]}</td>'
            f'<td data-label="Problem">{problem["message"]}</td></tr>'
        ) in page
    assert "Wpisz poprawną datę." in page  # Django's own Polish for a wrong date
    assert "Nie ma uczestnika o kodzie P-99999." in page
    assert "Zaimportuj plik" not in page
    assert not Participant.objects.exists()


def test_a_wrong_file_is_a_form_error_that_keeps_the_choices_made(ui, ewa, register_group):
    group, members, sessions = register_group
    client = ui(ewa)
    answer = client.post(
        "/imports/",
        {"kind": "attendance", "group": group.pk, "file": upload("a.csv", b"\xff\xfe\x00a")},
    )
    assert answer.status_code == 400
    assert b"UTF-16" in answer.content
    assert f'<option value="{group.pk}" selected>'.encode() in answer.content
    assert not ImportJob.objects.exists()


def test_the_attendance_sample_imports_through_the_form(ui, ewa, register_group):
    group, members, sessions = register_group
    client = ui(ewa)
    client.post(
        "/imports/", {"kind": "attendance", "group": group.pk, "file": sample("attendance_pl.xlsx")}
    )
    job = ImportJob.objects.get()
    assert job.status == "preview", job.problems
    client.post(f"/imports/{job.pk}/apply/")
    assert AttendanceRecord.objects.filter(source="import").count() == 6


def test_a_large_import_runs_in_the_background_with_a_progress_bar(
    ui, ewa, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_BACKGROUND_ROWS = 2
    client = ui(ewa)
    with django_capture_on_commit_callbacks(execute=True):  # checked by the (eager) worker
        client.post("/imports/", {"kind": "participants", "file": sample("participants_en.csv")})
    job = ImportJob.objects.get()
    assert (job.status, job.created) == ("preview", 0)  # checked in bulk, not yet by the services
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post(f"/imports/{job.pk}/apply/")
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "data-poll" in page
    assert '<progress id="import-progress" max="3" value="0">' in page
    assert not Participant.objects.exists()
    for callback in queued:  # the worker's turn (eager here)
        callback()
    job.refresh_from_db()
    assert (job.status, job.created) == ("done", 3)
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "data-poll" not in page


def test_only_admins_see_the_import_form_and_imports(ui, anna, ewa, olga):
    client = ui(ewa)
    client.post("/imports/", {"kind": "participants", "file": sample("participants_en.csv")})
    job = ImportJob.objects.get()
    client = ui(anna)
    page = client.get("/imports/")
    assert page.status_code == 200
    assert b'enctype="multipart/form-data"' not in page.content
    assert client.get(f"/imports/{job.pk}/").status_code == 404
    assert client.post(f"/imports/{job.pk}/apply/").status_code == 404
    answer = client.post(
        "/imports/", {"kind": "participants", "file": sample("participants_en.csv")}
    )
    assert answer.status_code == 400
    assert ImportJob.objects.count() == 1
    assert b"Spreadsheets" not in ui(olga).get("/").content


def test_the_register_downloads_as_xlsx_from_the_page(ui, ewa, register_group):
    group, members, sessions = register_group
    client = ui(ewa)
    answer = client.get(
        "/imports/export/register/",
        {"group": group.pk, "start": "2026-10-01", "end": "2026-10-31", "file_format": "xlsx"},
    )
    assert answer.status_code == 200
    assert answer["Content-Disposition"].startswith('attachment; filename="register-')
    sheet = load_workbook(io.BytesIO(answer.content), read_only=True).worksheets[0]
    codes = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert codes == [m.code for m in members]
    assert AuditEvent.objects.filter(action="export.register").count() == 1


def test_a_register_with_the_end_before_the_start_is_a_form_error(ui, ewa, register_group):
    group, members, sessions = register_group
    answer = ui(ewa).get(
        "/imports/export/register/",
        {"group": group.pk, "start": "2026-10-31", "end": "2026-10-01", "file_format": "csv"},
    )
    assert answer.status_code == 400
    assert b"The end must not be before the start." in answer.content
