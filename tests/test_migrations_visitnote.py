"""VisitNote moved from appointments to patients (patients/migrations/0006), and its reviewed
reports' link is declared on SideEffectReport (medications/migrations/0010), without moving a row:
the schema before the move, with data in it, migrates forward to the same rows under the new
model, and back. Runs on PostgreSQL, as production does."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from tests.helpers import migrate, migrate_to_latest, require_service

BEFORE = [
    ("appointments", "0008_unnoted_index"),
    ("patients", "0005_worsened_index"),
    ("medications", "0008_due_patient_single_index"),
]
AFTER = [
    ("appointments", "0010_delete_visitnote_state"),
    ("patients", "0007_visitnote_reviewed_reports_leave_state"),
    ("medications", "0010_side_effect_report_reviewed_in"),
]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_visit_notes_written_before_the_move_are_read_after_it():
    require_service("PostgreSQL", connection.vendor == "postgresql")
    old = migrate(BEFORE)
    try:
        User = old.get_model("clinic", "User")
        Patient = old.get_model("patients", "Patient")
        Appointment = old.get_model("appointments", "Appointment")
        AppointmentType = old.get_model("appointments", "AppointmentType")
        OldVisitNote = old.get_model("appointments", "VisitNote")
        Addendum = old.get_model("patients", "Addendum")
        Medication = old.get_model("medications", "Medication")
        Prescription = old.get_model("medications", "Prescription")
        PrescriptionEvent = old.get_model("medications", "PrescriptionEvent")
        SideEffectReport = old.get_model("medications", "SideEffectReport")
        ContentType = old.get_model("contenttypes", "ContentType")
        Permission = old.get_model("auth", "Permission")
        # As in a database made before the move: the content type and its permissions under appointments.
        ContentType.objects.filter(app_label="patients", model="visitnote").delete()
        old_type, _ = ContentType.objects.get_or_create(app_label="appointments", model="visitnote")
        Permission.objects.get_or_create(
            content_type=old_type, codename="view_visitnote", defaults={"name": "Can view visit note"}
        )

        doctor = User.objects.create(email="migration-doctor@example.test", role="psychiatrist")
        patient = Patient.objects.create(
            mrn="MIG0001", legal_first_name="Ada", legal_last_name="Migrant",
            date_of_birth=datetime.date(1980, 1, 1), primary_psychiatrist=doctor,
        )  # fmt: skip
        start = timezone.now() - datetime.timedelta(days=1)
        visit_type = AppointmentType.objects.create(name="Migration visit", duration_minutes=30)
        appointment = Appointment.objects.create(
            patient=patient, psychiatrist=doctor, appointment_type=visit_type, start=start,
            end=start + datetime.timedelta(minutes=30), booked_by=doctor, status="completed",
        )  # fmt: skip
        note = OldVisitNote.objects.create(
            patient=patient, author=doctor, appointment=appointment, visit_at=start,
            interval_history="Written before the move.", status="signed", signed_by=doctor, signed_at=start,
        )  # fmt: skip
        Addendum.objects.create(visit_note=note, author=doctor, text="A correction, before the move.")
        # The formulary's data migration rows are gone after a flushing test on this worker: bring one.
        medication, _ = Medication.objects.get_or_create(
            generic_name="migrationamine", defaults={"drug_class": "ssri", "source": "test"}
        )
        prescription = Prescription.objects.create(
            patient=patient, medication=medication, prescriber=doctor, form="tablet", strength_mg=50,
            dose_mg=50, frequency="qd", sig="Take 1 tablet daily", start_date=start.date(), quantity=30,
        )  # fmt: skip
        event = PrescriptionEvent.objects.create(
            prescription=prescription, kind="started", to_dose_mg=50, effective_date=start.date(),
            reason="new_start", actor=doctor, visit_note=note,
        )  # fmt: skip
        report = SideEffectReport.objects.create(
            patient=patient, prescription=prescription, reported_by=doctor, other_symptoms="Nausea", severity="mild",
            onset_date=start.date(),
        )  # fmt: skip
        note.side_effects_reviewed.add(report)
        permissions = {p.pk for p in old_type.permission_set.all()}
        assert permissions
    finally:
        new = migrate(AFTER)

    NewVisitNote = new.get_model("patients", "VisitNote")
    moved = NewVisitNote.objects.get(pk=note.pk)
    assert moved.interval_history == "Written before the move."
    assert (moved.status, moved.appointment_id, moved.patient_id) == ("signed", appointment.pk, patient.pk)
    assert [a.text for a in moved.addenda.all()] == ["A correction, before the move."]
    assert [e.pk for e in moved.medication_events.all()] == [event.pk]
    assert [r.pk for r in moved.side_effects_reviewed.all()] == [report.pk]
    assert [
        n.pk for n in new.get_model("medications", "SideEffectReport").objects.get(pk=report.pk).reviewed_in.all()
    ] == [note.pk]
    assert new.get_model("appointments", "Appointment").objects.get(pk=appointment.pk).visit_note.pk == note.pk
    ContentType = new.get_model("contenttypes", "ContentType")
    content_type = ContentType.objects.get(app_label="patients", model="visitnote")
    assert not ContentType.objects.filter(app_label="appointments", model="visitnote").exists()
    assert {p.pk for p in content_type.permission_set.all()} == permissions


@pytest.fixture(autouse=True)
def _latest_schema_after(transactional_db):
    # AFTER is not the newest state (appointments 0011 moved the visit note's link since): the
    # tests run after this one on its worker need the schema the migrations make now.
    yield
    migrate_to_latest()
