"""Extended statistics on Appointment (status, note_signed), PostgreSQL only.

The psychiatrist home's "completed visit, note missing" list (clinic.dashboard.unnoted_visits)
reads the partial index appt_unnoted (status = completed AND NOT note_signed). Without these
statistics the planner multiplies the two columns' frequencies as if independent and expects
~1,600 of a psychiatrist's rows in the index, where nearly every completed visit has its signed
note and the index holds ~0: it then chose a parallel bitmap scan and a sort, 4.4 ms a home on the
bench data (20,000 patients, 400,000 appointments), instead of reading the index in order, 0.02 ms.
"""

from django.db import migrations

CREATE = (
    "CREATE STATISTICS IF NOT EXISTS appt_status_note_signed (mcv, dependencies) "
    "ON status, note_signed FROM appointments_appointment"
)
DROP = "DROP STATISTICS IF EXISTS appt_status_note_signed"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)
        schema_editor.execute("ANALYZE appointments_appointment")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0012_copy_visit_note_links"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
