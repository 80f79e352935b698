from __future__ import annotations

from celery import shared_task

from medications import reassessment
from patients import alerts


@shared_task
def plan_reassessments() -> int:
    """Daily: open the questionnaires that are due (medications.reassessment), each with a PHI-free
    reminder through the outbox. Idempotent: a second run the same day creates nothing."""
    return len(reassessment.plan_reassessments())


# The registered name predates this module and is kept for beat's stored schedule.
@shared_task(name="clinic.tasks.escalate_alerts")
def escalate_alerts() -> int:
    """Every minute: escalate, once, each alert nobody acknowledged in time. Safe to run twice at
    once (the claim is a conditional UPDATE)."""
    return len(alerts.escalate_overdue())
