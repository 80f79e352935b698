from django.db import migrations, models


def load(apps, schema_editor):
    from medications import formulary

    formulary.load(apps.get_model("medications", "Medication"))


class Migration(migrations.Migration):
    dependencies = [("medications", "0015_dose_plan_ended_note")]

    operations = [
        migrations.AddField(
            model_name="medication",
            name="hard_max_mg",
            field=models.DecimalField(blank=True, decimal_places=3, max_digits=9, null=True),
        ),
        migrations.AddField(
            model_name="medication",
            name="hard_max_basis",
            field=models.CharField(blank=True, max_length=300),
        ),
        # Reversing drops the fields with their values; the rows stay (prescriptions point at them).
        migrations.RunPython(load, migrations.RunPython.noop),
    ]
