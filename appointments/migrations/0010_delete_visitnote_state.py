"""VisitNote now lives in the patients app (patients/migrations/0006); its table stays. State only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0009_visitnote_leaves_state"),
        ("medications", "0009_prescription_event_visit_note_in_patients"),
        ("patients", "0006_visitnote_moves_in"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[], state_operations=[migrations.DeleteModel(name="VisitNote")]
        ),
    ]
