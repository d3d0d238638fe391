"""What the API itself does: issue and revoke tokens, calendar feeds, forget old idempotency keys.

Domain writes are not here; the views call the domain apps' services for those.
"""

import datetime
import secrets

from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken

from audit.services import audit_record

from .models import CalendarFeedToken, IdempotencyKey

# Keys are kept at least this long, so a phone that syncs the next day is still answered once.
IDEMPOTENCY_RETENTION = datetime.timedelta(hours=48)


@transaction.atomic
def api_token_issue(*, user) -> tuple[AuthToken, str]:
    """Sign a user in from a device: a new token (only its hash is stored) that expires."""
    instance, token = AuthToken.objects.create(user=user)
    audit_record(actor=user, action="api.token_issued", details={"expiry": str(instance.expiry)})
    return instance, token


@transaction.atomic
def api_token_revoke(*, token: AuthToken, by) -> None:
    """Sign a device out: its token stops working at once."""
    token.delete()
    audit_record(actor=by, action="api.token_revoked")


@transaction.atomic
def calendar_feed_issue(*, by) -> str:
    """Give a user a new secret calendar address; earlier addresses stop working."""
    calendar_feed_revoke(by=by, quiet=True)
    secret = secrets.token_urlsafe(32)
    CalendarFeedToken.objects.create(
        user=by, digest=CalendarFeedToken.digest_of(secret), secret=secret
    )
    audit_record(actor=by, action="api.calendar_feed_issued")
    return secret


@transaction.atomic
def calendar_feed_revoke(*, by, quiet: bool = False) -> int:
    """Revoke every calendar address of a user; returns how many were live."""
    count = CalendarFeedToken.objects.filter(user=by, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not quiet:
        audit_record(actor=by, action="api.calendar_feed_revoked", details={"revoked": count})
    return count


def idempotency_keys_purge(*, now=None) -> int:
    """Forget stored answers older than the retention period (a periodic job)."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_RETENTION
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def api_tokens_purge_expired(*, now=None) -> int:
    """Delete expired device tokens (knox removes them only when their own user signs in)."""
    deleted, _ = AuthToken.objects.filter(expiry__lt=now or timezone.now()).delete()
    return deleted
