"""Participants' rights: the access export (JSON through the API) and erasure, which removes
the person's identity everywhere it was stored — notes, consent scans, the outbox, report
files — while the code and every aggregate figure stay as they were."""

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.db import models
from django.db.models import Count
from rest_framework.test import APIClient

from attendance.models import AttendanceRecord, Consent
from audit.models import AuditEvent
from clinics.models import Participant
from clinics.services import participant_erase
from notifications.models import OutboxMessage
from reports.models import ReportRun
from sessions.models import NoteAddendum, SessionNote
from sessions.services import note_add_addendum, note_sign, note_write
from tests.reports.conftest import pdf_text

NAME, ALIAS = "Zofia Wiśniewska", "Alias-1"  # P1 of the reports' world, named in reports
EMAIL, PHONE = "zofia@example.org", "+48 600 100 200"


def api_as(user):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


@pytest.fixture
def zofia(world, anna, ewa):
    """P1 with contacts, notes about her and naming her, a consent scan and messages."""
    p = world.participants[0]
    contact = Consent.objects.create(
        institution=p.institution,
        participant=p,
        purpose=Consent.Purpose.CONTACT,
        method=Consent.Method.SIGNED_FORM,
        text_version="v1",
        recorded_by=anna,
    )
    contact.scan.save("zofia-signed.pdf", ContentFile(b"%PDF- signed by " + NAME.encode()))
    Participant.objects.filter(pk=p.pk).update(email=EMAIL, phone=PHONE, reminder_channel="email")
    session = world.sessions[0]
    own = note_write(
        session=session, by=anna, kind="participant", participant=p, text=f"{ALIAS} spoke first."
    )
    note_write(session=session, by=anna, kind="participant", participant=p, text="Edited.")
    group = note_write(
        session=session, by=anna, text=f"{NAME} and {ALIAS} led the talk; Łukasz listened."
    )
    group = note_sign(note=group, by=anna)
    note_add_addendum(note=group, by=anna, text=f"Later {ALIAS} called.")
    for status in (OutboxMessage.Status.PENDING, OutboxMessage.Status.SENT):
        OutboxMessage.objects.create(
            institution=p.institution,
            key=f"test-{status}",
            kind=OutboxMessage.Kind.REMINDER,
            channel=OutboxMessage.Channel.EMAIL,
            participant=p,
            to=EMAIL,
            subject=f"Dear {ALIAS}",
            body=f"Hello {ALIAS}, see you on Tuesday.",
            status=status,
        )
    p.refresh_from_db()
    return {"participant": p, "own_note": own, "group_note": group}


# --- The access export ----------------------------------------------------------------------


def test_an_admin_exports_everything_held_about_a_person_as_json(ewa, zofia, world):
    p = zofia["participant"]
    response = api_as(ewa).get(f"/api/v1/participants/{p.pk}/export/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["participant"]["legal_name"] == NAME
    assert data["participant"]["email"] == EMAIL
    assert {c["purpose"] for c in data["consents"]} >= {"contact", "health_data"}
    assert len(data["attendance"]) == 3
    assert [n["text"] for n in data["notes"]] == ["Edited."]
    # Never another member's name, never the group's or a private note.
    assert "Łukasz" not in response.content.decode()
    assert "led the talk" not in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action="participant.export")
    assert (event.actor, event.object_id, event.details) == (ewa, str(p.pk), {"format": "json"})


def test_only_an_admin_exports_and_another_institution_gets_404(anna, karim, zofia):
    url = f"/api/v1/participants/{zofia['participant'].pk}/export/"
    refused = api_as(anna).get(url)
    assert refused.status_code == 403
    assert "export a participant's data" in refused.json()["detail"]
    assert api_as(karim).get(url).status_code == 404
    assert not AuditEvent.objects.filter(action="participant.export").exists()


# --- Erasure ------------------------------------------------------------------------------------


def identity_values_anywhere(values) -> list[str]:
    """Every stored text value (through the ORM, so decrypted) containing one of `values`."""
    found = []
    for model in apps.get_models():
        if model is AuditEvent:
            continue  # append-only; it holds ids and field names, never values (checked below)
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        if not fields:
            continue
        for row in model._base_manager.values_list(*fields):
            for value in row:
                text = str(value)
                found += [f"{model._meta.label}: {v}" for v in values if v.lower() in text.lower()]
    return found


def counts_per_group():
    return list(
        AttendanceRecord.objects.values("session__group", "status")
        .annotate(n=Count("id"))
        .order_by("session__group", "status")
    )


def test_erasure_removes_the_identity_everywhere_and_keeps_every_figure(
    ewa,
    zofia,
    world,
    make_report,
    django_capture_on_commit_callbacks,
):
    p = zofia["participant"]
    export = make_report("participant_export", ewa, participant=p.pk)
    register = make_report(
        "group_register", ewa, group=world.group.pk, start="2026-10-01", end="2026-11-15"
    )
    assert NAME in pdf_text(register) or ALIAS in pdf_text(register)
    figures_before = counts_per_group()
    found = identity_values_anywhere([NAME, ALIAS, EMAIL, PHONE])
    assert {f.split(":")[0] for f in found} >= {
        "clinics.Participant",
        "group_sessions.SessionNote",
        "group_sessions.NoteAddendum",
        "notifications.OutboxMessage",
    }
    old_files = [export.file.name, register.file.name]
    storage = export.file.storage

    with django_capture_on_commit_callbacks(execute=True):  # files go, registers are remade
        response = api_as(ewa).post(
            f"/api/v1/participants/{p.pk}/erase/", {"reason": "her request of 1 Dec"}, format="json"
        )

    assert response.status_code == 200, response.content
    assert response.json()["is_erased"] is True
    assert identity_values_anywhere([NAME, ALIAS, EMAIL, PHONE, "Wiśniewska"]) == []
    p.refresh_from_db()
    assert (p.code, p.alias, p.legal_name, p.email, p.phone) == (p.code, p.code, "", "", "")
    # Her own notes are emptied; the group's note and its addendum name her by code now.
    assert SessionNote.objects.get(pk=zofia["own_note"].pk).text == ""
    group_note = SessionNote.objects.get(pk=zofia["group_note"].pk)
    assert group_note.text == f"{p.code} and {p.code} led the talk; Łukasz listened."
    assert NoteAddendum.objects.get(note=group_note).text == f"Later {p.code} called."
    # No file keeps her: the scan and her export are gone, the register was made again.
    assert not Consent.objects.filter(participant=p).exclude(scan="").exists()
    assert not any(storage.exists(name) for name in old_files)
    export.refresh_from_db()
    assert (export.status, export.file.name) == (ReportRun.Status.FAILED, "")
    register.refresh_from_db()
    assert register.status == ReportRun.Status.READY
    text = pdf_text(register)
    assert NAME not in text and ALIAS not in text and p.code in text
    # Messages: no address, no name, nothing left to send.
    for message in OutboxMessage.objects.filter(participant=p):
        assert message.to == "" and ALIAS not in message.body
        assert message.status != OutboxMessage.Status.PENDING
    # Every aggregate figure is the same.
    assert counts_per_group() == figures_before
    event = AuditEvent.objects.get(action="participant.erased")
    assert event.actor == ewa and event.details["reason"] == "her request of 1 Dec"
    assert not [e for e in AuditEvent.objects.all() if NAME in str(e.details)]


def test_erasure_is_for_admins_once_and_another_institution_gets_404(anna, karim, ewa, zofia):
    url = f"/api/v1/participants/{zofia['participant'].pk}/erase/"
    assert api_as(anna).post(url, {"reason": "x"}, format="json").status_code == 403
    assert api_as(karim).post(url, {"reason": "x"}, format="json").status_code == 404
    assert api_as(ewa).post(url, {}, format="json").status_code == 400  # a reason is required
    assert not Participant.objects.get(pk=zofia["participant"].pk).is_erased
    assert api_as(ewa).post(url, {"reason": "x"}, format="json").status_code == 200
    again = api_as(ewa).post(url, {"reason": "x"}, format="json")
    assert again.status_code == 400
    assert AuditEvent.objects.filter(action="participant.erased").count() == 1


def test_an_erasure_that_fails_changes_nothing(ewa, zofia, monkeypatch):
    import reports.erasure

    def fail(**kwargs):
        raise RuntimeError("storage unavailable")

    monkeypatch.setattr(reports.erasure, "reports_forget_participant", fail)
    with pytest.raises(RuntimeError):
        participant_erase(participant=zofia["participant"], by=ewa, reason="x")
    p = Participant.objects.get(pk=zofia["participant"].pk)
    assert (p.legal_name, p.is_erased) == (NAME, False)
    assert SessionNote.objects.get(pk=zofia["own_note"].pk).text == "Edited."
    assert OutboxMessage.objects.filter(participant=p, to=EMAIL).count() == 2
    assert not AuditEvent.objects.filter(action="participant.erased").exists()
    assert Consent.objects.filter(participant=p).exclude(scan="").exists()
