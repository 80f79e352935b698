"""MRNs come from a PostgreSQL sequence (patients.record.next_mrn), starting after the highest
"P" MRN already given. SQLite needs none: its registrations are serialised (BEGIN IMMEDIATE)."""

from django.db import migrations

SEQUENCE = "patients_mrn_seq"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS patients_mrn_seq START WITH 1 MINVALUE 1")
    # The next value follows the highest numeric "P" MRN (none: 1).
    schema_editor.execute(
        "SELECT setval(%s, COALESCE(MAX(substring(mrn FROM 2)::bigint), 0) + 1, false)"
        " FROM patients_patient WHERE mrn ~ '^P[0-9]+$'",
        [SEQUENCE],
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS patients_mrn_seq")


class Migration(migrations.Migration):
    dependencies = [("patients", "0010_visitnote_appointment_removed")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
