"""Allergy moves in from the patients app (patients 0009), so the record no longer points up at
the formulary. State only: the table keeps its name (patients_allergy), no row moves. The content
type follows the model, so the Django admin's permissions stay with it; audit rows written before
keep "patients.Allergy" as object_type (append-only), those written after say
"medications.Allergy" for the same ids."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    _rename_content_type(apps, "patients", "medications")


def move_content_type_back(apps, schema_editor):
    _rename_content_type(apps, "medications", "patients")


def _rename_content_type(apps, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    if ContentType.objects.filter(app_label=new, model="allergy").exists():
        return  # a fresh database: post_migrate made the new one, and the old never existed
    ContentType.objects.filter(app_label=old, model="allergy").update(app_label=new)


class Migration(migrations.Migration):
    dependencies = [
        ("medications", "0011_questionnaire_after_change"),
        ("patients", "0009_allergy_moves"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Allergy",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "drug_class",
                            models.CharField(
                                blank=True, help_text="Allergy to a whole class, e.g. 'ssri' or 'nsaid'.", max_length=40
                            ),
                        ),
                        ("substance", models.CharField(help_text="As the patient describes it.", max_length=150)),
                        ("reaction", models.CharField(blank=True, max_length=200)),
                        (
                            "severity",
                            models.CharField(
                                choices=[
                                    ("mild", "Mild"),
                                    ("moderate", "Moderate"),
                                    ("severe", "Severe"),
                                    ("anaphylaxis", "Anaphylaxis"),
                                ],
                                default="moderate",
                                max_length=20,
                            ),
                        ),
                        ("is_active", models.BooleanField(default=True)),
                        ("recorded_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        (
                            "medication",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="medications.medication",
                            ),
                        ),
                        (
                            "patient",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="allergies",
                                to="patients.patient",
                            ),
                        ),
                        (
                            "recorded_by",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "allergies",
                        "db_table": "patients_allergy",
                        "ordering": ["substance"],
                    },
                ),
            ],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
