"""PrescriptionEvent.visit_note points at patients.VisitNote (moved from appointments, same table).
State only: the column and its foreign key constraint are unchanged."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("medications", "0008_due_patient_single_index"),
        ("patients", "0006_visitnote_moves_in"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="prescriptionevent",
                    name="visit_note",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="medication_events",
                        to="patients.visitnote",
                    ),
                ),
            ],
        ),
    ]
