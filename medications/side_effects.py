"""Side-effect reports: submitted by patients (or staff on their behalf), triaged at once,
acknowledged and answered by a psychiatrist."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEvent, User
from medications import language, threads, triage
from medications.models import (
    Message,
    OutsideMedication,
    Prescription,
    PrescriptionEvent,
    SideEffectReport,
)
from patients import alerts
from patients.models import Patient

# Serotonin toxicity and activation usually begin within days of a start, a dose increase or an
# added interacting drug (clinical.md §4b): such a change this recent is context for triage.
RECENT_CHANGE_DAYS = 14


def recent_changes(active: list[Prescription], outside: list[OutsideMedication] = ()) -> list:
    """The medicines among ``active`` started or raised in the last RECENT_CHANGE_DAYS days (one
    query whatever the number of prescriptions), and the coded ``outside`` ones started (or, without
    a start date, recorded) in that time."""
    since = timezone.localdate() - datetime.timedelta(days=RECENT_CHANGE_DAYS)
    raised = set(
        PrescriptionEvent.objects.filter(
            prescription__in=active, effective_date__gte=since, kind=PrescriptionEvent.Kind.DOSE_CHANGED
        )
        .filter(Q(from_dose_mg__isnull=True) | Q(to_dose_mg__gt=F("from_dose_mg")))
        .values_list("prescription_id", flat=True)
    )
    added = [row.medication for row in outside if (row.start_date or timezone.localdate(row.recorded_at)) >= since]
    return [rx.medication for rx in active if rx.start_date >= since or rx.pk in raised] + added


def assess_for_patient(
    patient: Patient,
    *,
    symptoms: list[str] = (),
    text: str = "",
    severity: str | None = None,
    prescription: Prescription | None = None,
) -> triage.TriageResult:
    """medications.triage.assess against the patient's whole regimen: what a side-effect report
    and a patient's message are both triaged with (three queries)."""
    # Every medicine the patient takes, not only the one they blame: a rash matters on
    # lamotrigine even when the report is about sertraline.
    active = list(Prescription.objects.active().filter(patient=patient).select_related("medication"))
    medications = [rx.medication for rx in active]
    if prescription is not None and prescription.medication not in medications:
        medications.append(prescription.medication)
    # Coded medicines from other prescribers count too: tramadol from the ER beside sertraline is a
    # serotonin-toxicity context the clinic did not prescribe (uncoded ones cannot be matched).
    outside = list(
        OutsideMedication.objects.active()
        .filter(patient=patient, medication__isnull=False)
        .select_related("medication")
    )
    medications += [row.medication for row in outside if row.medication not in medications]
    return triage.assess(
        symptoms=symptoms,
        text=text,
        drugs=[triage.drug_from_medication(medication) for medication in medications],
        severity=severity,
        recent=[triage.drug_from_medication(medication) for medication in recent_changes(active, outside)],
    )


def raise_alert_for(source, *, patient: Patient, result: triage.TriageResult, request=None) -> dict:
    """Page the care team about an emergency or urgent ``source`` (a report, a message) and escalate
    if nobody answers (patients.alerts): the audit detail naming the verdict and the alert, for
    the caller's one audit row."""
    alert = alerts.raise_alert(
        patient=patient, level=result.level, reasons=result.reasons, source=source, request=request, audited=False
    )
    detail = {"urgent": result.urgent, "triage_level": result.level}
    if alert is not None:
        detail["alert_raised"] = alert.pk
    return detail


@transaction.atomic
def submit_report(
    *,
    patient: Patient,
    reporter: User,
    prescription: Prescription | None,
    symptoms: list[str],
    other_symptoms: str,
    severity: str,
    onset_date: datetime.date,
    ongoing: bool,
    request=None,
) -> SideEffectReport:
    if prescription is not None and prescription.patient_id != patient.pk:
        raise ValidationError({"prescription": "Choose one of this patient's medicines."})
    if not symptoms and not other_symptoms.strip():
        raise ValidationError("Tick at least one symptom or describe what is happening.")
    if onset_date > timezone.localdate():
        raise ValidationError({"onset_date": "The start date cannot be in the future."})
    result = assess_for_patient(
        patient, symptoms=symptoms, text=other_symptoms, severity=severity, prescription=prescription
    )
    report = SideEffectReport.objects.create(
        patient=patient,
        prescription=prescription,
        symptoms=symptoms,
        other_symptoms=other_symptoms.strip(),
        severity=severity,
        onset_date=onset_date,
        ongoing=ongoing,
        reported_by=reporter,
        is_urgent=result.urgent,
        urgent_reasons=result.reasons,
        triage_level=result.level,
        language=language.detect(other_symptoms),
    )
    # Emergency and urgent reports page the care team (and escalate if nobody answers).
    detail = raise_alert_for(report, patient=patient, result=result, request=request)
    audit.record(AuditEvent.Action.CREATE, request=request, actor=reporter, patient=patient, obj=report, detail=detail)
    return report


@transaction.atomic
def acknowledge(report: SideEffectReport, *, actor: User, request=None) -> SideEffectReport:
    now = timezone.now()
    # The first response too, unless a reply came first (docs/metrics.md), in the same UPDATE.
    updated = SideEffectReport.objects.filter(pk=report.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now,
        acknowledged_by=actor,
        first_response_at=Least(Coalesce("first_response_at", Value(now)), Value(now)),
    )
    report.refresh_from_db()
    if updated:
        detail = {"change": "acknowledged"} | _acknowledge_alert(report, actor=actor, request=request)
        audit.record(
            AuditEvent.Action.UPDATE, request=request, actor=actor, patient=report.patient, obj=report, detail=detail
        )
    return report


def _acknowledge_alert(report: SideEffectReport, *, actor: User, request=None) -> dict:
    """Whoever acknowledges or answers a report has seen its alert: it must not escalate.
    Returns the audit detail naming the alert: the report's row covers both (one row per request)."""
    alert = alerts.alert_for_source(report)
    if alert is not None and alerts.acknowledge(alert, actor=actor, request=request, audited=False):
        return {"alert_acknowledged": alert.pk}
    return {}


@transaction.atomic
def reply(
    report: SideEffectReport,
    *,
    actor: User,
    text: str,
    resulting_event: PrescriptionEvent | None = None,
    request=None,
) -> Message:
    """Add a reply to the report's thread (messages are never edited: the patient sees each one,
    dated). The first reply also acknowledges the report and its alert."""
    if resulting_event is not None and resulting_event.prescription.patient_id != report.patient_id:
        raise ValidationError({"resulting_event": "Choose a change from this patient's medicines."})
    try:
        answer = threads.post(threads.report_thread(report), author=actor, text=text)
    except ValidationError as error:
        raise ValidationError({"reply": error.messages}) from error
    newly_acknowledged = report.acknowledged_at is None
    if newly_acknowledged:
        report.acknowledged_at, report.acknowledged_by = answer.created_at, actor
    if resulting_event is not None:
        report.resulting_event = resulting_event
    report.save(update_fields=["acknowledged_at", "acknowledged_by", "resulting_event"])
    detail = {"change": "replied", "reply": answer.pk}
    if newly_acknowledged:
        detail |= _acknowledge_alert(report, actor=actor, request=request)
    audit.record(
        AuditEvent.Action.UPDATE, request=request, actor=actor, patient=report.patient, obj=report, detail=detail
    )
    return answer
