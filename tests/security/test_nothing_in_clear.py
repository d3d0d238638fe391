"""Everything sensitive encrypted or out (issue 15): after the demo and a workflow that writes
every kind of free text, a dump of every table's rows finds no legal name, alias, note text,
reason or certificate recipient in clear outside the column meant to hold it. And a NUL byte,
which PostgreSQL's text refuses, is a 400, not a 500."""

import io
import json

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from attendance.models import Consent
from attendance.services import enrollment_refer, enrollment_withdraw
from clinics.models import Participant
from reports.services import report_render, report_request
from sessions.services import note_write, session_cancel
from tests.factories import ConsentFactory, SessionFactory

from ..reports.conftest import PERIOD

START, END = PERIOD

LEGAL_NAME = "Zofia Unikalna-Testowa"
ALIAS = "Kasia-Unikalna"
NOTE = "Notatka-unikalna o przebiegu"
REFERRAL = "Skierowanie-unikalne z poradni"
LEAVING = "Odejście-unikalne z powodu pracy"
CANCELLED = "Odwołanie-unikalne choroba"
RECIPIENT = "Sąd Rejonowy Unikalny"

# Where each value may be stored in clear: its own column, nowhere else.
MEANT_FOR = {
    ALIAS: {"clinics_participant.alias"},
    REFERRAL: {"attendance_enrollment.referral_reason"},
    LEAVING: {"attendance_enrollment.end_reason"},
    CANCELLED: {"group_sessions_session.cancellation_reason"},
    # The run's own parameters and the disclosure consent name the recipient; not the audit log.
    RECIPIENT: {"reports_reportrun.parameters", "attendance_consent.recipient"},
    LEGAL_NAME: set(),  # encrypted everywhere
    NOTE: set(),
}


def dump() -> dict[str, set[str]]:
    """Every value in clear -> the table.column cells that hold it."""
    found: dict[str, set[str]] = {value: set() for value in MEANT_FOR}
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            table = model._meta.db_table
            columns = [field.column for field in model._meta.concrete_fields]
            # Identifiers from the models' own meta, quoted.
            cursor.execute(f"SELECT {', '.join(map(qn, columns))} FROM {qn(table)}")  # noqa: S608  # nosec B608
            for row in cursor.fetchall():
                for column, cell in zip(columns, row, strict=True):
                    text = (cell if isinstance(cell, str) else str(cell)).lower()
                    for value in found:
                        # As written, or as JSON writes it (SQLite keeps "\u0142" for "ł").
                        forms = {value.lower(), json.dumps(value.lower())[1:-1]}
                        if any(form in text for form in forms):
                            found[value].add(f"{table}.{column}")
    return found


@pytest.mark.django_db
def test_a_dump_after_the_demo_and_a_workflow_finds_nothing_in_clear_out_of_place(
    world, ewa, anna, marek, django_capture_on_commit_callbacks
):
    call_command("seed_demo", password="dump-test", stdout=io.StringIO())
    member = world.participants[0]  # P1: health-data consent in force
    Participant.objects.filter(pk=member.pk).update(alias=ALIAS)
    member.legal_name = LEGAL_NAME
    member.save(update_fields=["legal_name"])
    ConsentFactory(participant=member, purpose=Consent.Purpose.DISCLOSURE, recipient=RECIPIENT)
    newcomer = world.participants[5]
    enrollment_withdraw(enrollment=newcomer.enrollments.get(), by=marek, reason=LEAVING)
    enrollment_refer(participant=newcomer, group=world.group, by=marek, reason=REFERRAL)
    note_write(session=world.sessions[0], by=anna, text=f"{NOTE} {ALIAS}")
    upcoming = SessionFactory(group=world.group, room=world.sessions[0].room)
    with django_capture_on_commit_callbacks(execute=True):
        session_cancel(session=upcoming, by=anna, reason=CANCELLED)
        run = report_request(
            type="attendance_certificate",
            parameters={
                "participant": member.pk,
                "group": world.group.pk,
                "recipient": RECIPIENT,
                "start": START,
                "end": END,
            },
            by=ewa,
            language="pl",
        )
    report_render(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "ready", run.error
    assert run.certificate_facts  # written, and readable through the model

    found = dump()

    misplaced = {value: cells - MEANT_FOR[value] for value, cells in found.items()}
    assert misplaced == {value: set() for value in MEANT_FOR}
    assert found[ALIAS] and found[REFERRAL] and found[CANCELLED]  # the dump does see clear text


@pytest.mark.django_db
def test_a_nul_byte_in_a_certificate_recipient_is_a_400(world, ewa):
    client = APIClient(headers={"Accept-Language": "en"})
    client.force_authenticate(ewa)
    response = client.post(
        "/api/v1/reports/",
        {
            "type": "attendance_certificate",
            "parameters": {
                "participant": world.participants[0].pk,
                "group": world.group.pk,
                "recipient": "Court\u0000",
                "start": START,
                "end": END,
            },
        },
        format="json",
    )
    assert response.status_code == 400
    assert "recipient" in response.json()["parameters"]
