"""The import and export endpoints: the contract of SPEC.md "Import from a spreadsheet"."""

import io

import pytest
from openpyxl import load_workbook

from attendance.models import AttendanceRecord
from audit.models import AuditEvent
from clinics.models import Participant
from imports.models import ImportJob

from .conftest import sample, upload

pytestmark = pytest.mark.django_db


def _upload(client, name, **data):
    return client.post("/api/v1/imports/", {"file": sample(name), **data}, format="multipart")


def test_a_sample_is_uploaded_previewed_and_applied_through_the_api(api, ewa):
    client = api(ewa)
    answer = _upload(client, "participants_pl.xlsx", kind="participants")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["status"], body["rows"], body["problems"]) == ("preview", 3, [])
    applied = client.post(f"/api/v1/imports/{body['id']}/apply/")
    assert applied.status_code == 200
    final = client.get(f"/api/v1/imports/{body['id']}/").json()
    assert (final["status"], final["created"], final["updated"], final["unchanged"]) == (
        "done",
        3,
        0,
        0,
    )
    assert final["progress"] == {"checked": 3, "written": 3, "total": 3}
    assert Participant.objects.count() == 3


def test_a_broken_file_answers_201_invalid_with_row_column_code_and_message(api, ewa):
    answer = _upload(api(ewa), "participants_broken.csv", kind="participants")
    assert answer.status_code == 201
    body = answer.json()
    assert body["status"] == "invalid"
    assert [(p["row"], p["column"], p["code"]) for p in body["problems"]] == [
        (2, "consent_participation_date", "invalid"),
        (3, "code", "unknown_code"),
        (4, "legal_name", "consent_required"),
    ]
    assert body["problems"][0]["message"] == "Enter a valid date."
    refused = api(ewa).post(f"/api/v1/imports/{body['id']}/apply/")
    assert refused.status_code == 400
    assert not Participant.objects.exists()


def test_an_unreadable_file_is_a_400_naming_the_file_field(api, ewa):
    answer = api(ewa).post(
        "/api/v1/imports/",
        {"kind": "participants", "file": upload("a.csv", "alias\n".encode("utf-16"))},
        format="multipart",
    )
    assert answer.status_code == 400
    assert answer.json()["fields"]["file"][0]["code"] == "encoding"
    assert not ImportJob.objects.exists()


def test_attendance_needs_a_group_of_the_users_institution(api, ewa, group_b):
    answer = _upload(api(ewa), "attendance_en.csv", kind="attendance", group=group_b.pk)
    assert answer.status_code == 400
    assert "group" in answer.json()["fields"]


def test_the_attendance_sample_through_the_api(api, ewa, register_group):
    group, members, sessions = register_group
    client = api(ewa)
    body = _upload(client, "attendance_en.csv", kind="attendance", group=group.pk).json()
    assert body["status"] == "preview", body["problems"]
    client.post(f"/api/v1/imports/{body['id']}/apply/")
    assert AttendanceRecord.objects.filter(source="import").count() == 6


def test_imports_are_the_admins_and_invisible_to_another_institution(api, ewa, anna, karim):
    body = _upload(api(ewa), "participants_en.csv", kind="participants").json()
    assert api(karim).get(f"/api/v1/imports/{body['id']}/").status_code == 404
    assert api(karim).post(f"/api/v1/imports/{body['id']}/apply/").status_code == 404
    assert api(karim).get("/api/v1/imports/").json()["results"] == []
    assert api(anna).get(f"/api/v1/imports/{body['id']}/").status_code == 404
    refused = _upload(api(anna), "participants_en.csv", kind="participants")
    assert refused.status_code == 400  # anna administers nothing: which institution?
    refused = _upload(
        api(anna), "participants_en.csv", kind="participants", institution=body["institution"]["id"]
    )
    assert refused.status_code == 403
    assert not Participant.objects.exists()


def test_the_register_exports_as_xlsx_that_reads_back_with_the_marks(api, ewa, register_group):
    group, members, sessions = register_group
    client = api(ewa)
    body = _upload(client, "attendance_en.csv", kind="attendance", group=group.pk).json()
    client.post(f"/api/v1/imports/{body['id']}/apply/")
    answer = client.get(
        "/api/v1/imports/export/register/",
        {"group": group.pk, "start": "2026-10-01", "end": "2026-10-31", "file_format": "xlsx"},
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(answer.content), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == [
        "code",
        "alias",
        "legal_name",
        "2026-10-06 #1",
        "2026-10-13 #2",
        "attended",
        "expected",
    ]
    by_code = {r[0]: r for r in rows[1:]}
    assert by_code[members[1].code][3:] == ["late", "unexcused", 1, 2]
    assert by_code[members[2].code][3:] == ["excused", "left_early", 1, 2]
    event = AuditEvent.objects.get(action="export.register")
    assert event.details["format"] == "xlsx"
    assert event.details["sha256"] == answer["X-Checksum-SHA256"]


def test_the_participant_list_exports_as_csv_with_names_only_where_allowed(api, ewa, marek):
    client = api(ewa)
    body = _upload(client, "participants_en.csv", kind="participants").json()
    client.post(f"/api/v1/imports/{body['id']}/apply/")
    for user, named in ((ewa, True), (marek, False)):
        answer = api(user).get("/api/v1/imports/export/participants/", {"file_format": "csv"})
        assert answer.status_code == 200
        text = answer.content.decode("utf-8-sig")
        assert text.splitlines()[0] == "code,alias,legal_name,reminder_channel,consents"
        assert ("Katarzyna Nowak" in text) is named
        assert "Tomek" in text
    assert AuditEvent.objects.filter(action="export.participants").count() == 2


def test_an_auditor_gets_no_export(api, olga):
    answer = api(olga).get("/api/v1/imports/export/participants/")
    assert answer.status_code == 403


def test_a_large_file_is_applied_in_the_background_202_while_it_runs(
    api, ewa, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_BACKGROUND_ROWS = 2
    client = api(ewa)
    with django_capture_on_commit_callbacks(execute=True):  # checked by the (eager) worker
        body = _upload(client, "participants_en.csv", kind="participants").json()
    assert body["status"] == "checking"
    assert client.get(f"/api/v1/imports/{body['id']}/").json()["status"] == "preview"
    with django_capture_on_commit_callbacks(execute=False) as queued:
        answer = client.post(f"/api/v1/imports/{body['id']}/apply/")
    assert answer.status_code == 202
    assert answer.json()["status"] == "running"
    assert answer.json()["progress"]["total"] == 3
    again = client.post(f"/api/v1/imports/{body['id']}/apply/")  # asked twice: queued again
    assert again.status_code == 202
    assert len(queued) == 1 and not Participant.objects.exists()
    for callback in queued:
        callback()
    final = client.get(f"/api/v1/imports/{body['id']}/").json()
    assert (final["status"], final["created"]) == ("done", 3)


def test_an_upload_larger_than_the_apis_body_limit_is_read_under_the_imports_own(
    api, ewa, settings
):
    settings.API_MAX_BODY_BYTES = 1000
    content = "id,alias\n" + "".join(f"{n},Person {n}\n" for n in range(200))
    assert len(content) > 1000
    answer = api(ewa).post(
        "/api/v1/imports/",
        {"kind": "participants", "file": upload("a.csv", content)},
        format="multipart",
    )
    assert answer.status_code == 201, answer.json()
    settings.IMPORT_MAX_BYTES = 500
    refused = api(ewa).post(
        "/api/v1/imports/",
        {"kind": "participants", "file": upload("a.csv", content + " " * 70_000)},
        format="multipart",
    )
    assert refused.status_code == 413
