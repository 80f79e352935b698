"""Writes to a patient's allergies, which the prescribing checks (medications.safety) read. Each
saves and writes its audit row in one transaction; views only parse input and call these."""

from __future__ import annotations

from django.db import transaction

from clinic import audit
from clinic.models import AuditEvent, User
from medications.models import Allergy
from patients.models import Patient


@transaction.atomic
def add_allergy(patient: Patient, allergy: Allergy, *, by: User, request=None) -> Allergy:
    """``allergy`` is unsaved (a form's instance)."""
    allergy.patient = patient
    allergy.recorded_by = by
    allergy.save()
    audit.record(AuditEvent.Action.CREATE, request=request, actor=by, patient=patient, obj=allergy)
    return allergy


@transaction.atomic
def inactivate_allergy(allergy: Allergy, *, by: User, request=None) -> Allergy:
    """Entered in error or no longer relevant: kept in the record, no longer checked against."""
    allergy.is_active = False
    allergy.save(update_fields=["is_active"])
    audit.record(
        AuditEvent.Action.UPDATE,
        request=request,
        actor=by,
        patient=allergy.patient,
        obj=allergy,
        detail={"change": "inactivated"},
    )
    return allergy
