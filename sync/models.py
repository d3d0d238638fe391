"""What the mobile app's sync needs beyond the rows themselves (docs/sync.md).

Every synced row carries a `change_number` that the database moves on each insert and update
(triggers installed by sync/migrations/0001_initial.py, so `QuerySet.update()`, bulk writes and
raw SQL move it too). What a row's own columns cannot say is kept here, written by triggers as
well: the rows that were deleted (`Tombstone`), and the moments a user's view changed because
a membership or a facilitator role changed (`ScopeChange`). Nothing here is written by Python.
"""

from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


class Tombstone(models.Model):
    """A synced row that was deleted: the next sync of its list answers it as removed."""

    table_name = models.CharField(max_length=63)
    object_id = models.BigIntegerField()
    # Plain numbers, not foreign keys: the tombstone outlives the rows it names.
    institution_id = models.BigIntegerField(null=True)
    group_id = models.BigIntegerField(null=True)
    change_number = models.BigIntegerField()
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = _("tombstone")
        verbose_name_plural = _("tombstones")
        indexes = [models.Index(fields=["table_name", "change_number"])]

    def __str__(self):
        return f"{self.table_name} {self.object_id} removed"


class ScopeChange(models.Model):
    """A user's view of an institution (group: of one group) changed: a membership came, went
    or changed role, a facilitator was added or taken off, a substitute changed. The user's
    next sync sends every row of that scope again: in full if visible, else as removed."""

    user_id = models.BigIntegerField()
    institution_id = models.BigIntegerField()
    group_id = models.BigIntegerField(null=True)
    change_number = models.BigIntegerField()
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = _("scope change")
        verbose_name_plural = _("scope changes")
        indexes = [models.Index(fields=["user_id", "change_number"])]

    def __str__(self):
        return f"view of user {self.user_id} changed"


class ChangeClock(models.Model):
    """SQLite only: the counter change numbers come from (one row is kept, the last).

    PostgreSQL uses transaction ids instead (docs/sync.md says why)."""

    class Meta:
        verbose_name = _("change clock")
        verbose_name_plural = _("change clock")

    def __str__(self):
        return str(self.pk)
