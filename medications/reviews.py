"""Prescription reviews: the prescriber's in-app nudge when prescriptions are due for review
(which ones are due is medications.reassessment's rule). One notice per prescriber per planner run
says how many ("3 prescriptions are due for review"), never which: the psychiatrist home lists
them. PHI-free."""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.models import Notification
from medications.models import ReviewDigest, ReviewNudge
from medications.reassessment import prescriptions_due_for_review
from notifications import kinds, messages, outbox

Kind, Channel = Notification.Kind, Notification.Channel

REVIEW_WINDOW_DAYS = 30
FOLLOW_UP_TTL = datetime.timedelta(days=7)


@transaction.atomic
def plan_prescription_reviews() -> list[Notification]:
    """One in-app notice to each prescriber with prescriptions newly due for review
    (medications.reassessment: TITRATE_RX_REVIEW_WEEKS after a start or dose change with no visit
    note since, or 90+ days old with no visit note for 90 days). Each prescription is counted at
    most once per 30-day window (ReviewNudge), so running it again creates nothing, and twenty
    prescriptions due at once are one notice, not twenty."""
    now = timezone.now()
    today = now.date()
    window = (today - datetime.date(2000, 1, 1)).days // REVIEW_WINDOW_DAYS
    due = prescriptions_due_for_review(today)
    told = set(
        ReviewNudge.objects.filter(window=window, prescription__in=[d.prescription.pk for d in due]).values_list(
            "prescription_id", flat=True
        )
    )
    new: dict = defaultdict(list)
    for item in due:
        if item.prescription.pk not in told:
            new[item.prescription.prescriber].append(item.prescription.pk)
    rows = []
    for prescriber, prescription_ids in new.items():
        try:
            with transaction.atomic():
                digest = ReviewDigest.objects.create(prescriber=prescriber, count=len(prescription_ids))
                ReviewNudge.objects.bulk_create(
                    ReviewNudge(prescription_id=pk, window=window, digest=digest) for pk in prescription_ids
                )
        except IntegrityError:
            continue  # a planner running at the same moment counted them first; it tells them
        rows.append(
            outbox.new_row(
                idempotency_key=f"rx-review-digest:{digest.pk}:{Channel.IN_APP}",
                kind=Kind.PRESCRIPTION_REVIEW_DUE,
                channel=Channel.IN_APP,
                recipient=prescriber,
                subject=digest,
                send_at=now,
                expires_at=now + FOLLOW_UP_TTL,
            )
        )
    return outbox.insert(rows)


def _review_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    digest = row.subject if isinstance(row.subject, ReviewDigest) else None
    if digest is None:  # a nudge about one prescription, planned before digests
        if not row.patient_id:
            return {}
        return {"details_url": messages.url("patients:chart", row.patient_id, absolute=absolute), "count": "1"}
    return {"details_url": messages.url("psychiatrist_home", absolute=absolute), "count": str(digest.count)}


def _digests():
    """What the review notice's hook reads of its digest."""
    return ReviewDigest.objects.only("count")


def register_kinds() -> None:
    """Called from MedicationsConfig.ready()."""
    kinds.register(Kind.PRESCRIPTION_REVIEW_DUE, context=_review_context, subjects=_digests)
