"""Pages of the audit log by cursor, newest first: the thousandth page costs what the first does.

A page is the `size` events before (older than) or after (newer than) a cursor, the position
of an event in the log's order `(created_at, id)`. PostgreSQL walks the index on
`(institution, created_at, id)` from the cursor and stops after `size + 1` rows; an OFFSET
would read and throw away every row before the page, and a page count would count the whole
log (a year of a large hospital is millions of events). So the log offers "older" and
"newer", never "page 7 of 40,000". The staff UI's audit page and the API's audit-events/
share this.
"""

import base64
import binascii
import datetime
from dataclasses import dataclass

from django.db.models import QuerySet


class BadCursor(ValueError):
    """A cursor that this module did not make (edited, truncated, from another list)."""


def cursor_of(event) -> str:
    raw = f"{event.created_at.isoformat()}|{event.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def position(cursor: str) -> tuple[datetime.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, pk = raw.split("|")
        at = datetime.datetime.fromisoformat(when)
        if at.tzinfo is None:
            raise ValueError
        return at, int(pk)
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise BadCursor(cursor) from exc


@dataclass
class Page:
    object_list: list
    older: str | None  # the cursor of the next page back in time, if there is one
    newer: str | None  # the cursor of the page before this one, if this is not the newest


def page_of(events: QuerySet, *, size: int, older: str | None = None, newer: str | None = None):
    """The `size` events right before `older` (or right after `newer`), newest first.

    Raises BadCursor for a cursor it cannot read.
    """
    if newer:
        at, pk = position(newer)
        rows = list(
            events.filter(created_at__gte=at)
            .exclude(created_at=at, pk__lte=pk)
            .order_by("created_at", "pk")[: size + 1]
        )
        if len(rows) <= size:
            return page_of(events, size=size)  # back at the top: the newest page, full
        rows = rows[:size][::-1]
        return Page(object_list=rows, older=cursor_of(rows[-1]), newer=cursor_of(rows[0]))
    ordered = events.order_by("-created_at", "-pk")
    if older:
        at, pk = position(older)
        ordered = ordered.filter(created_at__lte=at).exclude(created_at=at, pk__gte=pk)
    rows = list(ordered[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    return Page(
        object_list=rows,
        older=cursor_of(rows[-1]) if rows and more_older else None,
        newer=cursor_of(rows[0]) if rows and older else None,
    )
