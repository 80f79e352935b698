from __future__ import annotations

from celery import shared_task

from medications import reassessment


@shared_task
def plan_reassessments() -> int:
    """Daily: open the questionnaires that are due (medications.reassessment), each with a PHI-free
    reminder through the outbox. Idempotent: a second run the same day creates nothing."""
    return len(reassessment.plan_reassessments())
