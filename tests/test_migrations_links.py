"""Two links that pointed up the layers moved to the higher side (docs/architecture.md, "Models"):
an allergy is a medications model now (medications 0012, state only: the table keeps its name),
and the change a questionnaire was asked after is a QuestionnaireAfterChange row (medications
0011 copies each link before patients 0008 drops the column). The old schema, with data in it,
migrates forward to the same rows, and back. Runs on PostgreSQL, as production does."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from tests.helpers import require_service

BEFORE = [
    ("patients", "0007_visitnote_reviewed_reports_leave_state"),
    ("medications", "0010_side_effect_report_reviewed_in"),
]
AFTER = [("patients", "0009_allergy_moves"), ("medications", "0012_allergy_moves")]


@pytest.mark.services
def test_allergies_and_asked_after_links_survive_the_move_and_its_reversal(migrator):
    require_service("PostgreSQL", connection.vendor == "postgresql")
    old = migrator(BEFORE)
    User = old.get_model("clinic", "User")
    Patient = old.get_model("patients", "Patient")
    OldAllergy = old.get_model("patients", "Allergy")
    Assignment = old.get_model("patients", "QuestionnaireAssignment")
    Medication = old.get_model("medications", "Medication")
    Prescription = old.get_model("medications", "Prescription")
    PrescriptionEvent = old.get_model("medications", "PrescriptionEvent")
    ContentType = old.get_model("contenttypes", "ContentType")
    # As in a database made before the move: the allergy's content type under patients.
    ContentType.objects.filter(app_label="medications", model="allergy").delete()
    old_type, _ = ContentType.objects.get_or_create(app_label="patients", model="allergy")

    doctor = User.objects.create(email="links-doctor@example.test", role="psychiatrist")
    patient = Patient.objects.create(
        mrn="MIG0002", legal_first_name="Bea", legal_last_name="Linked",
        date_of_birth=datetime.date(1981, 2, 2), primary_psychiatrist=doctor,
    )  # fmt: skip
    # The formulary's data migration rows are gone after a flushing test on this worker: bring one.
    medication, _ = Medication.objects.get_or_create(
        generic_name="linkamine", defaults={"drug_class": "ssri", "source": "test"}
    )
    allergy = OldAllergy.objects.create(
        patient=patient, medication=medication, substance="Linkamine", reaction="Hives", severity="severe",
        recorded_by=doctor,
    )  # fmt: skip
    free_text = OldAllergy.objects.create(patient=patient, substance="Latex", recorded_by=doctor)
    today = timezone.localdate()
    prescription = Prescription.objects.create(
        patient=patient, medication=medication, prescriber=doctor, form="tablet", strength_mg=50,
        dose_mg=50, frequency="qd", sig="Take 1 tablet daily", start_date=today, quantity=30,
    )  # fmt: skip
    event = PrescriptionEvent.objects.create(
        prescription=prescription, kind="started", to_dose_mg=50, effective_date=today, reason="new_start",
        actor=doctor,
    )  # fmt: skip
    after_change = Assignment.objects.create(
        patient=patient, instrument="phq9", due_on=today, reason="dose_change", prescription_event=event
    )
    scheduled = Assignment.objects.create(
        patient=patient, instrument="gad7", due_on=today, reason="schedule", status="completed"
    )

    new = migrator(AFTER)
    Allergy = new.get_model("medications", "Allergy")
    moved = Allergy.objects.filter(patient_id=patient.pk)
    assert {(a.pk, a.substance, a.medication_id, a.severity) for a in moved} == {
        (allergy.pk, "Linkamine", medication.pk, "severe"),
        (free_text.pk, "Latex", None, "moderate"),
    }
    NewContentType = new.get_model("contenttypes", "ContentType")
    assert NewContentType.objects.get(pk=old_type.pk).app_label == "medications"
    Link = new.get_model("medications", "QuestionnaireAfterChange")
    assert list(Link.objects.values_list("assignment_id", "event_id")) == [(after_change.pk, event.pk)]
    NewAssignment = new.get_model("patients", "QuestionnaireAssignment")
    assert NewAssignment.objects.get(pk=after_change.pk).asked_after.event_id == event.pk
    assert not Link.objects.filter(assignment_id=scheduled.pk).exists()

    back = migrator(BEFORE)
    OldAssignment = back.get_model("patients", "QuestionnaireAssignment")
    assert dict(OldAssignment.objects.values_list("pk", "prescription_event_id")) == {
        after_change.pk: event.pk,
        scheduled.pk: None,
    }
    assert back.get_model("patients", "Allergy").objects.filter(patient_id=patient.pk).count() == 2
    assert back.get_model("contenttypes", "ContentType").objects.get(pk=old_type.pk).app_label == "patients"
