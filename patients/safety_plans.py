"""The safety and relapse-prevention plan: written by the psychiatrist, one new version per save.

The newest version is the plan in force; the older ones are its history. The patient reads it from
their menu, printable, and beside the crisis resources whenever a report triggers them
(templates/includes/crisis_resources.html).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from clinic import audit
from clinic.models import AuditEvent, User
from patients.models import Patient, SafetyPlan

SECTION_NAMES = [name for name, _ in SafetyPlan.SECTIONS]


def current(patient: Patient | int) -> SafetyPlan | None:
    """The plan in force (the newest version), or None if none was written."""
    patient_id = patient if isinstance(patient, int) else patient.pk
    return SafetyPlan.objects.filter(patient_id=patient_id).order_by("-version").first()


@transaction.atomic
def save_version(patient: Patient, *, author: User, request=None, **sections: str) -> SafetyPlan:
    """Save the plan as its next version. Unknown sections are refused; a plan with every section
    empty, or the same as the version in force, is not saved (a version records a change)."""
    unknown = set(sections) - set(SECTION_NAMES)
    if unknown:
        raise TypeError(f"SafetyPlan has no section(s) {sorted(unknown)}")
    texts = {name: (sections.get(name) or "").strip() for name in SECTION_NAMES}
    if not any(texts.values()):
        raise ValidationError("Write at least one section of the plan.")
    # Lock the patient so two saves at once number their versions one after the other.
    Patient.objects.select_for_update().only("pk").get(pk=patient.pk)
    last = current(patient)
    if last is not None and all(getattr(last, name) == text for name, text in texts.items()):
        raise ValidationError(f"Nothing changed since version {last.version}.")
    plan = SafetyPlan.objects.create(patient=patient, version=(last.version + 1) if last else 1, author=author, **texts)
    audit.record(AuditEvent.Action.CREATE, request=request, actor=author, patient=patient, obj=plan,
                 detail={"version": plan.version})  # fmt: skip
    return plan
