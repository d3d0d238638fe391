from django.db import models

from .context import Origin, current_origin
from .models import AuditEvent


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
    origin = current_origin.get() or Origin()
    if institution is None and obj is not None:
        institution = getattr(obj, "institution", None)
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
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
