"""The link between a booked visit and its note moved from the note (VisitNote.appointment) to the
appointment (Appointment.visit_note): appointments/migrations/0011 and 0012, patients/migrations/0010.
The schema before, with linked and unlinked notes in it, migrates forward to the same links on the
appointments, and back to the same links on the notes. Runs on PostgreSQL, as production does."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from tests.helpers import require_service

BEFORE = [
    ("appointments", "0010_delete_visitnote_state"),
    ("patients", "0007_visitnote_reviewed_reports_leave_state"),
]
AFTER = [
    ("appointments", "0012_copy_visit_note_links"),
    ("patients", "0010_visitnote_appointment_removed"),
]


def columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {column.name for column in connection.introspection.get_table_description(cursor, table)}


def unique_on(table: str, column: str) -> bool:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return any(c["unique"] and c["columns"] == [column] for c in constraints.values())


@pytest.mark.services
def test_visit_note_links_move_to_the_appointment_and_back(migrator):
    require_service("PostgreSQL", connection.vendor == "postgresql")
    old = migrator(BEFORE)
    User = old.get_model("clinic", "User")
    Patient = old.get_model("patients", "Patient")
    Appointment = old.get_model("appointments", "Appointment")
    AppointmentType = old.get_model("appointments", "AppointmentType")
    VisitNote = old.get_model("patients", "VisitNote")

    doctor = User.objects.create(email="link-doctor@example.test", role="psychiatrist")
    patient = Patient.objects.create(
        mrn="LINK0001", legal_first_name="Ada", legal_last_name="Linked",
        date_of_birth=datetime.date(1980, 1, 1), primary_psychiatrist=doctor,
    )  # fmt: skip
    visit_type = AppointmentType.objects.create(name="Link visit", duration_minutes=30)
    first = timezone.now() - datetime.timedelta(days=3)

    def appointment(days: int, status: str = "completed", **fields):
        start = first + datetime.timedelta(days=days)
        return Appointment.objects.create(
            patient=patient, psychiatrist=doctor, appointment_type=visit_type, start=start,
            end=start + datetime.timedelta(minutes=30), booked_by=doctor, status=status, **fields,
        )  # fmt: skip

    def note(appointment=None, status: str = "draft"):
        signed = {"signed_by": doctor, "signed_at": first} if status == "signed" else {}
        return VisitNote.objects.create(
            patient=patient, author=doctor, appointment=appointment, visit_at=first, status=status,
            interval_history="Written before the link moved.", **signed,
        )  # fmt: skip

    signed_visit = appointment(0, note_signed=True)
    draft_visit = appointment(1)
    unnoted_visit = appointment(2)
    cancelled_visit = appointment(3, status="cancelled")
    signed_note = note(signed_visit, status="signed")
    draft_note = note(draft_visit)
    unlinked_note = note()  # a visit without a booking (a phone call)
    links = {signed_visit.pk: signed_note.pk, draft_visit.pk: draft_note.pk, unnoted_visit.pk: None,
             cancelled_visit.pk: None}  # fmt: skip

    new = migrator(AFTER)

    assert "appointment_id" not in columns("appointments_visitnote")
    assert unique_on("appointments_appointment", "visit_note_id")  # the reverse look-up's index
    moved = new.get_model("appointments", "Appointment").objects
    assert dict(moved.values_list("pk", "visit_note_id")) == links
    assert dict(moved.values_list("pk", "note_signed")) == {
        signed_visit.pk: True, draft_visit.pk: False, unnoted_visit.pk: False, cancelled_visit.pk: False,
    }  # fmt: skip
    # ``note.appointment`` is the reverse accessor now.
    notes = new.get_model("patients", "VisitNote").objects
    assert notes.get(pk=signed_note.pk).appointment.pk == signed_visit.pk
    assert set(notes.filter(appointment__isnull=True).values_list("pk", flat=True)) == {unlinked_note.pk}

    back = migrator(BEFORE)

    assert "visit_note_id" not in columns("appointments_appointment")
    assert unique_on("appointments_visitnote", "appointment_id")
    restored = back.get_model("patients", "VisitNote").objects
    assert dict(restored.values_list("pk", "appointment_id")) == {
        signed_note.pk: signed_visit.pk, draft_note.pk: draft_visit.pk, unlinked_note.pk: None,
    }  # fmt: skip
    assert back.get_model("appointments", "Appointment").objects.get(pk=signed_visit.pk).visit_note.pk == signed_note.pk
