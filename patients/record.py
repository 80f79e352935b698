"""Writes to a patient's record other than notes (patients.notes), questionnaires and allergies
(medications.allergies, beside the formulary they name): diagnoses, outside care contacts,
registration, demographics and pregnancy status. Each saves and writes its audit row in one
transaction; views only parse input and call these."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEvent, User
from patients import icd10
from patients.models import CareContact, Diagnosis, Patient


@transaction.atomic
def add_diagnosis(patient: Patient, diagnosis: Diagnosis, *, by: User, request=None) -> Diagnosis:
    """``diagnosis`` is unsaved (a form's instance): its description is the code set's, never typed."""
    diagnosis.patient = patient
    diagnosis.recorded_by = by
    diagnosis.description = icd10.describe(diagnosis.icd10_code)
    diagnosis.save()
    audit.record(AuditEvent.Action.CREATE, request=request, actor=by, patient=patient, obj=diagnosis)
    return diagnosis


def _update(obj, patient: Patient, fields: list[str], detail: dict, *, by: User, request=None):
    """Save ``fields`` of ``obj`` and its audit row (identifiers only in ``detail``), in the caller's transaction."""
    obj.save(update_fields=fields)
    audit.record(AuditEvent.Action.UPDATE, request=request, actor=by, patient=patient, obj=obj, detail=detail)
    return obj


@transaction.atomic
def resolve_diagnosis(diagnosis: Diagnosis, *, by: User, request=None) -> Diagnosis:
    diagnosis.status = Diagnosis.Status.RESOLVED
    diagnosis.resolved_date = timezone.localdate()
    fields = ["status", "resolved_date"]
    return _update(diagnosis, diagnosis.patient, fields, {"change": "resolved"}, by=by, request=request)


@transaction.atomic
def add_care_contact(patient: Patient, contact: CareContact, *, by: User, request=None) -> CareContact:
    contact.patient = patient
    contact.save()
    audit.record(AuditEvent.Action.CREATE, request=request, actor=by, patient=patient, obj=contact)
    return contact


def next_mrn() -> str:
    last = Patient.objects.filter(mrn__startswith="P").order_by("-mrn").values_list("mrn", flat=True).first()
    number = int(last[1:]) + 1 if last and last[1:].isdigit() else 1
    return f"P{number:06d}"


@transaction.atomic
def register(patient: Patient, *, by: User, request=None) -> Patient:
    """``patient`` is unsaved (the front desk's demographics): it gets the next MRN."""
    patient.mrn = next_mrn()
    patient.save()
    audit.record(AuditEvent.Action.CREATE, request=request, actor=by, patient=patient, obj=patient)
    return patient


@transaction.atomic
def update_demographics(patient: Patient, changed: list[str], *, by: User, request=None) -> Patient:
    """``patient`` carries the front desk's edits; the audit row names the fields, not their values."""
    patient.save()
    audit.record(
        AuditEvent.Action.UPDATE,
        request=request,
        actor=by,
        patient=patient,
        obj=patient,
        detail={"fields": sorted(changed)},
    )
    return patient


@transaction.atomic
def set_pregnancy_status(patient: Patient, status: str, *, by: User, request=None) -> Patient:
    """The status the prescribing checks read (medications.safety); set by the psychiatrist."""
    patient.pregnancy_status = status
    return _update(patient, patient, ["pregnancy_status"], {"field": "pregnancy_status"}, by=by, request=request)
