from django.db import migrations


def load_formulary(apps, schema_editor):
    from medications import formulary

    # The RxNorm codes confirmed from PharmGKB (issue 23) reach databases migrated before them: the
    # FHIR API sends only codes whose row says rxnorm_verified.
    formulary.load(apps.get_model("medications", "Medication"))


class Migration(migrations.Migration):
    dependencies = [("medications", "0024_i24mperf_metrics_indexes")]

    operations = [migrations.RunPython(load_formulary, migrations.RunPython.noop)]
