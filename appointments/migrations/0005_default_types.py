from django.db import migrations

TYPES = [
    # name, minutes, modality, patient may book, reminder offsets (hours before)
    ("Initial evaluation", 60, "in_person", False, [48, 2]),
    ("Follow-up visit", 30, "in_person", True, [48, 2]),
    ("Telehealth follow-up", 30, "telehealth", True, [48, 2]),
    ("Medication check", 15, "telehealth", True, [48, 2]),
]


def create(apps, schema_editor):
    AppointmentType = apps.get_model("appointments", "AppointmentType")
    for name, minutes, modality, bookable, offsets in TYPES:
        AppointmentType.objects.get_or_create(
            name=name,
            defaults={
                "duration_minutes": minutes,
                "modality": modality,
                "patient_bookable": bookable,
                "reminder_offsets_hours": offsets,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("appointments", "0004_no_overlap")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
