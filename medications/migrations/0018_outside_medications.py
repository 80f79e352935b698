# Outside medications (issue 17, item 4), and what a prescribing check could not see.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("medications", "0017_side_effect_reply_history"),
        ("patients", "0012_text_limits"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="prescriptionevent",
            name="not_checked",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.CreateModel(
            name="OutsideMedication",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(help_text="As the patient or the source names it.", max_length=150)),
                ("dose_text", models.CharField(blank=True, max_length=100, verbose_name="dose and how often")),
                ("source", models.CharField(blank=True, max_length=150, verbose_name="prescriber or source")),
                ("start_date", models.DateField(blank=True, null=True)),
                ("recorded_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("stopped_on", models.DateField(blank=True, null=True)),
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
                        related_name="outside_medications",
                        to="patients.patient",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "stopped_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["name", "pk"],
                "indexes": [models.Index(fields=["patient", "stopped_on"], name="outside_med_patient_stopped")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("stopped_on__isnull", True), ("stopped_by__isnull", False), _connector="OR"
                        ),
                        name="outside_medication_stop_has_actor",
                    )
                ],
            },
        ),
    ]
