"""Copy each visit note's appointment link onto the appointment (0011 added the column; patients
0010 then drops the note's). Backwards, onto the note again, before 0011 drops the column.

Plain SQL, the same on PostgreSQL and SQLite: one UPDATE of only the linked rows (a note has at
most one appointment and an appointment at most one note, both sides unique).
"""

from django.db import migrations

FORWARD = """
UPDATE appointments_appointment
SET visit_note_id = (
    SELECT n.id FROM appointments_visitnote n WHERE n.appointment_id = appointments_appointment.id
)
WHERE id IN (SELECT appointment_id FROM appointments_visitnote WHERE appointment_id IS NOT NULL)
"""

BACKWARD = """
UPDATE appointments_visitnote
SET appointment_id = (
    SELECT a.id FROM appointments_appointment a WHERE a.visit_note_id = appointments_visitnote.id
)
WHERE id IN (SELECT visit_note_id FROM appointments_appointment WHERE visit_note_id IS NOT NULL)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0011_appointment_visit_note"),
    ]

    operations = [
        migrations.RunSQL(FORWARD, BACKWARD, elidable=False),
    ]
