import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from reports.models import ReportRun
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def test_anna_requests_a_sign_in_sheet_and_downloads_it(client, anna, group_a, members_a):
    session = SessionFactory(group=group_a)
    client.force_login(anna)
    page = client.get(reverse("staff:reports"), {"type": "sign_in_sheet"})
    assert page.status_code == 200 and 'name="session"' in page.content.decode()
    response = client.post(
        reverse("staff:reports") + "?type=sign_in_sheet",
        {"type": "sign_in_sheet", "session": session.pk, "language": "ar"},
    )
    run = ReportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "staff:report", args=[run.pk]
    )
    assert (run.language, run.parameters) == ("ar", {"session": session.pk})
    run.refresh_from_db()
    detail = client.get(reverse("staff:report", args=[run.pk])).content.decode()
    if run.status == ReportRun.Status.READY:
        download = client.get(reverse("staff:report_file", args=[run.pk]))
        assert download["Content-Type"] == "application/pdf"
        assert b"".join(download.streaming_content).startswith(b"%PDF")
    else:
        assert "data-poll" in detail


def test_a_report_in_progress_looks_again_by_itself(client, anna, institution_a):
    run = ReportRun.objects.create(
        institution=institution_a, type="activity_summary", language="pl", requested_by=anna
    )
    client.force_login(anna)
    assert "data-poll" in client.get(reverse("staff:report", args=[run.pk])).content.decode()


def test_an_auditor_cannot_request_a_participant_export(client, olga, institution_a):
    client.force_login(olga)
    response = client.get(reverse("staff:reports"), {"type": "participant_export"})
    # Auditors see no participants at all, so there is nobody to choose.
    assert "P-0" not in response.content.decode()


def test_another_institutions_report_is_not_found(client, karim, anna, institution_a):
    run = ReportRun.objects.create(
        institution=institution_a, type="activity_summary", language="pl", requested_by=anna
    )
    client.force_login(karim)
    assert client.get(reverse("staff:report", args=[run.pk])).status_code == 404
    assert client.get(reverse("staff:report_file", args=[run.pk])).status_code == 404


def test_a_certificate_without_a_disclosure_consent_is_refused_on_the_form(
    client, anna, group_a, members_a
):
    person = members_a[0].participant
    client.force_login(anna)
    response = client.post(
        reverse("staff:reports") + "?type=attendance_certificate",
        {
            "type": "attendance_certificate",
            "language": "pl",
            "participant": person.pk,
            "group": group_a.pk,
            "recipient": "District Court",
            "start": "2026-01-01",
            "end": "2026-06-30",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "no certificate can be issued" in html
    assert 'value="District Court"' in html
    assert not ReportRun.objects.exists()


def test_the_sign_in_sheet_of_a_session_next_year_can_be_requested_from_its_page(
    client, ewa, group_a
):
    session = SessionFactory(group=group_a, starts_at=timezone.now() + datetime.timedelta(days=300))
    client.force_login(ewa)
    page = client.get(reverse("staff:reports"), {"type": "sign_in_sheet", "session": session.pk})
    assert f'<option value="{session.pk}" selected>' in page.content.decode()
    client.post(
        reverse("staff:reports") + "?type=sign_in_sheet",
        {"type": "sign_in_sheet", "session": session.pk, "language": "pl"},
    )
    assert ReportRun.objects.get().parameters == {"session": session.pk}
