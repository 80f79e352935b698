from django.db import migrations


def load(apps, schema_editor):
    from medications import formulary

    formulary.load(apps.get_model("medications", "Medication"))


class Migration(migrations.Migration):
    dependencies = [("medications", "0002_initial")]

    # Reversing keeps the rows: prescriptions point at them (PROTECT).
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
