"""The one way prescriptions change. Every function here writes the prescription, its
history row (PrescriptionEvent) and the audit row in one transaction.

Views and forms never save a Prescription themselves (see STYLE.md, "raw saves").
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import get_language

from clinic import audit
from clinic.models import AuditEvent, User
from medications import safety
from medications.models import (
    DOSES_PER_DAY,
    ChangeReason,
    DosePlan,
    DosePlanStep,
    Frequency,
    Medication,
    Prescription,
    PrescriptionEvent,
    Route,
    dose_text,
)
from patients.models import Patient

MAX_QUANTITY = 1000
MAX_REFILLS = 11
# Federal law: no refills on Schedule II prescriptions.
NO_REFILL_SCHEDULES = {"CII"}

FORM_UNITS = {
    "tablet": ("tablet", "tablets"),
    "capsule": ("capsule", "capsules"),
    "patch": ("patch", "patches"),
    "film": ("film", "films"),
}
FRIENDLY_COUNTS = {
    Decimal("0.5"): "½",
    Decimal("1"): "1",
    Decimal("1.5"): "1½",
    Decimal("2"): "2",
    Decimal("2.5"): "2½",
    Decimal("3"): "3",
    Decimal("4"): "4",
}


@dataclass(frozen=True)
class PlanStepInput:
    dose_mg: Decimal
    duration_days: int | None


@dataclass(frozen=True)
class SafetyReview:
    """What an interactive prescriber saw and said: the fingerprint of the alerts shown on the form
    (safety.fingerprint) and, for contraindicated/major alerts, the override reason.

    Passing one makes the start or change refuse (safety.ReviewRequired) until the current alerts
    were shown and, if blocking, justified. Without one (seeding, a confirmed plan step) the
    alerts are still computed and stored on the event, but nothing is enforced.
    """

    acknowledged: str = ""
    override_reason: str = ""


def _per_day(dose_mg: Decimal, frequency: str) -> Decimal | None:
    per_day = DOSES_PER_DAY.get(frequency)
    return None if per_day is None else (dose_mg * per_day).quantize(Decimal("0.001"))


def _check_safety(patient, proposal: safety.Proposal, *, replacing, review: SafetyReview | None) -> safety.CheckResult:
    alerts = safety.check_for_patient(patient, proposed=proposal, replacing=replacing)
    if review is not None:
        safety.require_review(alerts, acknowledged=review.acknowledged, override_reason=review.override_reason)
    return alerts


def _safety_fields(alerts: safety.CheckResult, review: SafetyReview | None) -> dict:
    reason = review.override_reason.strip() if review is not None and alerts else ""
    return {
        "safety_alerts": [a.as_stored() for a in alerts],
        "not_checked": [n.as_stored() for n in alerts.not_checked],
        "override_reason": reason,
    }


def _override_detail(alerts: list[safety.PrescribingAlert], review: SafetyReview | None) -> dict:
    """Folded into the change's own audit row (one row per request)."""
    blocking = safety.blocking_summary(alerts)
    if blocking and review is not None:
        # Rule ids and severities only: the reason itself stays on the PrescriptionEvent.
        return {"safety_override": blocking}
    return {}


def _mg(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _amount(units: dict[str, tuple[str, str]], form: str, strength_mg: Decimal, dose_mg: Decimal) -> str:
    """'1 tablet (50 mg)' when the dose is an easy count of the form's unit, else '50 mg'."""
    unit = next((names for key, names in units.items() if key in form.lower()), None)
    count = (dose_mg / strength_mg).normalize() if strength_mg else None
    if unit and count in FRIENDLY_COUNTS:
        return f"{FRIENDLY_COUNTS[count]} {unit[0] if count <= 1 else unit[1]} ({_mg(dose_mg)} mg)"
    return f"{_mg(dose_mg)} mg"


def generate_sig(
    *, form: str, strength_mg: Decimal, dose_mg: Decimal, frequency: str, route: str, extra: str = ""
) -> str:
    """Instructions a patient can read: 'Take 1 tablet (50 mg) by mouth once daily in the morning.'"""
    verb = {"transdermal": "Apply", "intramuscular": "Receive", "subcutaneous": "Receive"}.get(route, "Take")
    amount = _amount(FORM_UNITS, form, strength_mg, dose_mg)
    sig = f"{verb} {amount} {Route(route).label} {Frequency(frequency).label}."
    if extra:
        sig = f"{sig[:-1]}, {extra.strip().rstrip('.')}."
    return sig


# The same instructions in Spanish (issue 22), worded as US pharmacies' Spanish labels are ("Tome 1
# tableta por vía oral una vez al día"). The stored ``sig`` stays the English legal record; a
# Spanish-speaking patient reads this, built from the same structured fields. The prescriber's
# free-text extra instructions are not translated: the page shows them as written, marked English.
FORM_UNITS_ES = {
    "tablet": ("tableta", "tabletas"),
    "capsule": ("cápsula", "cápsulas"),
    "patch": ("parche", "parches"),
    "film": ("película", "películas"),
}
ROUTE_ES = {
    "oral": "por vía oral",
    "sublingual": "debajo de la lengua",
    "transdermal": "sobre la piel (parche)",
    "intramuscular": "en inyección en un músculo",
    "subcutaneous": "en inyección debajo de la piel",
    "intranasal": "en la nariz",
}
FREQUENCY_ES = {
    "qd": "una vez al día",
    "qam": "una vez al día por la mañana",
    "qhs": "una vez al día a la hora de acostarse",
    "bid": "dos veces al día",
    "tid": "tres veces al día",
    "qid": "cuatro veces al día",
    "qod": "un día sí y otro no",
    "qwk": "una vez a la semana",
    "q2wk": "cada 2 semanas",
    "q4wk": "cada 4 semanas",
}


def spanish_sig(*, form: str, strength_mg: Decimal, dose_mg: Decimal, frequency: str, route: str) -> str:
    """generate_sig's instructions in Spanish, without the extra free text:
    'Tome 1 tableta (50 mg) por vía oral una vez al día por la mañana.'"""
    verb = {"transdermal": "Aplique", "intramuscular": "Reciba", "subcutaneous": "Reciba"}.get(route, "Tome")
    amount = _amount(FORM_UNITS_ES, form, strength_mg, dose_mg)
    return f"{verb} {amount} {ROUTE_ES.get(route, route)} {FREQUENCY_ES.get(frequency, frequency)}."


def sig_for_language(prescription: Prescription) -> str:
    """Plain-text instructions for a choice list: the stored English sig, or on a Spanish page
    spanish_sig (the prescriber's free text left out: it shows, marked English, on the medicine's page)."""
    return prescription_spanish_sig(prescription) if get_language() == "es" else prescription.sig


def prescription_spanish_sig(prescription: Prescription) -> str:
    """spanish_sig of a prescription's structured fields."""
    fields = ("form", "strength_mg", "dose_mg", "frequency", "route")
    return spanish_sig(**{name: getattr(prescription, name) for name in fields})


def suitable_strength(medication: Medication, form: str, dose_mg: Decimal, current: Decimal) -> Decimal:
    """Keep the current strength if the dose is an easy count of it (½ to 2 units); otherwise
    switch to a stocked strength of the same form that is (1 unit, then 2, ½, 1½)."""
    if (dose_mg / current).normalize() in (Decimal("0.5"), Decimal(1), Decimal("1.5"), Decimal(2)):
        return current
    stocked = {
        Decimal(str(strength))
        for entry in medication.forms
        if entry.get("form") == form
        for strength in entry.get("strengths_mg", [])
    }
    for count in (Decimal(1), Decimal(2), Decimal("0.5"), Decimal("1.5")):
        if (dose_mg / count) in stocked:
            return dose_mg / count
    return current


def hard_limit_error(medication: Medication, dose_mg: Decimal | None, frequency: str | None) -> str:
    """Why this dose is refused outright, or "". ``Medication.hard_max_mg`` is the most accepted in
    one dose or in one day (from the formulary file, with its basis): far above any labelled
    maximum, so a dose over it is a slip (99999 mg, mg for µg), never a decision to override."""
    limit = medication.hard_max_mg
    if limit is None or dose_mg is None:
        return ""
    per_day = _per_day(dose_mg, frequency) if frequency else None
    if max(dose_mg, per_day or dose_mg) <= limit:
        return ""
    said = f"{_mg(dose_mg)} mg"
    if per_day is not None and per_day > dose_mg:
        said = f"{said} {Frequency(frequency).label} is {_mg(per_day)} mg a day,"
    return (
        f"{said} above the hard limit for {medication.generic_name} ({_mg(limit)} mg a day or in one dose: "
        f"{medication.hard_max_basis}). Check the dose and its unit."
    )


def validate_course(
    *,
    medication: Medication,
    dose_mg: Decimal,
    strength_mg: Decimal,
    quantity: int,
    refills: int,
    start_date: datetime.date,
    end_date: datetime.date | None,
    frequency: str | None = None,
) -> None:
    errors: dict[str, str] = {}
    if dose_mg is not None and dose_mg <= 0:
        errors["dose_mg"] = "The dose must be more than 0 mg."
    elif too_much := hard_limit_error(medication, dose_mg, frequency):
        errors["dose_mg"] = too_much
    if strength_mg is not None and strength_mg <= 0:
        errors["strength_mg"] = "The strength must be more than 0 mg."
    if quantity is not None and not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = f"Quantity must be between 1 and {MAX_QUANTITY}."
    if refills is not None:
        if refills > MAX_REFILLS:
            errors["refills"] = f"At most {MAX_REFILLS} refills."
        elif refills and medication.dea_schedule in NO_REFILL_SCHEDULES:
            errors["refills"] = f"{medication.generic_name} is Schedule II: refills are not allowed."
    if end_date and start_date and end_date < start_date:
        errors["end_date"] = "The end date cannot be before the start date."
    if errors:
        raise ValidationError(errors)


def _validate_steps(
    steps: list[PlanStepInput], *, taper: bool, medication: Medication | None = None, frequency: str | None = None
) -> None:
    if len(steps) < 2:
        raise ValidationError("A plan needs at least two steps.")
    for step in steps[:-1]:
        if not step.duration_days:
            raise ValidationError("Every step but the last needs a number of days.")
    for number, step in enumerate(steps, start=1):
        if step.dose_mg < 0 or (step.dose_mg == 0 and not (taper and step is steps[-1])):
            raise ValidationError("Step doses must be more than 0 mg (only a taper's last step may be 0 mg).")
        if medication is not None and (too_much := hard_limit_error(medication, step.dose_mg, frequency)):
            raise ValidationError(f"Step {number}: {too_much}")
    doses = [s.dose_mg for s in steps]
    if taper and any(b > a for a, b in zip(doses, doses[1:], strict=False)):
        raise ValidationError("A taper's doses must go down (or stay level), step by step.")
    if not taper and any(b < a for a, b in zip(doses, doses[1:], strict=False)):
        raise ValidationError("A titration's doses must go up (or stay level), step by step.")


def _record(prescription: Prescription, actor: User, request, action: str, **detail) -> None:
    audit.record(action, request=request, actor=actor, patient=prescription.patient, obj=prescription, detail=detail)


@transaction.atomic
def start_prescription(
    *,
    patient: Patient,
    medication: Medication,
    prescriber: User,
    form: str,
    route: str,
    strength_mg: Decimal,
    dose_mg: Decimal,
    frequency: str,
    quantity: int,
    refills: int = 0,
    extra_instructions: str = "",
    indication=None,
    start_date: datetime.date | None = None,
    end_date: datetime.date | None = None,
    note: str = "",
    titration_steps: list[PlanStepInput] | None = None,
    visit_note=None,
    request=None,
    safety_review: SafetyReview | None = None,
) -> Prescription:
    start_date = start_date or timezone.localdate()
    validate_course(
        medication=medication,
        dose_mg=dose_mg,
        strength_mg=strength_mg,
        quantity=quantity,
        refills=refills,
        start_date=start_date,
        end_date=end_date,
        frequency=frequency,
    )
    if titration_steps:
        _validate_steps(titration_steps, taper=False, medication=medication, frequency=frequency)
        if titration_steps[0].dose_mg != dose_mg:
            raise ValidationError("The titration's first step must be the starting dose.")
    # One prescribing decision per patient at a time: the safety check must see the regimen it saves into.
    list(Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk", flat=True))
    if Prescription.objects.active().filter(patient=patient, medication=medication).exists():
        raise ValidationError(
            {
                "medication": f"{patient.display_name} already has an active {medication.generic_name} prescription. "
                "Change its dose instead."
            }
        )
    # A titration plan is checked at its highest step: that is the dose being committed to.
    top_dose = max([dose_mg, *(step.dose_mg for step in titration_steps or ())])
    alerts = _check_safety(
        patient,
        safety.Proposal(
            medication=medication,
            mg_per_day=_per_day(top_dose, frequency),
            mg_per_dose=top_dose,
            form=form,
            route=route,
            start_date=start_date,
        ),
        replacing=None,
        review=safety_review,
    )
    prescription = Prescription(
        patient=patient,
        medication=medication,
        prescriber=prescriber,
        form=form,
        route=route,
        strength_mg=strength_mg,
        dose_mg=dose_mg,
        frequency=frequency,
        quantity=quantity,
        refills=refills,
        extra_instructions=extra_instructions,
        indication=indication,
        start_date=start_date,
        end_date=end_date,
        sig=generate_sig(
            form=form,
            strength_mg=strength_mg,
            dose_mg=dose_mg,
            frequency=frequency,
            route=route,
            extra=extra_instructions,
        ),
    )
    try:
        with transaction.atomic():
            prescription.save()
    except IntegrityError:
        # Lost a race with another request starting the same drug: the constraint decided.
        raise ValidationError(
            {"medication": f"An active {medication.generic_name} prescription already exists."}
        ) from None
    PrescriptionEvent.objects.create(
        prescription=prescription,
        kind=PrescriptionEvent.Kind.STARTED,
        to_dose_mg=dose_mg,
        to_frequency=frequency,
        effective_date=start_date,
        reason=ChangeReason.NEW_START,
        note=note,
        actor=prescriber,
        visit_note=visit_note,
        **_safety_fields(alerts, safety_review),
    )
    if titration_steps:
        _create_plan(prescription, DosePlan.Kind.TITRATION, titration_steps, prescriber, start_date, visit_note)
    _record(
        prescription,
        prescriber,
        request,
        AuditEvent.Action.CREATE,
        change="started",
        **_override_detail(alerts, safety_review),
    )
    return prescription


def _create_plan(
    prescription: Prescription,
    kind: str,
    steps: list[PlanStepInput],
    actor: User,
    start_date: datetime.date,
    visit_note,
    stop_reason: str = "",
) -> DosePlan:
    plan = DosePlan.objects.create(prescription=prescription, kind=kind, created_by=actor, stop_reason=stop_reason)
    DosePlanStep.objects.bulk_create(
        DosePlanStep(
            plan=plan,
            position=index,
            dose_mg=step.dose_mg,
            duration_days=step.duration_days,
            # The first step is where the patient is now (or starts): already in effect.
            started_on=start_date if index == 1 else None,
            confirmed_by=actor if index == 1 else None,
        )
        for index, step in enumerate(steps, start=1)
    )
    summary = " → ".join(dose_text(s.dose_mg) + (f" × {s.duration_days} d" if s.duration_days else "") for s in steps)
    PrescriptionEvent.objects.create(
        prescription=prescription,
        kind=PrescriptionEvent.Kind.PLAN_CREATED,
        effective_date=start_date,
        reason=ChangeReason.TITRATION_STEP if kind == DosePlan.Kind.TITRATION else ChangeReason.TAPER_STEP,
        note=f"{DosePlan.Kind(kind).label} plan: {summary}",
        actor=actor,
        visit_note=visit_note,
        from_dose_mg=steps[0].dose_mg,
        to_dose_mg=steps[-1].dose_mg,
    )
    return plan


def _lock(prescription: Prescription) -> Prescription:
    locked = Prescription.objects.select_for_update().select_related("medication", "patient").get(pk=prescription.pk)
    if not locked.is_active:
        raise ValidationError("This prescription has been discontinued; start a new one instead.")
    return locked


@transaction.atomic
def change_dose(
    prescription: Prescription,
    *,
    actor: User,
    dose_mg: Decimal,
    frequency: str | None = None,
    strength_mg: Decimal | None = None,
    reason: str,
    note: str = "",
    effective_date: datetime.date | None = None,
    visit_note=None,
    request=None,
    safety_review: SafetyReview | None = None,
) -> PrescriptionEvent:
    """A dose change made by hand. An open plan is reconciled with it (reconcile_plan), so the plan
    never offers a step the patient is already on, nor one from a schedule the change abandoned."""
    rx = _lock(prescription)  # also locks the patient row (select_related): one decision at a time
    event, alerts = _change(
        rx,
        actor=actor,
        dose_mg=dose_mg,
        frequency=frequency,
        strength_mg=strength_mg,
        reason=reason,
        note=note,
        effective_date=effective_date,
        visit_note=visit_note,
        safety_review=safety_review,
    )
    plan = reconcile_plan(rx, actor=actor, effective_date=event.effective_date)
    _record(
        rx,
        actor,
        request,
        AuditEvent.Action.UPDATE,
        change="dose_changed",
        reason=reason,
        **({"plan": plan} if plan else {}),
        **_override_detail(alerts, safety_review),
    )
    prescription.refresh_from_db()
    return event


def reconcile_plan(rx: Prescription, *, actor: User, effective_date: datetime.date) -> str:
    """After a manual change: a new dose equal to the open plan's next step *is* that step (reached
    early, at a visit): it is marked started and the plan goes on from it. Any other dose departs from
    the schedule, and the plan's later steps no longer follow from where the patient is: the plan is
    cancelled with the reason recorded (ended_note), and the psychiatrist plans again if they wish.
    Returns what happened ("step_reached", "completed", "ended") or "" when there was no open plan."""
    plan = DosePlan.objects.select_for_update().filter(prescription=rx, status=DosePlan.Status.ACTIVE).first()
    if plan is None:
        return ""
    step = plan.next_step
    if step is not None and step.dose_mg == rx.dose_mg:
        step.started_on, step.confirmed_by = effective_date, actor
        step.save(update_fields=["started_on", "confirmed_by"])
        if plan.next_step is None:
            DosePlan.objects.filter(pk=plan.pk).update(status=DosePlan.Status.COMPLETED)
            return "completed"
        return "step_reached"
    planned = f"; the next step was {dose_text(step.dose_mg)}" if step is not None else ""
    plan.status = DosePlan.Status.CANCELLED
    changed = f"the dose was changed by hand to {dose_text(rx.dose_mg)}, off the plan"
    plan.ended_note = f"Ended {effective_date:%Y-%m-%d}: {changed}{planned}."
    plan.save(update_fields=["status", "ended_note"])
    return "ended"


def _change(
    rx: Prescription,
    *,
    actor: User,
    dose_mg: Decimal,
    frequency: str | None,
    strength_mg: Decimal | None,
    reason: str,
    note: str,
    effective_date: datetime.date | None,
    visit_note,
    safety_review: SafetyReview | None,
) -> tuple[PrescriptionEvent, list[safety.PrescribingAlert]]:
    """Apply a new dose to a locked prescription: the event and the new sig (no audit row, no plan)."""
    if not reason:
        raise ValidationError({"reason": "Choose why the dose changes."})
    if dose_mg is None or dose_mg <= 0:
        raise ValidationError({"dose_mg": "The new dose must be more than 0 mg. To stop, discontinue instead."})
    frequency = frequency or rx.frequency
    if too_much := hard_limit_error(rx.medication, dose_mg, frequency):
        raise ValidationError({"dose_mg": too_much})
    strength_mg = strength_mg or suitable_strength(rx.medication, rx.form, dose_mg, rx.strength_mg)
    if dose_mg == rx.dose_mg and frequency == rx.frequency and strength_mg == rx.strength_mg:
        raise ValidationError({"dose_mg": "That is the current dose, frequency and strength: nothing would change."})
    effective_date = effective_date or timezone.localdate()
    if effective_date < rx.start_date:
        raise ValidationError({"effective_date": "A change cannot take effect before the prescription started."})
    alerts = _check_safety(
        rx.patient,
        safety.Proposal(
            medication=rx.medication,
            mg_per_day=_per_day(dose_mg, frequency),
            mg_per_dose=dose_mg,
            form=rx.form,
            route=rx.route,
            start_date=rx.start_date,
        ),
        replacing=rx,
        review=safety_review,
    )
    event = PrescriptionEvent.objects.create(
        prescription=rx,
        kind=PrescriptionEvent.Kind.DOSE_CHANGED,
        from_dose_mg=rx.dose_mg,
        to_dose_mg=dose_mg,
        from_frequency=rx.frequency,
        to_frequency=frequency,
        effective_date=effective_date,
        reason=reason,
        note=note,
        actor=actor,
        visit_note=visit_note,
        **_safety_fields(alerts, safety_review),
    )
    rx.dose_mg, rx.frequency, rx.strength_mg = dose_mg, frequency, strength_mg
    rx.sig = generate_sig(
        form=rx.form,
        strength_mg=strength_mg,
        dose_mg=dose_mg,
        frequency=frequency,
        route=rx.route,
        extra=rx.extra_instructions,
    )
    rx.save(update_fields=["dose_mg", "frequency", "strength_mg", "sig"])
    return event, alerts


@transaction.atomic
def discontinue(
    prescription: Prescription,
    *,
    actor: User,
    reason: str,
    note: str = "",
    effective_date: datetime.date | None = None,
    abrupt_stop_justification: str = "",
    visit_note=None,
    request=None,
) -> PrescriptionEvent:
    """Stop now. Drugs that must not stop abruptly need a stated justification (else: taper)."""
    rx = _lock(prescription)
    if not reason:
        raise ValidationError({"reason": "Choose why the medicine is stopped."})
    if rx.medication.taper_required and not abrupt_stop_justification.strip():
        raise ValidationError(
            {
                "abrupt_stop_justification": f"{rx.medication.generic_name} should not be stopped abruptly "
                f"({rx.medication.taper_note or 'taper recommended'}). Plan a taper, or say why it must stop now."
            }
        )
    effective_date = effective_date or timezone.localdate()
    if effective_date < rx.start_date:
        raise ValidationError({"effective_date": "The stop date cannot be before the start date."})
    full_note = note
    if abrupt_stop_justification.strip():
        full_note = f"{note}\nStopped without taper: {abrupt_stop_justification.strip()}".strip()
    return _stop(
        rx,
        actor=actor,
        reason=reason,
        note=full_note,
        effective_date=effective_date,
        visit_note=visit_note,
        request=request,
    )


def _stop(rx, *, actor, reason, note, effective_date, visit_note, request) -> PrescriptionEvent:
    event = PrescriptionEvent.objects.create(
        prescription=rx,
        kind=PrescriptionEvent.Kind.DISCONTINUED,
        from_dose_mg=rx.dose_mg,
        to_dose_mg=Decimal(0),
        from_frequency=rx.frequency,
        effective_date=effective_date,
        reason=reason,
        note=note,
        actor=actor,
        visit_note=visit_note,
    )
    rx.status = Prescription.Status.DISCONTINUED
    rx.end_date = effective_date
    rx.discontinue_reason = reason
    rx.save(update_fields=["status", "end_date", "discontinue_reason"])
    DosePlan.objects.filter(prescription=rx, status=DosePlan.Status.ACTIVE).update(
        status=DosePlan.Status.CANCELLED, ended_note=f"Ended {effective_date:%Y-%m-%d}: the prescription was stopped."
    )
    _record(rx, actor, request, AuditEvent.Action.UPDATE, change="discontinued", reason=reason)
    return event


def validate_supply(medication: Medication, *, quantity: int | None, refills: int | None) -> None:
    """The limits a refill's supply shares with a new prescription (quantity 1–1000, refills ≤ 11,
    none on Schedule II)."""
    errors: dict[str, str] = {}
    if quantity is None or not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = f"Quantity must be between 1 and {MAX_QUANTITY}."
    if refills is None or refills < 0 or refills > MAX_REFILLS:
        errors["refills"] = f"Refills must be between 0 and {MAX_REFILLS}."
    elif refills and medication.dea_schedule in NO_REFILL_SCHEDULES:
        errors["refills"] = f"{medication.generic_name} is Schedule II: refills are not allowed."
    if errors:
        raise ValidationError(errors)


def approve_refill(
    prescription: Prescription, *, actor: User, quantity: int, refills: int, note: str = "", request=None
) -> PrescriptionEvent:
    """More of the same: a REFILL_APPROVED event with the supply authorised (the dose and the
    instructions do not change), and the prescription's quantity and refills become that supply.
    Runs inside the caller's transaction (medications.refills.approve, which locks the request)."""
    rx = _lock(prescription)
    validate_supply(rx.medication, quantity=quantity, refills=refills)
    event = PrescriptionEvent.objects.create(
        prescription=rx,
        kind=PrescriptionEvent.Kind.REFILL_APPROVED,
        to_dose_mg=rx.dose_mg,
        to_frequency=rx.frequency,
        effective_date=timezone.localdate(),
        reason=ChangeReason.STABLE,
        note=note,
        actor=actor,
        quantity=quantity,
        refills=refills,
    )
    rx.quantity, rx.refills = quantity, refills
    rx.save(update_fields=["quantity", "refills"])
    _record(rx, actor, request, AuditEvent.Action.UPDATE, change="refill_approved")
    prescription.refresh_from_db()
    return event


@transaction.atomic
def start_taper(
    prescription: Prescription,
    *,
    actor: User,
    steps: list[PlanStepInput],
    stop_reason: str,
    start_date: datetime.date | None = None,
    visit_note=None,
    request=None,
) -> DosePlan:
    """Plan a taper to stop: the first step applies now, the last step (0 mg) stops it."""
    rx = _lock(prescription)
    if not stop_reason:
        raise ValidationError({"reason": "Choose why the medicine is being stopped."})
    _validate_steps(steps, taper=True, medication=rx.medication, frequency=rx.frequency)
    if steps[-1].dose_mg != 0:
        raise ValidationError("A taper to stop ends with a 0 mg step.")
    if steps[0].dose_mg > rx.dose_mg:
        raise ValidationError("A taper cannot start above the current dose.")
    start_date = start_date or timezone.localdate()
    # A new taper replaces any plan in progress.
    DosePlan.objects.filter(prescription=rx, status=DosePlan.Status.ACTIVE).update(
        status=DosePlan.Status.CANCELLED, ended_note=f"Ended {start_date:%Y-%m-%d}: replaced by a taper to stop."
    )
    plan = _create_plan(rx, DosePlan.Kind.TAPER, steps, actor, start_date, visit_note, stop_reason=stop_reason)
    if steps[0].dose_mg != rx.dose_mg:
        # The plan's own first step: applied as is, not reconciled against the plan it starts.
        _change(
            rx,
            actor=actor,
            dose_mg=steps[0].dose_mg,
            frequency=None,
            strength_mg=None,
            reason=ChangeReason.TAPER_STEP,
            note="Taper step 1",
            effective_date=start_date,
            visit_note=visit_note,
            safety_review=None,
        )
        _record(rx, actor, request, AuditEvent.Action.UPDATE, change="dose_changed", reason=ChangeReason.TAPER_STEP)
    _record(rx, actor, request, AuditEvent.Action.UPDATE, change="taper_planned")
    return plan


@transaction.atomic
def confirm_next_step(
    plan: DosePlan, *, actor: User, effective_date: datetime.date | None = None, visit_note=None, request=None
) -> PrescriptionEvent:
    plan = DosePlan.objects.select_for_update().get(pk=plan.pk)
    if plan.status != DosePlan.Status.ACTIVE:
        raise ValidationError("This plan is no longer in progress.")
    step = plan.next_step
    if step is None:
        raise ValidationError("Every step of this plan has been confirmed.")
    rx = _lock(plan.prescription)
    effective_date = effective_date or timezone.localdate()
    step.started_on = effective_date
    step.confirmed_by = actor
    step.save(update_fields=["started_on", "confirmed_by"])
    is_last = plan.next_step is None
    if step.dose_mg == 0:
        event = _stop(
            rx,
            actor=actor,
            reason=plan.stop_reason or ChangeReason.NO_LONGER_NEEDED,
            note=f"Taper completed (step {step.position}).",
            effective_date=effective_date,
            visit_note=visit_note,
            request=request,
        )
    else:
        reason = ChangeReason.TITRATION_STEP if plan.kind == DosePlan.Kind.TITRATION else ChangeReason.TAPER_STEP
        event, _ = _change(
            rx,
            actor=actor,
            dose_mg=step.dose_mg,
            frequency=None,
            strength_mg=None,
            reason=reason,
            note=f"{plan.get_kind_display()} step {step.position}",
            effective_date=effective_date,
            visit_note=visit_note,
            safety_review=None,
        )
        _record(rx, actor, request, AuditEvent.Action.UPDATE, change="dose_changed", reason=reason)
    if is_last:
        DosePlan.objects.filter(pk=plan.pk).update(status=DosePlan.Status.COMPLETED)
    return event
