"""Questionnaires: assign one, fill one in (patient in the portal, or psychiatrist in a visit),
score it, store it, and triage it. The one way a QuestionnaireResponse is written.

Scoring is patients/instruments.py (pure code). A response is stored only whole: incomplete
answers raise ValidationError before anything is written. PHQ-9 item 9 > 0 raises an emergency
alert (patients.alerts) in the same transaction as the response.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from clinic import audit
from clinic.models import AuditEvent, Notification, User
from notifications import kinds, messages, outbox
from patients import alerts, instruments
from patients.models import Patient, QuestionnaireAssignment, QuestionnaireResponse

Assignment, Response = QuestionnaireAssignment, QuestionnaireResponse
# The reminder is worth sending for a week; after that the next planner run takes over.
REMINDER_TTL = datetime.timedelta(days=7)
# Measurement-based care: a patient is measured by these (clinic.metrics' coverage); submitting
# one records Patient.last_measured_at.
MEASUREMENT_INSTRUMENTS = (instruments.PHQ9, instruments.GAD7)


def record_measured(patient: Patient, *, at: datetime.datetime) -> None:
    """A PHQ-9 or GAD-7 of ``patient`` was submitted at ``at``: Patient.last_measured_at, unless a
    later one is recorded (a conditional UPDATE: two submissions committing in either order leave
    the later time). Called by ``submit`` in the response's transaction."""
    later = Q(last_measured_at__isnull=True) | Q(last_measured_at__lt=at)
    Patient.objects.filter(later, pk=patient.pk).update(last_measured_at=at)
    patient.last_measured_at = at if patient.last_measured_at is None else max(patient.last_measured_at, at)


def enabled(code: str) -> bool:
    return code in instruments.INSTRUMENTS and code not in settings.TITRATE_DISABLED_INSTRUMENTS


def available(*, rater: str | None = None) -> list[instruments.Instrument]:
    """Instruments this clinic offers (optionally only those a patient fills in themselves)."""
    return [i for code, i in instruments.INSTRUMENTS.items() if enabled(code) and (rater is None or i.rater == rater)]


def _errors(error: instruments.AnswerError) -> ValidationError:
    missing = [key for key, message in error.errors.items() if key != "__all__"]
    summary = error.errors.get("__all__") or ngettext(
        "Answer every question to finish (%(count)d still to answer). Nothing has been saved yet.",
        "Answer every question to finish (%(count)d still to answer). Nothing has been saved yet.",
        len(missing),
    ) % {"count": len(missing)}
    # The item messages are instruments.validate's fixed English sentences, shown in the page's language.
    return ValidationError({"__all__": [summary], **{f"item_{key}": [gettext(error.errors[key])] for key in missing}})


@transaction.atomic
def submit(
    *,
    patient: Patient,
    instrument: str,
    answers: dict,
    completed_by: User,
    context: str,
    visit_note=None,
    assignment: QuestionnaireAssignment | None = None,
    request=None,
    language: str = "en",
) -> QuestionnaireResponse:
    """Score and store one questionnaire; close its assignment; triage; follow up a positive
    short screen with the full questionnaire. Raises ValidationError (nothing stored) for
    incomplete or invalid answers, or a questionnaire this person may not fill."""
    if not enabled(instrument):
        raise ValidationError({"__all__": ["This questionnaire is not offered by the clinic."]})
    definition = instruments.get(instrument)
    if context == Response.Context.PORTAL and not definition.patient_rated:
        raise ValidationError({"__all__": [f"The {definition.name} is filled in by a clinician."]})
    if visit_note is not None and (visit_note.patient_id != patient.pk or context != Response.Context.VISIT):
        raise ValidationError({"visit_note": ["Choose a visit note of this patient."]})
    if assignment is None and context == Response.Context.VISIT:
        # Filled in the room: it also answers the patient's open request for the same questionnaire.
        assignment = Assignment.objects.open().filter(patient=patient, instrument=instrument).first()
    if assignment is not None:
        # Locked, so a double submit (two tabs, a resent form) completes it once.
        assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
        if assignment.patient_id != patient.pk or assignment.instrument != instrument:
            raise ValidationError({"__all__": ["This questionnaire was not assigned to this patient."]})
        if assignment.status != Assignment.Status.OPEN:
            raise ValidationError({"__all__": ["This questionnaire has already been completed or withdrawn."]})
    try:
        result = definition.score(answers)
    except instruments.AnswerError as error:
        raise _errors(error) from None

    previous = (
        Response.objects.filter(patient=patient, instrument=instrument)
        .order_by("-submitted_at", "-id")
        .only("total", "band")
        .first()
    )
    reason = (
        instruments.worsening(instrument, previous.total, previous.band, result.total, result.band) if previous else ""
    )
    response = Response.objects.create(
        patient=patient,
        instrument=instrument,
        answers=result.answers,
        total=result.total,
        band=result.band,
        triage_level=result.triage_level,
        triage_reasons=list(result.triage_reasons),
        previous_total=previous.total if previous else None,
        worsened=bool(reason),
        worsening_reason=reason,
        completed_by=completed_by,
        context=context,
        # Only a validated translation counts as answered in that language (else it was English).
        language=language if instruments.available_in(instrument, language) else "en",
        visit_note=visit_note,
        assignment=assignment,
    )
    if instrument in MEASUREMENT_INSTRUMENTS:
        record_measured(patient, at=response.submitted_at)
    if assignment is not None:
        assignment.status, assignment.closed_at = Assignment.Status.COMPLETED, timezone.now()
        assignment.save(update_fields=["status", "closed_at"])
        settle_reminders(assignment)
    # One audit row for the submission, naming what it set off (alert, follow-up request).
    detail = {"instrument": instrument, "context": context, "triage": result.triage_level}
    if result.triage_level != instruments.ROUTINE:
        alert = alerts.raise_alert(
            patient=patient,
            level=result.triage_level,
            reasons=list(result.triage_reasons),
            source=response,
            request=request,
            audited=False,
        )
        if alert is not None:
            detail["alert_raised"] = alert.pk
    follow_up = instruments.FOLLOW_UP.get(instrument)
    if follow_up and result.positive and enabled(follow_up):
        # §3a: a positive PHQ-2 / GAD-2 → give the full PHQ-9 / GAD-7.
        opened = open_assignment(
            patient=patient,
            instrument=follow_up,
            due_on=timezone.localdate(),
            reason=Assignment.Reason.SCREEN,
            assigned_by=None,
            request=request,
            audited=False,
        )
        if opened is not None:
            detail["follow_up_assignment"] = opened.pk
    audit.record(
        AuditEvent.Action.CREATE, request=request, actor=completed_by, patient=patient, obj=response, detail=detail
    )
    return response


def open_assignment(
    *, patient, instrument, due_on, reason, assigned_by, request=None, audited: bool = True
) -> QuestionnaireAssignment | None:
    """Create an open assignment and its reminder, unless one for this questionnaire is open
    already (then None). No other checks: callers validate. ``audited=False``: the caller's
    own audit row names it."""
    try:
        with transaction.atomic():
            assignment = Assignment.objects.create(
                patient=patient,
                instrument=instrument,
                due_on=due_on,
                reason=reason,
                assigned_by=assigned_by,
            )
    except IntegrityError:
        # The unique constraint: the planner, another tab or a screen follow-up opened it first.
        return None
    if audited:
        audit.record(
            AuditEvent.Action.CREATE,
            request=request,
            actor=assigned_by,
            patient=patient,
            obj=assignment,
            detail={"instrument": instrument, "reason": reason},
        )
    notify_due(assignment)
    return assignment


@transaction.atomic
def assign(
    *,
    patient: Patient,
    instrument: str,
    assigned_by: User | None,
    due_on: datetime.date | None = None,
    reason: str = Assignment.Reason.MANUAL,
    request=None,
) -> QuestionnaireAssignment:
    """Ask the patient to fill in a questionnaire in the portal, with a PHI-free reminder."""
    due_on = due_on or timezone.localdate()
    if not enabled(instrument):
        raise ValidationError({"instrument": ["Choose a questionnaire the clinic offers."]})
    definition = instruments.get(instrument)
    if not definition.patient_rated:
        raise ValidationError({"instrument": [f"The {definition.name} is rated by a clinician: fill it in a visit."]})
    if not patient.is_active:
        raise ValidationError({"__all__": ["This patient's record is inactive."]})
    if due_on < timezone.localdate():
        raise ValidationError({"due_on": ["The due date cannot be in the past."]})
    assignment = open_assignment(
        patient=patient,
        instrument=instrument,
        due_on=due_on,
        reason=reason,
        assigned_by=assigned_by,
        request=request,
    )
    if assignment is None:
        raise ValidationError({"instrument": [f"A {definition.name} is already waiting for the patient."]})
    return assignment


@transaction.atomic
def cancel(assignment: QuestionnaireAssignment, *, actor: User, request=None) -> bool:
    """Withdraw an open request. False if it was no longer open."""
    updated = Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.OPEN).update(
        status=Assignment.Status.CANCELLED, closed_at=timezone.now()
    )
    if updated:
        settle_reminders(assignment)
        audit.record(
            AuditEvent.Action.UPDATE,
            request=request,
            actor=actor,
            patient=assignment.patient,
            obj=assignment,
            detail={"change": "cancelled"},
        )
    return bool(updated)


def settle_reminders(assignment: QuestionnaireAssignment) -> None:
    """The request is filled or withdrawn: its reminders are done, read in the portal and
    cancelled where unsent (notifications.outbox.settle)."""
    if assignment.patient.user_id is not None:
        outbox.settle(key_prefix=f"questionnaire-due:{assignment.pk}:", recipient_id=assignment.patient.user_id)


def notify_due(assignment: QuestionnaireAssignment) -> list[Notification]:
    """The patient's reminder on each channel they enabled: "a questionnaire is waiting" — no
    name, no questionnaire, no score (the message templates only get plain strings)."""
    return outbox.notify(
        assignment.patient.user,
        key=f"questionnaire-due:{assignment.pk}",
        kind=Notification.Kind.QUESTIONNAIRE_DUE,
        expires_at=timezone.now() + REMINDER_TTL,
        patient=assignment.patient,
    )


def _due_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    return {"details_url": messages.url("patients:my_questionnaires", absolute=absolute)}


def register_kinds() -> None:
    """Called from PatientsConfig.ready()."""
    kinds.register(Notification.Kind.QUESTIONNAIRE_DUE, context=_due_context)
