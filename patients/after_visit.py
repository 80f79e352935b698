"""The after-visit summary of one signed visit note: what the patient's portal page, its print
view and its PDF read (patients.summary_views), after the view's access check.

Built when asked for, from the locked record: the note's one line of "why" for the patient, the
medication changes made in the visit (append-only PrescriptionEvents linked to the note), the
formulary's education text for what changed, and — as they stand now — the labs and
questionnaires due and the next appointment, so a moved visit or a filled questionnaire is never
shown stale. Nothing here is stored: a summary is as right as the record it reads.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from appointments.models import Appointment
from clinic import contact
from clinic.dashboard import next_appointment
from medications import instructions
from medications.checklists import education_es
from medications.models import (
    DosePlan,
    DueEntry,
    Medication,
    Prescription,
    PrescriptionEvent,
    dose_change_text,
    dose_text,
)
from patients import instruments
from patients.models import Patient, VisitNote

Kind = PrescriptionEvent.Kind


@dataclass
class Change:
    drug: str
    kind: str  # "started", "changed" or "stopped"
    headline: str  # "Started sertraline", "Changed sertraline: 50 → 100 mg", "Stopped trazodone"
    instructions: str  # worded for the patient
    plan_steps: list[str] = field(default_factory=list)
    # (heading, text) from the formulary's education fields.
    watch_for: list[tuple[str, str]] = field(default_factory=list)
    # True when watch_for is the English formulary text on a Spanish page (no Spanish written yet).
    watch_for_english: bool = False


@dataclass
class Summary:
    note: VisitNote
    patient: Patient
    clinic: contact.Clinic
    psychiatrist: str
    reason: str
    changes: list[Change]
    current: list[tuple[str, str]]  # (drug, instructions) for every active prescription
    due: list[tuple[str, datetime.date]]
    next_appointment: Appointment | None


def signed_notes(patient: Patient):
    """The patient's signed visit notes, newest first: the notes that have a summary."""
    return patient.visit_notes.filter(status=VisitNote.Status.SIGNED).select_related("signed_by")


def _watch_for(medication: Medication, kind: str) -> tuple[list[tuple[str, str]], bool]:
    """(heading, text) rows and whether the text is English on a Spanish page. Spanish text comes
    only from the MedlinePlus en español entries (medications/data/education_es.json), never ad hoc."""
    texts = {
        "purpose": medication.education_purpose,
        "onset": medication.education_onset,
        "common_side_effects": medication.education_common_side_effects,
        "report_at_once": medication.education_report_at_once,
        "stopping": medication.education_stopping,
    }
    english = False
    if get_language() == "es":
        spanish = education_es(medication.generic_name)
        if spanish is not None:
            texts = {key: spanish.get(key, "") for key in texts}
        else:
            english = True
    if kind == "stopped":
        return ([(_("Stopping"), texts["stopping"])] if texts["stopping"] else []), english
    rows = [
        (_("What it is for"), texts["purpose"]),
        (_("When it starts to help"), texts["onset"]),
        (_("Common side effects"), texts["common_side_effects"]),
        (_("Get help at once if"), texts["report_at_once"]),
    ]
    return [(heading, text) for heading, text in rows if text], english


def _change(rx: Prescription, events: list[PrescriptionEvent]) -> Change:
    """One line per medicine, however many events the visit wrote for it (a start then a plan)."""
    drug = rx.medication.generic_name
    kinds = {event.kind for event in events}
    dosing = [event for event in events if event.kind != Kind.PLAN_CREATED]
    last = dosing[-1] if dosing else None
    if Kind.DISCONTINUED in kinds:
        change = Change(
            drug, "stopped", _("Stopped %(drug)s") % {"drug": drug}, _("Stop taking %(drug)s.") % {"drug": drug}
        )
    elif last is None:  # only a plan was made: the dose itself did not change today
        headline = _("New dose plan for %(drug)s") % {"drug": drug}
        change = Change(drug, "changed", headline, instructions.for_prescription(rx))
    else:
        words = instructions.in_language(
            dose_mg=last.to_dose_mg,
            strength_mg=rx.strength_mg,
            form=rx.form,
            frequency=last.to_frequency or rx.frequency,
            route=rx.route,
            extra=rx.extra_instructions,
        )
        if Kind.STARTED in kinds:
            change = Change(drug, "started", _("Started %(drug)s") % {"drug": drug}, words)
        else:
            first = dosing[0]
            change_text = dose_change_text(first.from_dose_mg, last.to_dose_mg)
            headline = _("Changed %(drug)s: %(change)s") % {"drug": drug, "change": change_text}
            change = Change(drug, "changed", headline, words)
    if Kind.PLAN_CREATED in kinds:
        plan = next(iter(rx.summary_plans), None)
        if plan is not None:
            change.plan_steps = [_step_text(step) for step in plan.ordered_steps]
    change.watch_for, change.watch_for_english = _watch_for(rx.medication, change.kind)
    return change


def _step_text(step) -> str:
    if step.is_stop:
        return _("then stop")
    dose = dose_text(step.dose_mg)
    if step.duration_days:
        return _("%(dose)s for %(days)d days") % {"dose": dose, "days": step.duration_days}
    return _("%(dose)s, and stay on this dose") % {"dose": dose}


def with_plans(events):
    """PrescriptionEvents with what ``changes_in`` reads: the prescription, its medicine, and its
    plans with their steps (three queries for any number of events)."""
    plans = Prefetch(
        "prescription__plans",
        queryset=DosePlan.objects.order_by("-created_at", "-id").prefetch_related("steps"),
        to_attr="summary_plans",
    )
    return events.select_related("prescription__medication").prefetch_related(plans)


def changes_in(events) -> list[Change]:
    """One Change per medicine from one visit's events (loaded through ``with_plans``), as the
    summary words them: the patient's record (records.builders) shows every visit this way."""
    by_rx: dict[int, list[PrescriptionEvent]] = {}
    for event in events:
        by_rx.setdefault(event.prescription_id, []).append(event)
    return [
        change for rx_events in by_rx.values() if (change := _change(rx_events[0].prescription, rx_events)) is not None
    ]


def build(note: VisitNote) -> Summary:
    """Six queries: the note's events with their prescriptions and medicines, the plans with
    their steps, the active prescriptions, the lab due list, the open questionnaires and the
    next appointment (the clinic's profile is cached)."""
    patient = note.patient
    changes = changes_in(list(with_plans(note.medication_events.all())))
    active = Prescription.objects.active().filter(patient=patient).select_related("medication")
    current = [(rx.medication.generic_name, instructions.for_prescription(rx)) for rx in active]
    labs = DueEntry.objects.filter(patient=patient, kind=DueEntry.Kind.LAB).order_by("due_on")
    due = [(entry.label, entry.due_on) for entry in labs]
    due += [
        (instruments.get(a.instrument).name, a.due_on)
        for a in patient.questionnaire_assignments.open().order_by("due_on")
    ]
    signer = note.signed_by or note.author
    return Summary(
        note=note,
        patient=patient,
        clinic=contact.clinic(),
        psychiatrist=signer.display_name,
        reason=note.reason_for_patient,
        changes=changes,
        current=sorted(current),
        due=sorted(due, key=lambda row: row[1]),
        next_appointment=next_appointment(patient, timezone.now()),
    )
