"""Audit hardening: hash-chain the audit rows and, on PostgreSQL, refuse UPDATE/DELETE.

Existing rows are chained in id order before the trigger is installed. The trigger is
statement-level on UPDATE and DELETE only: TRUNCATE (Django's flush between
transactional tests) is not affected; the production role should not hold TRUNCATE.
"""

from django.db import migrations, models

BATCH = 1000

POSTGRES_INSTALL = """
CREATE OR REPLACE FUNCTION clinic_audit_chain_head() RETURNS varchar
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- Serialise appends until the caller's transaction ends. VOLATILE: the SELECT
    -- below takes a fresh snapshot after the lock, so it sees the last committed row.
    PERFORM pg_advisory_xact_lock(hashtext('clinic_auditevent_chain'));
    RETURN (SELECT row_hash FROM clinic_auditevent ORDER BY id DESC LIMIT 1);
END
$$;

CREATE OR REPLACE FUNCTION clinic_auditevent_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'clinic_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER clinic_auditevent_append_only
    BEFORE UPDATE OR DELETE ON clinic_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION clinic_auditevent_refuse_change();
"""

POSTGRES_REMOVE = """
DROP TRIGGER IF EXISTS clinic_auditevent_append_only ON clinic_auditevent;
DROP FUNCTION IF EXISTS clinic_auditevent_refuse_change();
DROP FUNCTION IF EXISTS clinic_audit_chain_head();
"""


def chain_existing_rows(apps, schema_editor):
    from clinic.audit import GENESIS, chain_hash

    AuditEvent = apps.get_model("clinic", "AuditEvent")
    rows = AuditEvent.objects.using(schema_editor.connection.alias).order_by("id")
    prev, last_id = GENESIS, 0
    while batch := list(rows.filter(id__gt=last_id)[:BATCH]):
        for event in batch:
            event.prev_hash = prev
            event.row_hash = prev = chain_hash(event)
        AuditEvent.objects.using(schema_editor.connection.alias).bulk_update(batch, ["prev_hash", "row_hash"])
        last_id = batch[-1].id


def install_postgres_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_INSTALL, params=None)


def remove_postgres_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_REMOVE, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0005_alerts"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="row_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_rows, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(fields=("prev_hash",), name="audit_chain_no_fork"),
        ),
        migrations.RunPython(install_postgres_guards, remove_postgres_guards, elidable=False),
    ]
