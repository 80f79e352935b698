"""Prescription reviews: the prescriber's in-app nudge when a prescription is due for review
(which ones are due is medications.reassessment's rule). PHI-free: the message links to the chart."""

from __future__ import annotations

import datetime

from django.utils import timezone

from clinic.models import Notification
from medications.reassessment import prescriptions_due_for_review
from notifications import kinds, messages, outbox

Kind, Channel = Notification.Kind, Notification.Channel

REVIEW_WINDOW_DAYS = 30
FOLLOW_UP_TTL = datetime.timedelta(days=7)


def plan_prescription_reviews() -> list[Notification]:
    """In-app nudge to the prescriber for each prescription due for review
    (medications.reassessment: TITRATE_RX_REVIEW_WEEKS after a start or dose change with no visit
    note since, or 90+ days old with no visit note for 90 days). At most one per prescription
    per 30-day window."""
    now = timezone.now()
    today = now.date()
    window = (today - datetime.date(2000, 1, 1)).days // REVIEW_WINDOW_DAYS
    rows = [
        outbox.new_row(
            idempotency_key=f"rx-review:{due.prescription.pk}:w{window}:{Channel.IN_APP}",
            kind=Kind.PRESCRIPTION_REVIEW_DUE,
            channel=Channel.IN_APP,
            recipient=due.prescription.prescriber,
            patient_id=due.prescription.patient_id,
            send_at=now,
            expires_at=now + FOLLOW_UP_TTL,
        )
        for due in prescriptions_due_for_review(today)
    ]
    return outbox.insert(rows)


def _review_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    if not row.patient_id:
        return {}
    return {"details_url": messages.url("patients:chart", row.patient_id, absolute=absolute)}


def register_kinds() -> None:
    """Called from MedicationsConfig.ready()."""
    kinds.register(Kind.PRESCRIPTION_REVIEW_DUE, context=_review_context)
