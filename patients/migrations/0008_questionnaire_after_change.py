"""QuestionnaireAssignment.prescription_event leaves: medications 0011 copied each link to
medications.QuestionnaireAfterChange."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0007_visitnote_reviewed_reports_leave_state"),
        ("medications", "0011_questionnaire_after_change"),
    ]

    operations = [
        migrations.RemoveField(model_name="questionnaireassignment", name="prescription_event"),
    ]
