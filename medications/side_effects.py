"""Side-effect reports: submitted by patients (or staff on their behalf), triaged at once,
acknowledged and answered by a psychiatrist."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEvent, User
from medications import language, triage
from medications.models import (
    REPLY_MAX_LENGTH,
    OutsideMedication,
    Prescription,
    PrescriptionEvent,
    SideEffectReply,
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
    result = triage.assess(
        symptoms=symptoms,
        text=other_symptoms,
        drugs=[triage.drug_from_medication(medication) for medication in medications],
        severity=severity,
        recent=[triage.drug_from_medication(medication) for medication in recent_changes(active, outside)],
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
    alert = alerts.raise_alert(
        patient=patient, level=result.level, reasons=result.reasons, source=report, request=request, audited=False
    )
    detail = {"urgent": result.urgent, "triage_level": result.level}
    if alert is not None:
        detail["alert_raised"] = alert.pk
    audit.record(AuditEvent.Action.CREATE, request=request, actor=reporter, patient=patient, obj=report, detail=detail)
    return report


@transaction.atomic
@transaction.atomic
def acknowledge(report: SideEffectReport, *, actor: User, request=None) -> SideEffectReport:
    updated = SideEffectReport.objects.filter(pk=report.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=actor
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
) -> SideEffectReply:
    """Add a reply to the report's history (replies are never edited: the patient sees each one,
    dated). The first reply also acknowledges the report and its alert."""
    text = text.strip()
    if not text:
        raise ValidationError({"reply": "Write a reply the patient will read."})
    if len(text) > REPLY_MAX_LENGTH:
        raise ValidationError({"reply": f"A reply can be at most {REPLY_MAX_LENGTH} characters (it has {len(text)})."})
    if resulting_event is not None and resulting_event.prescription.patient_id != report.patient_id:
        raise ValidationError({"resulting_event": "Choose a change from this patient's medicines."})
    now = timezone.now()
    answer = SideEffectReply.objects.create(report=report, author=actor, text=text, created_at=now)
    newly_acknowledged = report.acknowledged_at is None
    if newly_acknowledged:
        report.acknowledged_at, report.acknowledged_by = now, actor
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
