"""Allergy moves to the medications app (medications 0012), beside the formulary it names and the
prescribing checks that read it. State only: the table keeps its name (patients_allergy)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0008_questionnaire_after_change"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="Allergy")],
        ),
    ]
