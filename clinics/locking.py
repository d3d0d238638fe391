"""The one way a service changes an existing row (STYLE.md 12).

Inside the service's transaction the row is read again under a row lock, the caller's
precondition runs on that locked row (the API's If-Match: of two writes that carry the same
ETag exactly one finds it current), and the service then saves only the fields it changed.
A row read outside the lock is never written back whole: a reschedule racing a cancellation
must not write "scheduled" over "cancelled".
"""

from collections.abc import Callable
from typing import TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)

Precondition = Callable[[models.Model], None] | None


def lock_for_change(obj: M, precondition: Precondition = None) -> M:
    """`obj` re-read with SELECT … FOR UPDATE, after `precondition(locked)` accepted it.

    Call it inside the service's `transaction.atomic`; the lock lasts until that commits.
    """
    locked = type(obj)._base_manager.select_for_update().get(pk=obj.pk)
    if precondition is not None:
        precondition(locked)
    return locked


def changed_fields(*names: str) -> list[str]:
    """`update_fields` for a change of `names`: `updated_at` (auto_now) moves with them, since
    Django stamps an auto_now field only when it is named."""
    return sorted({*names, "updated_at"})
