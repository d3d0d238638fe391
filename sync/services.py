"""Housekeeping of what sync keeps besides the rows (sync/models.py)."""

import datetime

from django.db.models import DateTimeField, ExpressionWrapper, Value
from django.db.models.functions import Now

from .changes import TOKEN_MAX_AGE
from .models import ScopeChange, Tombstone

# A tombstone's `created_at` is when the deleting transaction began (PostgreSQL's now()), and
# it matters to every token made before that transaction committed. A token is accepted for
# TOKEN_MAX_AGE; the margin covers a transaction that stays open across the cut-off (a week is
# far beyond any transaction Krąg runs: a report or an import takes minutes).
KEPT_FOR = TOKEN_MAX_AGE + datetime.timedelta(days=7)


def sync_records_purge() -> dict:
    """Forget tombstones and scope changes no token still accepted can ask about.

    Their times are the database's clock (written by triggers), so the cut-off is taken from
    that clock too, not from this process's."""
    cutoff = ExpressionWrapper(Now() - Value(KEPT_FOR), output_field=DateTimeField())
    tombstones, _ = Tombstone.objects.filter(created_at__lt=cutoff).delete()
    scope_changes, _ = ScopeChange.objects.filter(created_at__lt=cutoff).delete()
    return {"tombstones": tombstones, "scope_changes": scope_changes}
