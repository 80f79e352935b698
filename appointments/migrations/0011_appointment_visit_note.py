"""The link between a booked visit and its visit note moves to the appointment: the schedule points
down at the record (Appointment.visit_note), the record no longer points up at the schedule.

Three steps, each its own transaction: this one adds the empty column, 0012 copies the links, and
patients/migrations/0010 drops VisitNote.appointment. Apart so that on PostgreSQL no table is
altered while the copy's deferred foreign-key checks are pending (either way round). Until patients 0010 the
state holds both fields; only 0012's SQL reads them.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0010_delete_visitnote_state"),
        ("patients", "0007_visitnote_reviewed_reports_leave_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="visit_note",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="appointment",
                to="patients.visitnote",
            ),
        ),
    ]
