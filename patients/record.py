"""Writes to a patient's record other than notes (patients.notes), questionnaires and allergies
(medications.allergies, beside the formulary they name): diagnoses, outside care contacts,
registration, demographics and pregnancy status. Each saves and writes its audit row in one
transaction; views only parse input and call these."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from clinic import audit, languages
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


@transaction.atomic
def update_care_contact(contact: CareContact, changed: list[str], *, by: User, request=None) -> CareContact:
    """``contact`` carries a clinic admin's edits (consent, details, ended); the audit row names the
    fields changed, and whether consent was given or withdrawn, never the values typed."""
    detail: dict = {"fields": sorted(changed)}
    if "consent_to_share" in changed:
        detail["consent_to_share"] = contact.consent_to_share
    return _update(contact, contact.patient, sorted(changed) or ["is_active"], detail, by=by, request=request)


@transaction.atomic
def set_care_team(patient: Patient, *, primary: User | None, others, by: User, request=None) -> Patient:
    """The psychiatrists (and NPs) who treat ``patient``: the primary one and those who share care.
    They are the ones whose caseload and charts include the patient (clinic.access.patients_for).
    The audit row names who was added and removed, by account id."""
    others = {user.pk for user in others if primary is None or user.pk != primary.pk}
    before_primary = patient.primary_psychiatrist_id
    before = set(patient.care_team.values_list("pk", flat=True))
    patient.primary_psychiatrist = primary
    patient.save(update_fields=["primary_psychiatrist"])
    patient.care_team.set(others)
    audit.record(
        AuditEvent.Action.UPDATE,
        request=request,
        actor=by,
        patient=patient,
        obj=patient,
        detail={
            "event": "care_team_changed",
            "primary": [before_primary, primary.pk if primary else None],
            "added": sorted(others - before),
            "removed": sorted(before - others),
        },
    )
    return patient


# PostgreSQL hands out MRN numbers from this sequence (patients/migrations/0011): two
# registrations at once each get their own, where "the highest MRN + 1" gave both the same
# number and one an IntegrityError. A number taken by a registration that rolls back is skipped.
MRN_SEQUENCE = "patients_mrn_seq"


def next_mrn() -> str:
    """The next MRN, "P000123". Call it inside the registration's transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [MRN_SEQUENCE])
            number = cursor.fetchone()[0]
    else:
        # SQLite (the zero-setup mode) opens every transaction with BEGIN IMMEDIATE
        # (clinic/settings.py): the write lock is held from here to the commit, so no other
        # registration reads the same highest MRN.
        last = Patient.objects.filter(mrn__startswith="P").order_by("-mrn").values_list("mrn", flat=True).first()
        number = int(last[1:]) + 1 if last and last[1:].isdigit() else 1
    return f"P{number:06d}"


def possible_duplicates(patient: Patient) -> list[Patient]:
    """Registered patients with ``patient``'s legal name (any case, spaces trimmed) and date of
    birth: the front desk is asked whether this is a different person before a second record is
    made for one."""
    if not (patient.legal_first_name and patient.legal_last_name and patient.date_of_birth):
        return []
    same = Patient.objects.filter(
        legal_first_name__iexact=patient.legal_first_name.strip(),
        legal_last_name__iexact=patient.legal_last_name.strip(),
        date_of_birth=patient.date_of_birth,
    )
    if patient.pk is not None:
        same = same.exclude(pk=patient.pk)
    return list(same.order_by("mrn"))


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
    if "preferred_language" in changed:
        languages.record_changed(patient)
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
