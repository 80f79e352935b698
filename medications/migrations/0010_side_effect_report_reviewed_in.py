"""The visit notes that discussed a report, declared on SideEffectReport over the link table the
field had on VisitNote (patients/migrations/0007): same table, same columns (visitnote_id,
sideeffectreport_id), so this is state only."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("medications", "0009_prescription_event_visit_note_in_patients"),
        ("patients", "0007_visitnote_reviewed_reports_leave_state"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AddField(
                    model_name="sideeffectreport",
                    name="reviewed_in",
                    field=models.ManyToManyField(
                        blank=True,
                        db_table="appointments_visitnote_side_effects_reviewed",
                        related_name="side_effects_reviewed",
                        to="patients.visitnote",
                    ),
                ),
            ],
        ),
    ]
