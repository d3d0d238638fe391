"""What every import shares: the header mapped to columns, the problems found so far, the
modes a file is run in, and the progress a page can show.

A file is run in one of three modes:
- CHECK: the rows' values and what they refer to, read in bulk (every upload);
- DRY_RUN: CHECK, then every row through the services, in a transaction rolled back at the
  end (uploads up to IMPORT_BACKGROUND_ROWS rows: the preview then says exactly what applying
  would say);
- WRITE: the same, committed only when not one row was refused.
"""

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _

from .columns import REQUIRED, fold, header_names
from .reading import Table, text_of


class Mode(enum.Enum):
    CHECK = "check"
    DRY_RUN = "dry_run"
    WRITE = "write"


@dataclass
class Problems:
    """Every problem found, by row and column; at most IMPORT_MAX_PROBLEMS are kept (the count
    is of all), so a file broken on every row does not fill the memory or the database."""

    labels: dict[str, str] = field(default_factory=dict)  # column -> header as in the file
    items: list[dict] = field(default_factory=list)
    count: int = 0

    def add(self, row: int, column: str, code: str, message: str) -> None:
        self.count += 1
        if len(self.items) < settings.IMPORT_MAX_PROBLEMS:
            label = self.labels.get(column, column)
            self.items.append({"row": row, "column": label, "code": code, "message": message})

    def add_form_errors(self, row: int, form) -> None:
        for column, errors in form.errors.as_data().items():
            for error in errors:
                message = error.message % error.params if error.params else error.message
                self.add(
                    row,
                    "" if column == "__all__" else column,
                    error.code or "invalid",
                    str(message),
                )

    def add_service_error(self, row: int, exc: Exception, columns: dict[str, str]) -> None:
        """A service's refusal, its fields named as the file's columns (`columns` maps a
        service's field to a column; an unmapped one is the row's as a whole)."""
        if isinstance(exc, PermissionDenied):
            self.add(row, "", "permission_denied", str(exc) or _("Your role does not allow this."))
            return
        if hasattr(exc, "error_dict"):
            for name, errors in exc.error_dict.items():
                for error in errors:
                    for message in error.messages:
                        self.add(row, columns.get(name, ""), error.code or "rejected", message)
        else:
            for message in exc.messages:
                self.add(row, columns.get("__all__", ""), "rejected", message)

    def __bool__(self) -> bool:
        return self.count > 0


def map_header(kind: str, header: list[str], problems: Problems) -> list[str | None]:
    """The column of each position of the header (None: a blank header cell, "": a column
    refused in row 1); unknown, repeated and missing columns are problems of row 1."""
    names = header_names(kind)
    columns: list[str | None] = []
    seen = set()
    for text in header:
        if not text:
            columns.append(None)
            continue
        column = names.get(fold(text))
        if column is None:
            column = ""
            problems.add(
                1,
                text,
                "unknown_column",
                _("Unknown column “%(name)s”. Known columns: %(known)s.")
                % {"name": text, "known": ", ".join(sorted(set(names.values())))},
            )
        elif column in seen:
            problems.add(1, text, "duplicate_column", _("This column appears twice."))
            column = ""
        else:
            seen.add(column)
            problems.labels[column] = text
        columns.append(column)
    for column in REQUIRED[kind]:
        if column not in seen:
            problems.add(
                1,
                column,
                "missing_column",
                _("The file has no column “%(name)s”.") % {"name": column},
            )
    return columns


def data_rows(
    table: Table, columns: list[str | None], problems: Problems
) -> Iterator[tuple[int, dict]]:
    """Each row as {column: text}; a formula in a cell is a problem, never its value."""
    for number, cells in table.rows:
        data = {}
        clean = True
        for position, cell in enumerate(cells):
            column = columns[position] if position < len(columns) else None
            if column == "":
                continue  # under a column row 1 refused already
            if column is None:
                if text_of(cell.value):
                    problems.add(number, "", "extra_cell", _("A value stands outside any column."))
                    clean = False
                continue
            if cell.is_formula:
                problems.add(
                    number,
                    column,
                    "formula",
                    _("A formula is not imported: type the value itself."),
                )
                clean = False
                continue
            data[column] = text_of(cell.value)
        yield number, (data if clean else None)


class RowImport:
    """What an import of either kind holds while it checks or writes one file."""

    def __init__(
        self,
        job,
        *,
        by,
        columns: list,
        problems: "Problems",
        mode: "Mode",
        progress: "Progress",
    ):
        self.job, self.by, self.problems, self.mode, self.progress = (
            job,
            by,
            problems,
            mode,
            progress,
        )
        self.institution = job.institution
        self.tz = self.institution.tzinfo
        self.columns = {c for c in columns if c}
        self.summary = Summary()
        self.now = timezone.now()


@dataclass
class Summary:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


class Progress:
    """Rows checked and written, in the cache where the page asking about the import reads it
    (the writing transaction is invisible to other connections until it commits)."""

    EVERY = 200

    def __init__(self, job_id: int):
        self.key = f"imports:{job_id}:progress"
        self.checked = 0
        self.written = 0

    def tick(self, *, checked: int = 0, written: int = 0) -> None:
        self.checked += checked
        self.written += written
        if (self.checked + self.written) % self.EVERY == 0:
            self.save()

    def save(self) -> None:
        cache.set(self.key, {"checked": self.checked, "written": self.written}, 24 * 3600)

    @staticmethod
    def read(job_id: int) -> dict:
        return cache.get(f"imports:{job_id}:progress") or {"checked": 0, "written": 0}
