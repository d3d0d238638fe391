"""Reading an uploaded table as a stream of rows: CSV (UTF-8, UTF-8 with BOM or Windows-1250,
comma, semicolon or tab) or XLSX (openpyxl in read-only mode, first sheet). Nothing in a file
is ever evaluated: a formula cell is reported as a problem, never computed.

Rows are numbered as the spreadsheet numbers them: the header is row 1.
"""

import codecs
import csv
import datetime
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.translation import gettext as _

CHUNK = 1 << 16


class FileProblem(Exception):
    """The file as a whole cannot be read; `code` is stable, the message translated."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Cell:
    value: object
    is_formula: bool = False


def detect_format(head: bytes, filename: str) -> str:
    """ "csv" or "xlsx" by the file's content (its name must agree); anything else is refused."""
    name = filename.lower()
    if head.startswith(b"PK\x03\x04"):
        if not name.endswith((".xlsx", ".xlsm")):
            raise FileProblem("file_type", _("This is not a CSV or XLSX file."))
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(
            "file_type",
            _("Old Excel files (.xls) cannot be read: save the sheet as XLSX or CSV."),
        )
    if not name.endswith((".csv", ".txt")) or head.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8")):
        raise FileProblem("file_type", _("This is not a CSV or XLSX file."))
    return "csv"


def detect_encoding(handle) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as such, else Windows-1250 when
    it holds nothing that encoding lacks; UTF-16 and binary files are refused."""
    handle.seek(0)
    head = handle.read(4)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem(
            "encoding", _("The file is in UTF-16: save it as CSV in UTF-8 or Windows-1250.")
        )
    handle.seek(0)
    utf8 = codecs.getincrementaldecoder("utf-8")()
    cp1250 = codecs.getincrementaldecoder("cp1250")()
    utf8_ok, cp1250_ok = True, True
    while chunk := handle.read(CHUNK):
        if b"\x00" in chunk:
            raise FileProblem(
                "encoding", _("The file is not text: save it as CSV in UTF-8 or Windows-1250.")
            )
        if utf8_ok:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                utf8_ok = False
        if cp1250_ok and not utf8_ok:
            try:
                cp1250.decode(chunk)
            except UnicodeDecodeError:
                cp1250_ok = False
        if not utf8_ok and not cp1250_ok:
            break
    handle.seek(0)
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    if utf8_ok:
        return "utf-8-sig"  # reads a BOM if there is one, plain UTF-8 otherwise
    if cp1250_ok:
        # A file that was not UTF-8 from its first byte: read it again from the start.
        handle.seek(0)
        try:
            codecs.getincrementaldecoder("cp1250")().decode(handle.read(), final=True)
        except UnicodeDecodeError:
            cp1250_ok = False
        handle.seek(0)
    if cp1250_ok:
        return "cp1250"
    raise FileProblem(
        "encoding",
        _("The file's encoding is neither UTF-8 nor Windows-1250: save it as CSV in UTF-8."),
    )


def _csv_rows(handle, encoding: str) -> Iterator[list[Cell]]:
    text = io.TextIOWrapper(handle, encoding=encoding, newline="")
    try:
        sample = text.read(CHUNK)
        text.seek(0)
        try:
            # Only the separator is guessed (from the header line); quoting is Excel's.
            sniffed = csv.Sniffer().sniff(sample.split("\n", 1)[0] or sample, delimiters=",;\t")
            delimiter = sniffed.delimiter
        except csv.Error:
            delimiter = ","
        for values in csv.reader(text, csv.excel, delimiter=delimiter):
            # A CSV cell is text; one that begins with "=" is a formula a spreadsheet would run.
            yield [Cell(v, is_formula=v.startswith("=")) for v in values]
    finally:
        text.detach()  # the upload stays open for the next pass


def _xlsx_rows(handle) -> Iterator[list[Cell]]:
    from openpyxl import load_workbook

    try:
        # read_only streams the sheet; data_only=False keeps a formula as its text (never
        # its cached result), so it can be refused. openpyxl parses with defusedxml.
        workbook = load_workbook(handle, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileProblem("file_type", _("The XLSX file cannot be read.")) from exc
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows():
            yield [
                Cell(getattr(c, "value", None), getattr(c, "data_type", None) == "f") for c in row
            ]
    finally:
        workbook.close()


def text_of(value) -> str:
    """A cell's value as the text a form field parses."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass
class Table:
    """The header (as written in the file) and a stream of (row number, cells)."""

    header: list[str]
    rows: Iterator[tuple[int, list[Cell]]]


def open_table(handle, fmt: str, encoding: str = "") -> Table:
    """Read the header of a table and return it with the stream of the following rows.
    Blank rows are skipped; a file without a header is empty."""
    raw = _xlsx_rows(handle) if fmt == "xlsx" else _csv_rows(handle, encoding)
    try:
        numbered = enumerate(raw, start=1)
        for _number, cells in numbered:
            if any(text_of(c.value) for c in cells):
                header = [text_of(c.value) for c in cells]
                break
        else:
            raise FileProblem("empty", _("The file is empty."))
    except csv.Error as exc:
        raise FileProblem(
            "file_type", _("The CSV file cannot be read: %(error)s") % {"error": exc}
        ) from exc

    def rows():
        try:
            for number, cells in numbered:
                if any(text_of(c.value) for c in cells):
                    yield number, cells
        except csv.Error as exc:
            raise FileProblem(
                "file_type", _("The CSV file cannot be read: %(error)s") % {"error": exc}
            ) from exc

    while header and not header[-1]:
        header.pop()
    return Table(header=header, rows=rows())
