"""POST reports/ → 202, GET reports/{id}/, GET reports/{id}/download/ → the PDF; scoped."""

import pytest
from rest_framework.test import APIClient

from attendance.models import Consent
from audit.models import AuditEvent
from reports.models import ReportRun
from tests.api.errors import under
from tests.factories import ConsentFactory

from .conftest import PERIOD

START, END = PERIOD


def client_for(user):
    client = APIClient(headers={"Accept-Language": "en"})
    client.force_authenticate(user)
    return client


@pytest.fixture
def register_run(world, ewa, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(ewa).post(
            "/api/v1/reports/",
            {
                "type": "group_register",
                "language": "pl",
                "parameters": {"group": world.group.pk, "start": START, "end": END},
            },
            format="json",
        )
    assert response.status_code == 202, response.json()
    return response


def test_asking_for_a_report_answers_202_with_its_id_and_status(register_run):
    body = register_run.json()
    assert body["type"] == "group_register" and body["language"] == "pl"
    assert body["status"] in ("pending", "running", "ready")
    assert ReportRun.objects.filter(pk=body["id"]).exists()
    assert register_run["Location"].endswith(f"/api/v1/reports/{body['id']}/")


def test_the_status_then_the_pdf_can_be_fetched_and_the_download_is_audited(register_run, ewa):
    run_id = register_run.json()["id"]
    client = client_for(ewa)
    status = client.get(f"/api/v1/reports/{run_id}/").json()
    assert status["status"] == "ready"
    assert len(status["sha256"]) == 64
    assert status["download_url"].endswith(f"/api/v1/reports/{run_id}/download/")
    before = AuditEvent.objects.filter(action="report.download").count()
    response = client.get(f"/api/v1/reports/{run_id}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    body = b"".join(response.streaming_content)
    assert body.startswith(b"%PDF")
    event = AuditEvent.objects.filter(action="report.download").latest("id")
    assert AuditEvent.objects.filter(action="report.download").count() == before + 1
    assert event.actor == ewa and event.object_id == str(run_id)


def test_another_institutions_run_is_a_404_for_karim(register_run, karim):
    run_id = register_run.json()["id"]
    client = client_for(karim)
    assert client.get(f"/api/v1/reports/{run_id}/").status_code == 404
    assert client.get(f"/api/v1/reports/{run_id}/download/").status_code == 404
    assert client.get("/api/v1/reports/").json()["results"] == []
    assert not AuditEvent.objects.filter(action="report.download").exists()


def test_karim_cannot_ask_for_a_report_on_another_institutions_group(world, karim):
    response = client_for(karim).post(
        "/api/v1/reports/",
        {
            "type": "group_register",
            "parameters": {"group": world.group.pk, "start": START, "end": END},
        },
        format="json",
    )
    assert response.status_code == 400
    assert under(response, "parameters")["group"] == ["No such group."]


def test_a_certificate_without_consent_is_a_400_with_the_reason(world, ewa):
    participant = world.participants[0]
    ConsentFactory(participant=participant, purpose=Consent.Purpose.DISCLOSURE, recipient="Court")
    response = client_for(ewa).post(
        "/api/v1/reports/",
        {
            "type": "attendance_certificate",
            "parameters": {
                "participant": participant.pk,
                "group": world.group.pk,
                "recipient": "Employer",
                "start": START,
                "end": END,
            },
        },
        format="json",
    )
    assert response.status_code == 400
    message = under(response, "parameters")["recipient"][0]
    assert "no active consent to disclose their attendance to “Employer”" in message
    assert not ReportRun.objects.exists()


def test_bad_parameters_get_field_by_field_messages(world, ewa):
    response = client_for(ewa).post(
        "/api/v1/reports/",
        {
            "type": "group_register",
            "parameters": {"group": world.group.pk, "start": "2026-13-01", "colour": "red"},
        },
        format="json",
    )
    assert response.status_code == 400
    errors = under(response, "parameters")
    assert errors["start"] == ["Enter a date as YYYY-MM-DD."]
    assert errors["end"] == ["This parameter is required."]
    assert "colour" in errors["unknown"][0]


def test_an_auditor_asking_for_a_register_is_refused_with_a_403(world, olga):
    response = client_for(olga).post(
        "/api/v1/reports/",
        {
            "type": "group_register",
            "parameters": {"group": world.group.pk, "start": START, "end": END},
        },
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Auditors receive aggregate reports only."


def test_a_colleague_does_not_see_someone_elses_run_but_the_admin_does(register_run, anna, ewa):
    run_id = register_run.json()["id"]
    assert client_for(anna).get(f"/api/v1/reports/{run_id}/").status_code == 404
    assert client_for(ewa).get(f"/api/v1/reports/{run_id}/").status_code == 200


def test_the_list_filters_by_status_and_updated_since(register_run, ewa):
    client = client_for(ewa)
    run_id = register_run.json()["id"]
    ready = client.get("/api/v1/reports/", {"status": "ready"}).json()["results"]
    assert [r["id"] for r in ready] == [run_id]
    assert client.get("/api/v1/reports/", {"status": "failed"}).json()["results"] == []
    later = client.get("/api/v1/reports/", {"updated_since": "2999-01-01T00:00:00Z"})
    assert later.json()["results"] == []


def test_a_retried_request_with_the_same_idempotency_key_makes_one_run(world, ewa):
    client = client_for(ewa)
    body = {"type": "sign_in_sheet", "parameters": {"session": world.sessions[0].pk}}
    first = client.post("/api/v1/reports/", body, format="json", headers={"Idempotency-Key": "k1"})
    again = client.post("/api/v1/reports/", body, format="json", headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert ReportRun.objects.count() == 1
