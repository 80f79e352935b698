"""Appointment.confirmed_at (issue 24, clinic metrics' confirmation rate), filled for visits
confirmed before the column existed from the audit trail: booking.set_status wrote one "update"
row with {"change": "confirmed"} per confirmation. The earliest one counts."""

from django.db import migrations, models


def backfill(apps, schema_editor):
    AuditEvent = apps.get_model("clinic", "AuditEvent")
    Appointment = apps.get_model("appointments", "Appointment")
    first: dict[int, object] = {}
    rows = AuditEvent.objects.filter(
        action="update", object_type="appointments.Appointment", detail__change="confirmed"
    ).values_list("object_id", "occurred_at")
    for object_id, occurred_at in rows.iterator():
        pk = int(object_id)
        if pk not in first or occurred_at < first[pk]:
            first[pk] = occurred_at
    for pk, occurred_at in first.items():
        Appointment.objects.filter(pk=pk, confirmed_at__isnull=True).update(confirmed_at=occurred_at)


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0014_i19setup_phone_modality"),
        ("clinic", "0026_i22i18n_language"),
    ]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="confirmed_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
