"""VisitNote.appointment goes: its links are on Appointment.visit_note now (appointments 0011, copied
by 0012). Backwards the column comes back empty and appointments 0012 fills it again."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0009_allergy_moves"),
        ("appointments", "0012_copy_visit_note_links"),
    ]

    operations = [
        migrations.RemoveField(model_name="visitnote", name="appointment"),
    ]
