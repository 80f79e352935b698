"""The care team's first response, recorded on the request (issue 24, clinic metrics): the first
care-team message of each PATIENT thread (MessageThread.first_response_at), and for each side-effect
report the earlier of its acknowledgement and its thread's first care-team message
(SideEffectReport.first_response_at). From now on medications.threads.post and
medications.side_effects.acknowledge record them in the transaction of the write; this fills them
for what was written before, by the same rule clinic.metrics applied to the messages themselves.
It also takes each patient's first overdue days (Patient.lab_overdue_from, review_overdue_from,
patients 0017) from the work list, as medications.due.summarise does from now on.

The indexes the metrics read are made after the backfill, covering the new columns (index-only
scans of the range), and replace the two of medications 0024."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce, Least


def backfill(apps, schema_editor):
    Message = apps.get_model("medications", "Message")
    MessageThread = apps.get_model("medications", "MessageThread")
    SideEffectReport = apps.get_model("medications", "SideEffectReport")
    first_staff_message = (
        Message.objects.filter(thread=OuterRef("pk"), from_patient=False)
        .order_by("created_at")
        .values("created_at")[:1]
    )
    MessageThread.objects.filter(kind="patient").update(first_response_at=Subquery(first_staff_message))
    # One statement for every report; LEAST of two COALESCEs: SQLite's LEAST is NULL if any
    # argument is, PostgreSQL's skips NULLs. A report without a thread keeps its acknowledgement.
    reply = Subquery(MessageThread.objects.filter(side_effect_report=OuterRef("pk")).values("first_response_at")[:1])
    SideEffectReport.objects.update(
        first_response_at=Least(Coalesce("acknowledged_at", reply), Coalesce(reply, "acknowledged_at"))
    )


def overdue_dates(apps, schema_editor):
    """Patient.lab_overdue_from / review_overdue_from (patients 0017) from the work list, as
    medications.due.summarise records them from now on."""
    DueEntry = apps.get_model("medications", "DueEntry")
    Patient = apps.get_model("patients", "Patient")

    def first_overdue(kind):
        rows = DueEntry.objects.filter(patient=OuterRef("pk"), kind=kind).order_by("overdue_from")
        return Subquery(rows.values("overdue_from")[:1])

    Patient.objects.update(lab_overdue_from=first_overdue("lab"), review_overdue_from=first_overdue("review"))


class Migration(migrations.Migration):
    dependencies = [
        ("medications", "0025_i23rx_reload_formulary"),
        ("patients", "0017_i24mx_caseload_facts"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="messagethread",
            name="thread_patient_started",
        ),
        migrations.RemoveIndex(
            model_name="sideeffectreport",
            name="ser_created",
        ),
        migrations.AddField(
            model_name="messagethread",
            name="first_response_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="sideeffectreport",
            name="first_response_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(overdue_dates, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="messagethread",
            index=models.Index(
                condition=models.Q(("kind", "patient"), ("side_effect_report__isnull", True)),
                fields=["created_at"],
                include=("created_by", "first_response_at"),
                name="thread_started_response",
            ),
        ),
        migrations.AddIndex(
            model_name="sideeffectreport",
            index=models.Index(fields=["created_at"], include=("first_response_at",), name="ser_created_response"),
        ),
    ]
