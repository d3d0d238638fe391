"""FHIR search, the parts every resource type shares: reading the query string, search values
(dates with prefixes, references, tokens, `_count`) and keyset pages.

A search reads its rows in primary-key order, `_count` + 1 at a time after the cursor of the
previous page (`WHERE pk > cursor ORDER BY pk LIMIT n`): no OFFSET, no COUNT, so the
thousandth page costs what the first does (SPEC.md "Sync: the app's offline copy"). A resource
type made of two tables (Encounter: sessions, then attendance records) reads them one after the
other; its cursor names the table.
"""

import datetime
import re
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from .outcome import FhirError

DEFAULT_COUNT = 50
MAX_COUNT = 200
# Parameters about the answer, not the rows: known to every search (FHIR "result parameters"
# and the `_format` of the HTTP interface). `_cursor` is ours: it is only ever in a next link.
RESULT_PARAMETERS = {"_count", "_cursor", "_format", "_pretty"}
JSON_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir"}

DATE_PATTERN = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
DATE_PREFIXES = ("eq", "gt", "lt", "ge", "le")
CURSOR_PATTERN = re.compile(r"^(?P<stream>[a-z]?)(?P<after>\d{1,18})$")


def invalid(text) -> FhirError:
    return FhirError(400, "invalid", text)


@dataclass
class Query:
    """A search request as read: the parameters this type supports, in their order (each
    occurrence of a name is ANDed, the comma-separated values within one are ORed)."""

    parameters: list[tuple[str, list[str]]] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    cursor: tuple[str, int] | None = None
    includes: list[str] = field(default_factory=list)  # `_include` values this type serves


def read_query(
    query_dict, supported: set[str], *, strict: bool, includes: tuple[str, ...] = ()
) -> Query:
    """The supported parameters of a search; what FHIR says of the rest.

    An unknown parameter is ignored (FHIR's lenient handling, the default) or refused with 400
    under `Prefer: handling=strict`. A modifier or a prefix we do not support is always refused:
    FHIR says a server SHALL reject those rather than return more rows than were asked for.
    """
    query = Query()
    for name, values in query_dict.lists():
        base, _sep, modifier = name.partition(":")
        if base in RESULT_PARAMETERS:
            _read_result_parameter(query, base, values[-1])
            continue
        if name == "_include":
            for value in values:
                if value in includes:
                    query.includes.append(value)
                elif strict:
                    raise FhirError(
                        400,
                        "not-supported",
                        _("_include=%(value)s is not supported here.") % {"value": value},
                    )
            continue
        if base not in supported:
            if strict:
                raise FhirError(
                    400,
                    "not-supported",
                    _("The search parameter “%(name)s” is not supported here.") % {"name": name},
                )
            continue
        if modifier:
            raise FhirError(
                400,
                "not-supported",
                _("The modifier “:%(modifier)s” is not supported.") % {"modifier": modifier},
            )
        for value in values:
            parts = [part for part in value.split(",") if part.strip()]
            if not parts:
                raise invalid(_("The search parameter “%(name)s” has no value.") % {"name": name})
            query.parameters.append((base, [part.strip() for part in parts]))
    return query


def _read_result_parameter(query: Query, name: str, value: str) -> None:
    if name == "_count":
        if not value.isdigit() or int(value) < 1:
            raise invalid(_("_count must be a whole number of at least 1."))
        # FHIR lets a server return fewer rows than asked for; never more.
        query.count = min(int(value), MAX_COUNT)
    elif name == "_cursor":
        match = CURSOR_PATTERN.match(value)
        if not match:
            raise invalid(_("This page link is not valid; start the search again."))
        query.cursor = (match["stream"], int(match["after"]))
    # _format and _pretty change nothing: the view refused any format but JSON already.


def query_string(query: Query) -> list[tuple[str, str]]:
    """The parameters actually used, as FHIR asks the self link to carry them."""
    pairs = [(name, ",".join(values)) for name, values in query.parameters]
    pairs += [("_include", value) for value in query.includes]
    if query.count != DEFAULT_COUNT:
        pairs.append(("_count", str(query.count)))
    return pairs


# --- Values -----------------------------------------------------------------------------------


def date_range(text: str) -> tuple[datetime.datetime, datetime.datetime]:
    """The interval [start, end) a FHIR date or dateTime search value stands for, by its
    precision: 2026-12 is the whole month; a value without a zone is in the server's zone."""
    match = DATE_PATTERN.match(text)
    if not match:
        raise invalid(_("“%(value)s” is not a FHIR date or dateTime.") % {"value": text})
    parts = match.groupdict()
    zone = parts["zone"]
    if zone is None:
        tzinfo = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    elif zone == "Z":
        tzinfo = datetime.UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        tzinfo = datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))
    try:
        year = int(parts["year"])
        if parts["month"] is None:
            start = datetime.datetime(year, 1, 1, tzinfo=tzinfo)
            return start, start.replace(year=year + 1)
        month = int(parts["month"])
        if parts["day"] is None:
            start = datetime.datetime(year, month, 1, tzinfo=tzinfo)
            following = (year + 1, 1) if month == 12 else (year, month + 1)
            return start, start.replace(year=following[0], month=following[1])
        day = datetime.date(year, month, int(parts["day"]))
        if parts["hour"] is None:
            start = datetime.datetime.combine(day, datetime.time(), tzinfo=tzinfo)
            end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time())
            return start, end.replace(tzinfo=tzinfo)
        start = datetime.datetime.combine(
            day, datetime.time(int(parts["hour"]), int(parts["minute"])), tzinfo=tzinfo
        )
        if parts["second"] is None:
            return start, start + datetime.timedelta(minutes=1)
        start = start.replace(second=int(parts["second"]))
        if parts["fraction"] is None:
            return start, start + datetime.timedelta(seconds=1)
        digits = parts["fraction"][:6]
        start = start.replace(microsecond=int(digits.ljust(6, "0")))
        return start, start + datetime.timedelta(microseconds=10 ** (6 - len(digits)))
    except ValueError as exc:
        raise invalid(_("“%(value)s” is not a valid date.") % {"value": text}) from exc


def filter_date(queryset: QuerySet, field_name: str, values: list[str]) -> QuerySet:
    """`field_name` against one date search (values ORed), each with an optional prefix."""
    condition = None
    for value in values:
        prefix, text = ("eq", value)
        if value[:2].isalpha() and value[2:3].isdigit():
            prefix, text = value[:2], value[2:]
        if prefix not in DATE_PREFIXES:
            raise FhirError(
                400,
                "not-supported",
                _("The prefix “%(prefix)s” is not supported (eq, gt, lt, ge, le).")
                % {"prefix": prefix},
            )
        start, end = date_range(text)
        bounds = {
            "eq": {f"{field_name}__gte": start, f"{field_name}__lt": end},
            "gt": {f"{field_name}__gte": end},
            "ge": {f"{field_name}__gte": start},
            "lt": {f"{field_name}__lt": start},
            "le": {f"{field_name}__lt": end},
        }[prefix]
        condition = Q(**bounds) if condition is None else condition | Q(**bounds)
    return queryset.filter(condition)


def reference_ids(values: list[str], resource_type: str) -> list[str]:
    """The ids that reference search values name for `resource_type`: `12`, `Patient/12` and
    an absolute `…/Patient/12` all name Patient 12; a reference to another type names none."""
    ids = []
    for value in values:
        segments = value.rstrip("/").split("/")
        if len(segments) == 1:
            ids.append(segments[0])
        elif segments[-2] == resource_type:
            ids.append(segments[-1])
    return ids


def numeric_ids(ids: list[str]) -> list[int]:
    """Ids that can be a row's primary key; any other id names nothing (an empty result)."""
    return [int(value) for value in ids if value.isdigit() and len(value) <= 18]


def token_codes(values: list[str]) -> list[str]:
    """`system|code` or `code`: the codes (the systems of our codes are fixed per element)."""
    return [value.rpartition("|")[2] for value in values]


# --- Pages ------------------------------------------------------------------------------------


@dataclass
class Stream:
    """One table a search reads, in primary-key order. `key` names it in cursors."""

    key: str
    queryset: QuerySet | None  # None: the search's parameters exclude this table


def read_page(streams: list[Stream], query: Query) -> tuple[list[tuple[str, object]], str | None]:
    """The rows of one page (with the key of their stream) and the cursor of the next page.

    One query per stream at most, whatever the page size and however deep the page.
    """
    want = query.count + 1
    rows: list[tuple[str, object]] = []
    keys = [stream.key for stream in streams]
    start = 0
    after = None
    if query.cursor is not None:
        stream_key, after = query.cursor
        if stream_key not in keys:
            raise invalid(_("This page link is not valid; start the search again."))
        start = keys.index(stream_key)
    for index, stream in enumerate(streams[start:], start):
        if stream.queryset is None:
            continue
        queryset = stream.queryset
        if after is not None and index == start:
            queryset = queryset.filter(pk__gt=after)
        found = list(queryset.order_by("pk")[: want - len(rows)])
        rows.extend((stream.key, obj) for obj in found)
        if len(rows) >= want:
            break
    if len(rows) <= query.count:
        return rows, None
    rows = rows[: query.count]
    last_key, last = rows[-1]
    return rows, f"{last_key}{last.pk}"
