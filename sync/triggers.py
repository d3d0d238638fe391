"""The triggers that keep change numbers, tombstones and scope changes (docs/sync.md).

In the database rather than in save() or signals: every path that writes a synced row —
services, `QuerySet.update()` (attendance/services/roster.py corrects a roster in one
statement), bulk inserts, renumbering, erasure, the admin, raw SQL — moves its change number,
and none can forget to.

PostgreSQL: a row's change number is the 64-bit id of the transaction that wrote it
(`pg_current_xact_id()`); sync/changes.py's `watermark()` holds tokens below the oldest
transaction of this database that is still running. SQLite (one writer at a time): a counter
incremented by each write, in commit order.
"""

# table -> (SQL of the row's institution id, SQL of its group id); `{r}` is NEW or OLD.
SYNCED_TABLES = {
    "clinics_institution": ("{r}.id", "NULL"),
    "clinics_site": ("{r}.institution_id", "NULL"),
    "clinics_room": ("(SELECT institution_id FROM clinics_site WHERE id = {r}.site_id)", "NULL"),
    "clinics_participant": ("{r}.institution_id", "NULL"),
    "group_sessions_supportgroup": ("{r}.institution_id", "{r}.id"),
    "group_sessions_session": ("{r}.institution_id", "{r}.group_id"),
    "group_sessions_sessionnote": (
        "(SELECT institution_id FROM group_sessions_session WHERE id = {r}.session_id)",
        "(SELECT group_id FROM group_sessions_session WHERE id = {r}.session_id)",
    ),
    "attendance_enrollment": ("{r}.institution_id", "{r}.group_id"),
    "attendance_consent": ("{r}.institution_id", "{r}.group_id"),
    "attendance_attendancerecord": (
        "{r}.institution_id",
        "(SELECT group_id FROM group_sessions_session WHERE id = {r}.session_id)",
    ),
}

# table -> (user id, institution id, group id) of whose view a change of the row changes.
SCOPE_TABLES = {
    "clinics_staffmembership": ("{r}.user_id", "{r}.institution_id", "NULL"),
    "group_sessions_groupfacilitator": (
        "{r}.user_id",
        "(SELECT institution_id FROM group_sessions_supportgroup WHERE id = {r}.group_id)",
        "{r}.group_id",
    ),
}
# A session's substitute reads that session's notes: a change of substitute changes two views.
SUBSTITUTE = ("{r}.substitute_facilitator_id", "{r}.institution_id", "{r}.group_id")

PG_CHANGE = "pg_current_xact_id()::text::bigint"


def _scope_insert(spec, row, change):
    user, institution, group = (part.format(r=row) for part in spec)
    return (
        "INSERT INTO sync_scopechange (user_id, institution_id, group_id, change_number) "
        f"SELECT {user}, {institution}, {group}, {change} "
        # No institution: the group went first (a flush); its rows leave by their tombstones.
        f"WHERE {user} IS NOT NULL AND {institution} IS NOT NULL;"
    )


def _tombstone_insert(table, spec, change):
    institution, group = (part.format(r="OLD") for part in spec)
    return (
        "INSERT INTO sync_tombstone (table_name, object_id, institution_id, group_id, "  # nosec B608  (the module's own table names, no input)
        f"change_number) VALUES ('{table}', OLD.id, {institution}, {group}, {change});"
    )


def postgresql_install() -> list[str]:
    sql = [
        "CREATE OR REPLACE FUNCTION sync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN NEW.change_number := {PG_CHANGE}; RETURN NEW; END $$;"
    ]
    for table, spec in SYNCED_TABLES.items():
        sql += [
            f"CREATE TRIGGER sync_stamp BEFORE INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION sync_stamp();",
            f"CREATE OR REPLACE FUNCTION sync_gone_{table}() RETURNS trigger LANGUAGE plpgsql "
            f"AS $$ BEGIN {_tombstone_insert(table, spec, PG_CHANGE)} RETURN OLD; END $$;",
            f"CREATE TRIGGER sync_gone AFTER DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION sync_gone_{table}();",
        ]
    for table, spec in SCOPE_TABLES.items():
        old, new = _scope_insert(spec, "OLD", PG_CHANGE), _scope_insert(spec, "NEW", PG_CHANGE)
        sql += [
            f"CREATE OR REPLACE FUNCTION sync_scope_{table}() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP <> 'INSERT' THEN {old} END IF; "
            f"IF TG_OP <> 'DELETE' THEN {new} END IF; RETURN NULL; END $$;",
            f"CREATE TRIGGER sync_scope AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION sync_scope_{table}();",
        ]
    old, new = (
        _scope_insert(SUBSTITUTE, "OLD", PG_CHANGE),
        _scope_insert(SUBSTITUTE, "NEW", PG_CHANGE),
    )
    sql += [
        "CREATE OR REPLACE FUNCTION sync_scope_substitute() RETURNS trigger LANGUAGE plpgsql "
        f"AS $$ BEGIN {old} {new} RETURN NULL; END $$;",
        "CREATE TRIGGER sync_scope_substitute AFTER UPDATE OF substitute_facilitator_id "
        "ON group_sessions_session FOR EACH ROW WHEN (OLD.substitute_facilitator_id IS "
        "DISTINCT FROM NEW.substitute_facilitator_id) "
        "EXECUTE FUNCTION sync_scope_substitute();",
    ]
    return sql


def postgresql_uninstall() -> list[str]:
    sql = []
    for table in SYNCED_TABLES:
        sql += [
            f"DROP TRIGGER IF EXISTS sync_stamp ON {table};",
            f"DROP TRIGGER IF EXISTS sync_gone ON {table};",
            f"DROP FUNCTION IF EXISTS sync_gone_{table}();",
        ]
    for table in SCOPE_TABLES:
        sql += [
            f"DROP TRIGGER IF EXISTS sync_scope ON {table};",
            f"DROP FUNCTION IF EXISTS sync_scope_{table}();",
        ]
    sql += [
        "DROP TRIGGER IF EXISTS sync_scope_substitute ON group_sessions_session;",
        "DROP FUNCTION IF EXISTS sync_scope_substitute();",
        "DROP FUNCTION IF EXISTS sync_stamp();",
    ]
    return sql


# SQLite: the clock's last row id is the change number. Recursive triggers are off (SQLite's
# default), so the UPDATE inside a trigger does not fire that trigger again.
SQLITE_TICK = "INSERT INTO sync_changeclock (id) VALUES (NULL);"
SQLITE_CHANGE = "last_insert_rowid()"
SQLITE_FORGET = "DELETE FROM sync_changeclock WHERE id < last_insert_rowid();"


def sqlite_install() -> list[str]:
    sql = []
    for table, spec in SYNCED_TABLES.items():
        for event in ("INSERT", "UPDATE"):
            sql.append(
                f"CREATE TRIGGER sync_stamp_{event.lower()}_{table} AFTER {event} ON {table} "  # nosec B608  (the module's own table names)
                f"FOR EACH ROW BEGIN {SQLITE_TICK} "
                f"UPDATE {table} SET change_number = {SQLITE_CHANGE} WHERE id = NEW.id; "
                f"{SQLITE_FORGET} END;"
            )
        sql.append(
            f"CREATE TRIGGER sync_gone_{table} AFTER DELETE ON {table} FOR EACH ROW BEGIN "
            f"{SQLITE_TICK} {_tombstone_insert(table, spec, SQLITE_CHANGE)} END;"
        )
    scopes = [(t, s, e) for t, s in SCOPE_TABLES.items() for e in ("INSERT", "UPDATE", "DELETE")]
    for table, spec, event in scopes:
        rows = {"INSERT": ["NEW"], "UPDATE": ["OLD", "NEW"], "DELETE": ["OLD"]}[event]
        body = " ".join(SQLITE_TICK + " " + _scope_insert(spec, r, SQLITE_CHANGE) for r in rows)
        sql.append(
            f"CREATE TRIGGER sync_scope_{event.lower()}_{table} AFTER {event} ON {table} "
            f"FOR EACH ROW BEGIN {body} END;"
        )
    body = " ".join(
        SQLITE_TICK + " " + _scope_insert(SUBSTITUTE, r, SQLITE_CHANGE) for r in ("OLD", "NEW")
    )
    sql.append(
        "CREATE TRIGGER sync_scope_substitute AFTER UPDATE OF substitute_facilitator_id ON "
        "group_sessions_session FOR EACH ROW WHEN OLD.substitute_facilitator_id IS NOT "
        f"NEW.substitute_facilitator_id BEGIN {body} END;"
    )
    return sql


def sqlite_uninstall() -> list[str]:
    names = [f"sync_stamp_{e}_{t}" for t in SYNCED_TABLES for e in ("insert", "update")]
    names += [f"sync_gone_{t}" for t in SYNCED_TABLES]
    names += [f"sync_scope_{e}_{t}" for t in SCOPE_TABLES for e in ("insert", "update", "delete")]
    names.append("sync_scope_substitute")
    return [f"DROP TRIGGER IF EXISTS {name};" for name in names]


def install(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": postgresql_install, "sqlite": sqlite_install}[vendor]()
    for statement in statements:
        schema_editor.execute(statement)


def uninstall(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": postgresql_uninstall, "sqlite": sqlite_uninstall}[vendor]()
    for statement in statements:
        schema_editor.execute(statement)
