"""The audit log is append-only in the database too: on PostgreSQL a trigger refuses every
UPDATE and DELETE of a row, whoever sends it (a shell, a script, a compromised process with the
application's credentials). INSERT stays, and so does TRUNCATE, which only the table's owner
may run (the test runner empties tables that way). SQLite has no such guard: skipped there."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION audit_auditevent_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_auditevent_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_auditevent_refuse_change();
"""
DROP = """
DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_auditevent_refuse_change();
"""


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # no placeholders: RAISE has its own %

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_audit_by_institution_and_time")]

    operations = [migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP))]
