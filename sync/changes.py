"""Where a sync may safely resume: the watermark below every change not yet committed.

A token made from `watermark()` promises: every change with a number below it was committed
before the token was made, so a later sync asking for `change_number >= token` cannot miss
one. docs/sync.md has the argument.
"""

import datetime

from django.db import connection

# A sync token is accepted this long after it was made (SPEC.md: at least 30 days); what a
# token sync reads besides the rows (tombstones, scope changes) is kept longer (sync/services.py).
TOKEN_MAX_AGE = datetime.timedelta(days=90)

# PostgreSQL: the lowest transaction id still running in *this* database, or (none running)
# the next id to be handed out. `pg_current_snapshot()` is cluster-wide, so transactions of
# other databases on the same server would hold the watermark back for nothing; they are left
# out by their backend's `backend_xid`, which only ever names another database's transaction
# (a backend stays in its database). A transaction that pg_stat_activity does not show (other
# users' backends without pg_read_all_stats, prepared transactions) is kept: that is only
# cautious.
POSTGRESQL_WATERMARK = """
WITH snap AS (SELECT pg_current_snapshot() AS s)
SELECT LEAST(
    COALESCE(
        (SELECT min(x::text::bigint) FROM snap, pg_snapshot_xip(snap.s) AS x
         WHERE (x::text::bigint % 4294967296) NOT IN (
             SELECT backend_xid::text::bigint FROM pg_stat_activity
             WHERE datname IS DISTINCT FROM current_database() AND backend_xid IS NOT NULL)),
        (SELECT pg_snapshot_xmax(snap.s)::text::bigint FROM snap)),
    pg_current_xact_id_if_assigned()::text::bigint)
"""
# SQLite has one writer at a time and numbers its writes in commit order: the next number.
SQLITE_WATERMARK = """
SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'sync_changeclock'), 0) + 1
"""


def watermark() -> int:
    """The lowest change number that may still be committed after this call."""
    sql = POSTGRESQL_WATERMARK if connection.vendor == "postgresql" else SQLITE_WATERMARK
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])
