"""VisitNote.side_effects_reviewed is now declared on SideEffectReport (``reviewed_in``,
medications/migrations/0010), so the record does not point up at prescriptions. State only: the
link table appointments_visitnote_side_effects_reviewed and its rows stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0006_visitnote_moves_in"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.RemoveField(model_name="visitnote", name="side_effects_reviewed")],
        ),
    ]
