"""Consent texts are versioned documents (SPEC): per institution, purpose and language; a
consent points at the exact text (`text_version` in the API names its label); a new version
needing renewal flags the old consents; the access export carries the texts; staff see the text
when recording; scans are checked, kept off public addresses, read by those allowed, audited."""

import datetime
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from attendance.services import (
    consent_attach_scan,
    consent_grant,
    consent_scan_open,
    consent_text_publish,
)
from audit.models import AuditEvent
from clinics.export import participant_export

from .factories import ParticipantFactory

PDF = b"%PDF-1.4\n% a signed form\n"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def texts(institution_a, ewa):
    def publish(version, language="pl", renewal=False, days_ago=10):
        return consent_text_publish(
            institution=institution_a,
            purpose="participation",
            language=language,
            version=version,
            body=f"I agree to the group's rules ({version}, {language}).",
            valid_from=timezone.localdate() - datetime.timedelta(days=days_ago),
            requires_renewal=renewal,
            by=ewa,
        )

    return publish


@pytest.fixture
def person(institution_a):
    return ParticipantFactory(institution=institution_a, language="en")


def test_a_consent_points_at_the_exact_text_of_its_version_in_the_persons_language(
    texts, person, marek
):
    texts("2026.1", "pl")
    english = texts("2026.1", "en")

    consent = consent_grant(
        participant=person,
        purpose="participation",
        method="signed_form",
        text_version="2026.1",
        by=marek,
    )

    assert (consent.text, consent.text_version) == (english, "2026.1")


def test_an_unknown_version_is_refused_naming_the_known_ones(texts, person, marek):
    texts("2026.1")

    with pytest.raises(ValidationError) as exc:
        consent_grant(
            participant=person,
            purpose="participation",
            method="verbal",
            text_version="v9",
            by=marek,
        )

    assert exc.value.message_dict["text_version"] == [
        "This institution has no consent text “v9” for this purpose; its versions are: 2026.1."
    ]


def test_a_new_version_needing_renewal_flags_the_consents_under_the_old_one(texts, person, marek):
    texts("2026.1", "en", days_ago=30)
    old = consent_grant(
        participant=person,
        purpose="participation",
        method="verbal",
        text_version="2026.1",
        by=marek,
    )

    texts("2027.1", "en", renewal=True, days_ago=0)

    old.refresh_from_db()
    assert old.renewal_needed
    assert AuditEvent.objects.get(action="consent_text.published", details__version="2027.1")


def test_only_an_admin_publishes_a_text(institution_a, anna):
    with pytest.raises(PermissionDenied):
        consent_text_publish(
            institution=institution_a,
            purpose="contact",
            language="pl",
            version="1",
            body="x",
            valid_from=timezone.localdate(),
            by=anna,
        )


def test_the_access_export_carries_the_texts_agreed_to(texts, person, marek, ewa):
    text = texts("2026.1", "en")
    consent_grant(
        participant=person,
        purpose="participation",
        method="verbal",
        text_version="2026.1",
        by=marek,
    )

    exported = participant_export(participant=person, by=ewa)
    data = json.loads(exported) if isinstance(exported, (str, bytes)) else exported

    assert data["consents"][0]["text"]["body"] == text.body


def test_the_api_keeps_text_version_and_answers_with_the_text(texts, person, marek):
    text = texts("2026.1", "en")
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(marek)

    created = client.post(
        "/api/v1/consents/",
        {
            "participant": person.pk,
            "purpose": "participation",
            "method": "verbal",
            "text_version": "2026.1",
        },
        format="json",
    )
    listed = client.get("/api/v1/consent-texts/?purpose=participation")

    assert created.status_code == 201, created.content
    assert created.json()["text"]["id"] == text.pk
    assert [t["version"] for t in listed.json()["results"]] == ["2026.1"]


def test_staff_see_the_text_when_recording_a_consent(client, texts, person, marek):
    text = texts("2026.1", "en")
    client.force_login(marek)

    page = client.get(reverse("staff:participant", args=[person.pk])).content.decode()

    assert text.body.replace("'", "&#x27;") in page


def test_a_scan_is_a_pdf_jpeg_or_png_of_at_most_10_mb(person, marek):
    consent = consent_grant(
        participant=person, purpose="contact", method="signed_form", text_version="v1", by=marek
    )

    with pytest.raises(ValidationError, match="PDF, JPEG or PNG"):
        consent_attach_scan(
            consent=consent, scan=SimpleUploadedFile("x.pdf", b"MZ\x90\x00 not a pdf"), by=marek
        )
    with pytest.raises(ValidationError, match="larger than 10 MB"):
        consent_attach_scan(
            consent=consent,
            scan=SimpleUploadedFile("x.pdf", PDF + b"0" * (10 * 1024 * 1024)),
            by=marek,
        )


def test_a_scan_is_uploaded_in_the_staff_ui_and_each_download_is_audited(
    client, person, marek, olga
):
    consent = consent_grant(
        participant=person, purpose="contact", method="signed_form", text_version="v1", by=marek
    )
    client.force_login(marek)
    upload = reverse("staff:consent_scan_upload", args=[person.pk, consent.pk])
    download = reverse("staff:consent_scan", args=[person.pk, consent.pk])

    client.post(upload, {"scan": SimpleUploadedFile("form.pdf", PDF)})
    consent.refresh_from_db()
    got = client.get(download)

    assert consent.scan.name.startswith(f"consents/{timezone.now():%Y}/")
    assert got.status_code == 200 and b"".join(got.streaming_content) == PDF
    assert got["Cache-Control"] == "no-store"
    assert AuditEvent.objects.filter(action="consent.scan_downloaded").count() == 1
    with pytest.raises(PermissionDenied):
        consent_scan_open(consent=consent, by=olga)


def test_a_scan_has_no_public_address(person, marek):
    consent = consent_grant(
        participant=person, purpose="contact", method="signed_form", text_version="v1", by=marek
    )
    consent_attach_scan(consent=consent, scan=SimpleUploadedFile("f.pdf", PDF), by=marek)

    with pytest.raises(ValueError):
        consent.scan.url  # noqa: B018  (no URL maps the scans' storage)
