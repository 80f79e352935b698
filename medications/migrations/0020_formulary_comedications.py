from django.db import migrations


def load(apps, schema_editor):
    from medications import formulary

    # Renames "selegiline transdermal" to "selegiline" (formulary.RENAMED), loads comedications.json
    # and the new maxima and brands.
    formulary.load(apps.get_model("medications", "Medication"))


class Migration(migrations.Migration):
    dependencies = [("medications", "0019_side_effect_report_language")]

    # Reversing keeps the rows: prescriptions point at them (PROTECT).
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
