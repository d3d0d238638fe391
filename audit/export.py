"""The audit log as CSV, for an institution admin's export (UI and API)."""

import csv
from collections.abc import Iterable, Iterator

from .models import AuditEvent

COLUMNS = [
    "id",
    "created_at",
    "institution",
    "actor",
    "action",
    "object_type",
    "object_id",
    "ip_address",
    "client",
    "details",
]


class _Echo:
    def write(self, value):
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ is a formula to a spreadsheet: keep it text (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(events: Iterable[AuditEvent]) -> Iterator[str]:
    import json

    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for event in events:
        yield writer.writerow(
            [
                _cell(v)
                for v in (
                    event.pk,
                    event.created_at.isoformat(),
                    event.institution_id or "",
                    event.actor_username,
                    event.action,
                    event.object_type,
                    event.object_id,
                    event.ip_address,
                    event.client,
                    json.dumps(event.details, ensure_ascii=False, sort_keys=True),
                )
            ]
        )
