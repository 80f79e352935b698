"""Signing and amending clinical notes (evaluations and visit notes).

A signed note is locked: the model refuses to save it again, and corrections are
addenda with their own author and time.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic import audit, dates
from clinic.models import AuditEvent, User
from patients.models import Addendum, ClinicalNote, Evaluation


@transaction.atomic
def save_draft(note: ClinicalNote, *, actor: User, request=None) -> ClinicalNote:
    creating = note._state.adding
    if creating:
        note.author = actor
    note.save()
    audit.record(
        AuditEvent.Action.CREATE if creating else AuditEvent.Action.UPDATE,
        request=request,
        actor=actor,
        patient=note.patient,
        obj=note,
    )
    return note


def missing_for_signature(note: ClinicalNote) -> list[str]:
    """A note is not signed without its mental status exam and risk assessment."""
    missing = []
    if not note.mental_status_exam.strip():
        missing.append("mental status exam")
    if not note.suicide_risk:
        missing.append("suicide risk level")
    if not note.violence_risk:
        missing.append("violence risk level")
    if not note.risk_rationale.strip():
        missing.append("risk rationale")
    return missing


@transaction.atomic
def sign(note: ClinicalNote, *, actor: User, request=None) -> ClinicalNote:
    if note.author_id != actor.pk:
        raise ValidationError("Only the note's author can sign it.")
    missing = missing_for_signature(note)
    if missing:
        raise ValidationError(f"Complete before signing: {', '.join(missing)}.")
    # A conditional update: two tabs signing at once sign it once.
    signed = (
        type(note)
        .objects.filter(pk=note.pk, status=ClinicalNote.Status.DRAFT)
        .update(status=ClinicalNote.Status.SIGNED, signed_at=timezone.now(), signed_by=actor)
    )
    if not signed:
        raise ValidationError("This note is already signed.")
    note.refresh_from_db()
    audit.record(
        AuditEvent.Action.UPDATE,
        request=request,
        actor=actor,
        patient=note.patient,
        obj=note,
        detail={"change": "signed"},
    )
    return note


@transaction.atomic
def add_addendum(note: ClinicalNote, *, actor: User, text: str, request=None) -> Addendum:
    if not note.is_signed:
        raise ValidationError("Edit the draft directly; addenda are for signed notes.")
    if not text.strip():
        raise ValidationError({"text": "Write the correction or addition."})
    target = {"evaluation": note} if isinstance(note, Evaluation) else {"visit_note": note}
    addendum = Addendum.objects.create(author=actor, text=text.strip(), **target)
    audit.record(AuditEvent.Action.CREATE, request=request, actor=actor, patient=note.patient, obj=addendum)
    return addendum


def readable_fields(note: ClinicalNote, names: list[str]) -> list[tuple[str, str]]:
    """(label, shown value) for a note's fields, choice codes replaced by their labels, dates and
    times as people read them (in the viewer's zone: ``str`` would print UTC)."""
    rows = []
    for name in names:
        field = note._meta.get_field(name)
        if field.many_to_many:
            continue
        value = getattr(note, f"get_{name}_display")() if field.choices else getattr(note, name)
        if isinstance(value, bool):  # a step done or not: both are worth reading
            value = "Yes" if value else "No"
        rows.append((str(field.verbose_name).capitalize(), dates.readable(value)))
    return rows
