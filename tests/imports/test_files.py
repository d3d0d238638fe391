"""Bad files get clear errors: wrong type, wrong encoding, too large, empty, formulas."""

import io

import pytest
from django.core.exceptions import ValidationError
from openpyxl import Workbook

from clinics.models import Participant
from imports.models import ImportJob
from imports.services import import_upload

from .conftest import upload

pytestmark = pytest.mark.django_db

HEADER = "id,alias,consent_participation_date,consent_participation_version\n"


def _file_code(exc) -> str:
    return exc.value.error_dict["file"][0].code


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("list.pdf", b"%PDF-1.7 ...", "file_type"),
        ("list.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "file_type"),
        ("list.xlsx", b"PK\x03\x04 not really a workbook", "file_type"),
        ("list.docx", b"PK\x03\x04 a word file", "file_type"),
        ("list.csv", HEADER.encode("utf-16"), "encoding"),
        ("list.csv", b"", "empty"),
        ("list.csv", b"\n\n", "empty"),
        ("list.csv", HEADER.encode(), "empty"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_its_reason_and_no_job(ewa, name, content, code):
    with pytest.raises(ValidationError) as exc:
        import_upload(kind="participants", file=upload(name, content), by=ewa)
    assert _file_code(exc) == code
    assert exc.value.error_dict["file"][0].messages[0]
    assert not ImportJob.objects.exists()


def test_an_upload_over_the_limit_is_refused_and_one_at_the_limit_is_read(ewa, settings):
    content = (HEADER + "1,Kasia,2026-09-01,v1\n").encode()
    settings.IMPORT_MAX_BYTES = len(content)
    assert import_upload(kind="participants", file=upload("a.csv", content), by=ewa).status == (
        "preview"
    )
    with pytest.raises(ValidationError) as exc:
        import_upload(kind="participants", file=upload("a.csv", content + b"\n"), by=ewa)
    assert _file_code(exc) == "too_large"


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "cp1250"], ids=["utf8", "utf8-bom", "windows-1250"]
)
def test_utf8_with_or_without_bom_and_windows_1250_read_the_same_polish_letters(ewa, encoding):
    content = (HEADER + "1,Łucja Żądło,2026-09-01,v1\n").encode(encoding)
    job = import_upload(kind="participants", file=upload("a.csv", content), by=ewa)
    assert job.status == "preview", job.problems
    from imports.services import import_apply

    import_apply(job=job, by=ewa)
    assert Participant.objects.get().alias == "Łucja Żądło"


def test_a_semicolon_separated_file_as_polish_excel_saves_it_is_read(ewa):
    content = HEADER.replace(",", ";") + "1;Kasia;01.09.2026;v1\n"
    job = import_upload(kind="participants", file=upload("a.csv", content), by=ewa)
    assert job.status == "preview", job.problems


def test_a_formula_in_a_csv_cell_is_refused_not_evaluated(ewa):
    content = HEADER + '1,"=HYPERLINK(""http://evil.example"",""x"")",2026-09-01,v1\n'
    job = import_upload(kind="participants", file=upload("a.csv", content), by=ewa)
    assert [(p["row"], p["column"], p["code"]) for p in job.problems] == [(2, "alias", "formula")]
    assert not Participant.objects.exists()


def test_a_formula_in_an_xlsx_cell_is_refused_not_evaluated(ewa):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id", "alias", "consent_participation_date", "consent_participation_version"])
    sheet.append(["1", "Kasia", "=TODAY()", "v1"])
    out = io.BytesIO()
    workbook.save(out)
    job = import_upload(kind="participants", file=upload("a.xlsx", out.getvalue()), by=ewa)
    assert [(p["row"], p["column"], p["code"]) for p in job.problems] == [
        (2, "consent_participation_date", "formula")
    ]


def test_unknown_and_missing_columns_are_named_in_row_one(ewa):
    content = "id,pseudonym,consent_helth_data_date\n1,Kasia,2026-09-01\n"
    job = import_upload(kind="participants", file=upload("a.csv", content), by=ewa)
    assert {(p["row"], p["column"], p["code"]) for p in job.problems} == {
        (1, "pseudonym", "unknown_column"),
        (1, "consent_helth_data_date", "unknown_column"),
        (1, "alias", "missing_column"),
    }


def test_problems_name_the_column_as_the_file_writes_it(ewa):
    content = (
        "Pseudonim;Identyfikator;Zgoda udział data;Zgoda udział wersja\nKasia;1;32.09.2026;v1\n"
    )
    job = import_upload(kind="participants", file=upload("a.csv", content), by=ewa)
    assert [(p["row"], p["column"]) for p in job.problems] == [(2, "Zgoda udział data")]
