"""Keep medications.DueEntry current: any write to an input of the due lists recomputes that
patient's entries when the transaction commits (medications.due.touch). Bulk writes (COPY, the
demo seed's bulk_create) send no signal: ``manage.py rebuild_due_entries`` or the hourly planner
catches those up."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from medications import due
from medications.models import LabResult, Prescription, PrescriptionEvent
from patients.models import Patient, VisitNote


@receiver([post_save, post_delete], sender=LabResult, dispatch_uid="due_lab_result")
@receiver([post_save, post_delete], sender=Prescription, dispatch_uid="due_prescription")
@receiver([post_save, post_delete], sender=VisitNote, dispatch_uid="due_visit_note")
def _patient_input_changed(sender, instance, **kwargs) -> None:
    due.touch(instance.patient_id)


@receiver([post_save, post_delete], sender=PrescriptionEvent, dispatch_uid="due_prescription_event")
def _dose_event_changed(sender, instance, **kwargs) -> None:
    due.touch(instance.prescription.patient_id)


@receiver(post_save, sender=Patient, dispatch_uid="due_patient")
def _patient_changed(sender, instance, created, **kwargs) -> None:
    # The date of birth decides age-limited monitoring items; a new patient has no inputs yet.
    if not created:
        due.touch(instance.pk)
