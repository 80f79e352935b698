"""The change a questionnaire was asked after is linked from the prescriptions' side
(QuestionnaireAfterChange), so the record's QuestionnaireAssignment no longer points up at
medications. The links are copied here; patients 0008 then drops the old column. Reversible."""

import django.db.models.deletion
from django.db import migrations, models

COPY = """
INSERT INTO medications_questionnaireafterchange (event_id, assignment_id)
SELECT prescription_event_id, id FROM patients_questionnaireassignment
WHERE prescription_event_id IS NOT NULL
"""
# Backwards patients 0008 has restored the (empty) column first.
COPY_BACK = """
UPDATE patients_questionnaireassignment
SET prescription_event_id = (
    SELECT link.event_id FROM medications_questionnaireafterchange link
    WHERE link.assignment_id = patients_questionnaireassignment.id
)
WHERE id IN (SELECT assignment_id FROM medications_questionnaireafterchange)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("medications", "0010_side_effect_report_reviewed_in"),
        ("patients", "0007_visitnote_reviewed_reports_leave_state"),
    ]

    operations = [
        migrations.CreateModel(
            name="QuestionnaireAfterChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "assignment",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="asked_after",
                        to="patients.questionnaireassignment",
                    ),
                ),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="questionnaires_asked",
                        to="medications.prescriptionevent",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(COPY, COPY_BACK),
    ]
