"""VisitNote moves from the appointments app to the patients app, beside Evaluation and Addendum.

State only: the table keeps its name (appointments_visitnote, and its side-effect link table), so
no row moves. appointments 0009/0010 drop the old model from the state and medications 0009 points
PrescriptionEvent at the new one. The content type follows the model, so the Django admin's
permissions stay with it; audit rows written before keep "appointments.VisitNote" as object_type
(append-only: never rewritten), those written after say "patients.VisitNote" for the same ids.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    _rename_content_type(apps, "appointments", "patients")


def move_content_type_back(apps, schema_editor):
    _rename_content_type(apps, "patients", "appointments")


def _rename_content_type(apps, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    if ContentType.objects.filter(app_label=new, model="visitnote").exists():
        return  # a fresh database: post_migrate made the new one, and the old never existed
    ContentType.objects.filter(app_label=old, model="visitnote").update(app_label=new)


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0009_visitnote_leaves_state"),
        ("medications", "0008_due_patient_single_index"),
        ("patients", "0005_worsened_index"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="VisitNote",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[("draft", "Draft"), ("signed", "Signed")], default="draft", max_length=10
                            ),
                        ),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("signed_at", models.DateTimeField(blank=True, editable=False, null=True)),
                        (
                            "mental_status_exam",
                            models.TextField(
                                blank=True,
                                help_text="Appearance, behaviour, speech, mood and affect, thought process and content, perception, cognition, insight and judgement.",
                            ),
                        ),
                        (
                            "suicide_risk",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("low", "Low"),
                                    ("moderate", "Moderate"),
                                    ("high", "High"),
                                    ("imminent", "Imminent"),
                                ],
                                max_length=10,
                            ),
                        ),
                        (
                            "violence_risk",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("low", "Low"),
                                    ("moderate", "Moderate"),
                                    ("high", "High"),
                                    ("imminent", "Imminent"),
                                ],
                                max_length=10,
                            ),
                        ),
                        (
                            "risk_rationale",
                            models.TextField(
                                blank=True, help_text="Risk and protective factors, and why you chose these levels."
                            ),
                        ),
                        ("visit_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "modality",
                            models.CharField(
                                choices=[
                                    ("in_person", "In person"),
                                    ("telehealth", "Telehealth (video)"),
                                    ("phone", "Phone"),
                                ],
                                default="in_person",
                                max_length=12,
                            ),
                        ),
                        (
                            "interval_history",
                            models.TextField(
                                help_text="What has happened since the last visit.", verbose_name="interval history"
                            ),
                        ),
                        (
                            "adherence",
                            models.CharField(
                                choices=[
                                    ("as_prescribed", "Taking as prescribed"),
                                    ("missed_doses", "Missing some doses"),
                                    ("stopped", "Stopped one or more medicines"),
                                    ("not_applicable", "Not on medication"),
                                ],
                                default="as_prescribed",
                                max_length=20,
                            ),
                        ),
                        (
                            "adherence_note",
                            models.TextField(blank=True, help_text="Which doses were missed or stopped, and why."),
                        ),
                        ("side_effects_note", models.TextField(blank=True, verbose_name="side effects discussed")),
                        (
                            "symptom_scores",
                            models.TextField(blank=True, help_text="Scores entered or reviewed (PHQ-9, GAD-7, …)."),
                        ),
                        ("assessment", models.TextField(blank=True)),
                        ("plan", models.TextField(blank=True)),
                        (
                            "next_follow_up_weeks",
                            models.PositiveSmallIntegerField(
                                blank=True, null=True, verbose_name="next follow-up in (weeks)"
                            ),
                        ),
                        (
                            "appointment",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="visit_note",
                                to="appointments.appointment",
                            ),
                        ),
                        (
                            "author",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "patient",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="visit_notes",
                                to="patients.patient",
                            ),
                        ),
                        (
                            "side_effects_reviewed",
                            models.ManyToManyField(
                                blank=True, related_name="reviewed_in", to="medications.sideeffectreport"
                            ),
                        ),
                        (
                            "signed_by",
                            models.ForeignKey(
                                blank=True,
                                editable=False,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "appointments_visitnote",
                        "ordering": ["-visit_at", "-id"],
                    },
                ),
                migrations.AlterField(
                    model_name="addendum",
                    name="visit_note",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="addenda",
                        to="patients.visitnote",
                    ),
                ),
                migrations.AlterField(
                    model_name="questionnaireresponse",
                    name="visit_note",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="questionnaire_responses",
                        to="patients.visitnote",
                    ),
                ),
                migrations.AddIndex(
                    model_name="visitnote",
                    index=models.Index(fields=["author", "status", "visit_at"], name="visit_author_status_time"),
                ),
                migrations.AddIndex(
                    model_name="visitnote",
                    index=models.Index(fields=["patient", "-visit_at"], name="visit_patient_latest"),
                ),
            ],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
