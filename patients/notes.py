"""Signing and amending clinical notes (evaluations and visit notes).

A signed note is locked: the model refuses to save it again, and corrections are
addenda with their own author and time.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic import audit, dates
from clinic.models import AuditEvent, Notification, User
from notifications import kinds, messages, outbox
from patients.models import Addendum, ClinicalNote, Evaluation, VisitNote

# How long "your visit summary is ready" may still go out (after quiet hours, a retry): past a
# month the next visit is closer than this one, and the summary is in the portal anyway.
SUMMARY_NOTICE_TTL = datetime.timedelta(days=30)


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
    # A video visit records where the patient was (the psychiatrist must be licensed there).
    if getattr(note, "modality", "") == "telehealth" and not note.patient_location_state:
        missing.append("patient's location (state) for a video visit")
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
    if isinstance(note, VisitNote):
        notify_summary_ready(note)
    return note


def notify_summary_ready(note: VisitNote) -> list[Notification]:
    """The patient's "a summary of your visit is ready" on each channel they allow: no drug, no
    dose, no name (the PDF is made when they ask for it in the portal, never attached). A patient
    without a portal login gets nothing here; their psychiatrist prints the summary for them."""
    patient = note.patient
    if patient.user_id is None:
        return []
    return outbox.notify(
        patient.user,
        key=f"after-visit-summary:{note.pk}",
        kind=Notification.Kind.AFTER_VISIT_SUMMARY,
        expires_at=timezone.now() + SUMMARY_NOTICE_TTL,
        sms=False,
        patient=patient,
    )


def _summary_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    return {"details_url": messages.url("patients:my_visit_summaries", absolute=absolute)}


def register_kinds() -> None:
    """Called from PatientsConfig.ready()."""
    kinds.register(Notification.Kind.AFTER_VISIT_SUMMARY, context=_summary_context)


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
