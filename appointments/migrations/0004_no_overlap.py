"""No double booking, enforced by PostgreSQL itself: two active appointments of one
psychiatrist (or of one patient) can never overlap, even under concurrent requests.

SQLite has no exclusion constraints; there appointments/booking.py checks inside its
transaction (SQLite serialises writers, see DATABASES OPTIONS transaction_mode).
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

ACTIVE = "status IN ('scheduled', 'confirmed', 'checked_in', 'completed')"

FORWARD = [
    f"""ALTER TABLE appointments_appointment ADD CONSTRAINT appointment_no_psychiatrist_overlap
        EXCLUDE USING gist (psychiatrist_id WITH =, tstzrange(start, "end", '[)') WITH &&) WHERE ({ACTIVE})""",
    f"""ALTER TABLE appointments_appointment ADD CONSTRAINT appointment_no_patient_overlap
        EXCLUDE USING gist (patient_id WITH =, tstzrange(start, "end", '[)') WITH &&) WHERE ({ACTIVE})""",
]
BACKWARD = [
    "ALTER TABLE appointments_appointment DROP CONSTRAINT appointment_no_psychiatrist_overlap",
    "ALTER TABLE appointments_appointment DROP CONSTRAINT appointment_no_patient_overlap",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("appointments", "0003_scheduling")]

    # BtreeGistExtension is a no-op on databases other than PostgreSQL.
    operations = [BtreeGistExtension(), migrations.RunPython(forwards, backwards)]
