from collections.abc import Iterable

from django.db import models

from .context import Origin, current_origin
from .models import AuditEvent


def _event_fields(*, actor, action: str, obj, institution, details) -> dict:
    """The fields of one event: who, from where, what, on which object."""
    origin = current_origin.get() or Origin()
    if institution is None and obj is not None:
        institution = getattr(obj, "institution", None)
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return dict(
        actor=actor if is_user else None,
        actor_username=actor.get_username() if is_user else "",
        institution=institution,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        ip_address=origin.ip_address,
        client=origin.client,
        details=details or {},
    )


def audit_event(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    institution=None,
    details: dict | None = None,
) -> AuditEvent:
    """One event of the audit log, not yet written, for `audit_record_many`.

    Its fields are filled as `audit_record` fills them, so an event reads the same whichever
    way it was written.
    """
    return AuditEvent(
        **_event_fields(
            actor=actor, action=action, obj=obj, institution=institution, details=details
        )
    )


def audit_record(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    institution=None,
    details: dict | None = None,
) -> AuditEvent:
    """Append one event to the audit log.

    Called inside the service's transaction, so a change that fails leaves no event behind.
    """
    return AuditEvent.objects.create(
        **_event_fields(
            actor=actor, action=action, obj=obj, institution=institution, details=details
        )
    )


def audit_record_many(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """Append events made by `audit_event` to the audit log in one insert, in their order.

    For a service that changes many rows at once (a roster's marks): one event per row, at the
    cost of one query. Called inside the service's transaction, like `audit_record`.
    """
    events = list(events)
    if any(event.pk is not None for event in events):
        # bulk_create would insert a second copy; an event is written once.
        raise TypeError("The audit log is append-only.")
    return AuditEvent.objects.bulk_create(events)


def listed_details(objs) -> dict:
    """The details of an event that records a read of many rows at once (a page of a list).

    The ids also go in as one ",12,13," string: a search for one row's events can then match
    them with a substring test, which both PostgreSQL and SQLite do on a JSON key (SQLite
    cannot test whether a JSON array contains a value).
    """
    ids = [obj.pk for obj in objs]
    return {"ids": ids, "id_list": "," + ",".join(str(pk) for pk in ids) + ","}
