"""The dates the clinic metrics' caseload counts, recorded on the patient (issue 24):
last_measured_at (from now on recorded by patients.questionnaires.submit) is filled here from the
responses already stored, the latest PHQ-9 or GAD-7 of each patient. lab_overdue_from and
review_overdue_from are taken from the work list by medications 0025 (DueEntry is the
medications app's)."""

from django.db import migrations, models
from django.db.models import Max, OuterRef, Subquery


def backfill(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    QuestionnaireResponse = apps.get_model("patients", "QuestionnaireResponse")
    latest = (
        QuestionnaireResponse.objects.filter(patient=OuterRef("pk"), instrument__in=("phq9", "gad7"))
        .values("patient")
        .annotate(at=Max("submitted_at"))
        .values("at")
    )
    Patient.objects.update(last_measured_at=Subquery(latest))


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0016_i22i18n_preferred_language"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="last_measured_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="patient",
            name="lab_overdue_from",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="patient",
            name="review_overdue_from",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="patient",
            index=models.Index(
                condition=models.Q(("is_active", True)),
                fields=["primary_psychiatrist"],
                include=("last_measured_at", "lab_overdue_from", "review_overdue_from"),
                name="patient_active_caseload",
            ),
        ),
    ]
