"""Refill requests: a patient asks for more of an active prescription (which pharmacy, how many days
are left); the psychiatrist approves — a REFILL_APPROVED prescription event with the quantity and
refills, written by medications.prescribing — or declines with a reason the patient reads.

Before deciding, the psychiatrist sees what is due for the medicine (:func:`concerns`): overdue or
due monitoring (medications.monitoring, e.g. no lithium level within the profile's interval) and a
prescription review that is due (medications.reassessment). The patient is told that the request
was answered through the outbox, without naming the medicine or the answer.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic import audit, dates
from clinic.models import AuditEvent, Notification, User
from medications import monitoring, prescribing, reassessment
from medications.models import REFILL_DAYS_LEFT_MAX, Prescription, RefillRequest
from notifications import kinds, messages, outbox
from patients.models import Patient

# An answer unread for a week is no longer news: the refill page shows it anyway.
ANSWER_TTL = datetime.timedelta(days=7)


@dataclass(frozen=True)
class Concern:
    """Something due for the medicine, shown on the request before it is approved."""

    label: str
    detail: str
    overdue: bool


@transaction.atomic
def request_refill(
    patient: Patient, prescription: Prescription, *, pharmacy: str, days_left: int, by: User, request=None
) -> RefillRequest:
    if prescription.patient_id != patient.pk or not prescription.is_active:
        raise ValidationError({"prescription": _("Choose one of your current medicines.")})
    if not 0 <= days_left <= REFILL_DAYS_LEFT_MAX:
        raise ValidationError(
            {"days_left": _("Enter a number of days from 0 to %(most)d.") % {"most": REFILL_DAYS_LEFT_MAX}}
        )
    if not pharmacy.strip():
        raise ValidationError({"pharmacy": _("Say which pharmacy should get the refill.")})
    if RefillRequest.objects.pending().filter(prescription=prescription).exists():
        raise ValidationError(
            {
                "prescription": _(
                    "You already asked for a refill of this medicine; your psychiatrist has not answered yet."
                )
            }
        )
    refill = RefillRequest(
        patient=patient, prescription=prescription, pharmacy=pharmacy.strip(), days_left=days_left, requested_by=by
    )
    try:
        with transaction.atomic():
            refill.save()
    except IntegrityError as error:
        if "one_pending_refill_per_rx" not in str(error):
            raise
        # A second tab's request won the race: the partial unique index decided.
        raise ValidationError({"prescription": _("A refill of this medicine was just requested.")}) from None
    audit.record(AuditEvent.Action.CREATE, request=request, actor=by, patient=patient, obj=refill)
    return refill


def _lock_pending(refill: RefillRequest) -> RefillRequest:
    locked = RefillRequest.objects.select_for_update().filter(pk=refill.pk, status=RefillRequest.Status.PENDING).first()
    if locked is None:
        raise ValidationError("This request has already been answered.")
    return locked


@transaction.atomic
def approve(
    refill: RefillRequest, *, by: User, quantity: int, refills: int, note: str = "", request=None
) -> RefillRequest:
    locked = _lock_pending(refill)
    event = prescribing.approve_refill(
        locked.prescription, actor=by, quantity=quantity, refills=refills, note=note, request=request
    )
    return _decide(locked, by=by, status=RefillRequest.Status.APPROVED, event=event, request=request)


@transaction.atomic
def decline(refill: RefillRequest, *, by: User, reason: str, request=None) -> RefillRequest:
    if not reason.strip():
        raise ValidationError({"reason": "Say why, in words the patient will read."})
    locked = _lock_pending(refill)
    locked.decline_reason = reason.strip()
    return _decide(locked, by=by, status=RefillRequest.Status.DECLINED, event=None, request=request)


def _decide(refill: RefillRequest, *, by: User, status: str, event, request) -> RefillRequest:
    refill.status, refill.decided_by, refill.decided_at, refill.event = status, by, timezone.now(), event
    refill.save(update_fields=["status", "decided_by", "decided_at", "decline_reason", "event"])
    audit.record(
        AuditEvent.Action.UPDATE,
        request=request,
        actor=by,
        patient=refill.patient,
        obj=refill,
        detail={"change": status},
    )
    if refill.patient.user_id is not None:
        # "Your care team answered your refill request": no medicine, no answer (docs/security.md).
        outbox.notify(
            refill.patient.user,
            key=f"refill-answered:{refill.pk}",
            kind=Notification.Kind.REFILL_ANSWERED,
            expires_at=timezone.now() + ANSWER_TTL,
            patient=refill.patient,
        )
    return refill


def concerns(prescription: Prescription, today: datetime.date | None = None) -> list[Concern]:
    """What is due or overdue for this prescription's medicine: monitoring items whose profile it
    brings in (two queries) and a prescription review that is due (one query)."""
    today = today or timezone.localdate()
    found = []
    drug = prescription.medication.generic_name
    for item in monitoring.due_items(prescription.patient, today):
        if item.is_open and drug in item.drugs:
            found.append(
                Concern(
                    item.label,
                    f"due {dates.day(item.due_on, year=True)} ({item.reason})",
                    item.status == monitoring.Status.OVERDUE,
                )
            )
    annotated = reassessment.review_prescriptions(today).filter(pk=prescription.pk).first()
    if annotated is not None and annotated.is_active:
        due = reassessment.review_due(annotated)
        if due is not None and due[2] <= today:
            on, why, _ = due
            found.append(Concern("Prescription review", f"due {dates.day(on, year=True)}: {why}", on < today))
    return found


def _answered_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    return {"details_url": messages.url("medications:my_refills", absolute=absolute)}


def register_kinds() -> None:
    """Called from MedicationsConfig.ready()."""
    kinds.register(Notification.Kind.REFILL_ANSWERED, context=_answered_context)
