import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def replies_to_rows(apps, schema_editor):
    """Each report's one stored reply becomes its first history row, with its author and time."""
    Report = apps.get_model("medications", "SideEffectReport")
    Reply = apps.get_model("medications", "SideEffectReply")
    rows = [
        Reply(
            report_id=report.pk,
            author_id=report.replied_by_id or report.acknowledged_by_id or report.reported_by_id,
            text=report.reply,
            created_at=report.replied_at or report.acknowledged_at or report.created_at,
        )
        for report in Report.objects.exclude(reply="").iterator()
    ]
    Reply.objects.bulk_create(rows, batch_size=1000)


def rows_to_replies(apps, schema_editor):
    """Back to one reply per report: the newest (what the patient last read)."""
    Report = apps.get_model("medications", "SideEffectReport")
    Reply = apps.get_model("medications", "SideEffectReply")
    for reply in Reply.objects.order_by("report_id", "-created_at", "-id").distinct("report_id").iterator():
        Report.objects.filter(pk=reply.report_id).update(
            reply=reply.text, replied_at=reply.created_at, replied_by_id=reply.author_id
        )


class Migration(migrations.Migration):
    dependencies = [
        ("medications", "0016_medication_hard_max"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SideEffectReply",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.TextField(max_length=4000)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                (
                    "author",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "report",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="replies",
                        to="medications.sideeffectreport",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "id"],
                "indexes": [models.Index(fields=["report", "created_at"], name="ser_reply_report")],
            },
        ),
        migrations.RunPython(replies_to_rows, rows_to_replies),
        migrations.RemoveField(model_name="sideeffectreport", name="replied_at"),
        migrations.RemoveField(model_name="sideeffectreport", name="replied_by"),
        migrations.RemoveField(model_name="sideeffectreport", name="reply"),
    ]
