"""Exports: formula-looking cells neutralised, names only where the reports' rule allows."""

import csv
import datetime
import io

import pytest
from django.core.exceptions import PermissionDenied
from openpyxl import load_workbook

from attendance.models import Consent
from imports.export import export_participants, export_register
from tests.factories import ConsentFactory, ParticipantFactory

pytestmark = pytest.mark.django_db

DANGEROUS = ["=1+1", "+48 600", "-2", "@SUM(A1)", "\tx"]


def _rows(export, file_format):
    if file_format == "xlsx":
        sheet = load_workbook(io.BytesIO(export.content)).worksheets[0]
        return [[c.value for c in row] for row in sheet.iter_rows()], sheet
    return list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")))), None


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_cells_that_a_spreadsheet_would_run_are_neutralised(ewa, institution_a, file_format):
    for alias in DANGEROUS:
        ParticipantFactory(institution=institution_a, alias=alias)
    export = export_participants(institution=institution_a, by=ewa, file_format=file_format)
    rows, sheet = _rows(export, file_format)
    assert [row[1] for row in rows[1:]] == ["'" + alias for alias in DANGEROUS]
    if sheet is not None:
        assert {sheet.cell(row=n, column=2).data_type for n in range(2, 7)} == {"s"}


def test_the_register_names_people_for_the_groups_facilitator_not_for_staff(
    anna, marek, register_group
):
    group, members, sessions = register_group
    kasia = members[0]
    ConsentFactory(participant=kasia, purpose=Consent.Purpose.HEALTH_DATA)
    kasia.legal_name = "Katarzyna Nowak"
    kasia.save(update_fields=["legal_name"])
    for user, named in ((anna, True), (marek, False)):
        export = export_register(
            group=group,
            start=datetime.date(2026, 10, 1),
            end=datetime.date(2026, 10, 31),
            by=user,
            file_format="csv",
        )
        rows, _ = _rows(export, "csv")
        by_code = {row[0]: row for row in rows[1:]}
        assert by_code[kasia.code][2] == ("Katarzyna Nowak" if named else "")
        assert by_code[members[1].code][2] == ""  # no health-data consent: never named


def test_another_institution_cannot_export_a_group(karim, register_group):
    group, members, sessions = register_group
    with pytest.raises(PermissionDenied):
        export_register(
            group=group,
            start=datetime.date(2026, 10, 1),
            end=datetime.date(2026, 10, 31),
            by=karim,
            file_format="csv",
        )


def test_the_participant_list_is_importable_again_unchanged(ewa, institution_a):
    from imports.services import import_apply, import_upload

    from .conftest import upload

    for alias in ("Ala", "Basia"):
        ParticipantFactory(institution=institution_a, alias=alias)
    export = export_participants(institution=institution_a, by=ewa, file_format="xlsx")
    # The list's own columns; the "consents" column is the list's, not an import's.
    workbook = load_workbook(io.BytesIO(export.content))
    workbook.worksheets[0].delete_cols(5)
    out = io.BytesIO()
    workbook.save(out)
    job = import_upload(kind="participants", file=upload("list.xlsx", out.getvalue()), by=ewa)
    assert job.status == "preview", job.problems
    assert import_apply(job=job, by=ewa).unchanged == 2
