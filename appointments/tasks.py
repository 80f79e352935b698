"""Celery tasks of the appointments app (found by autodiscover_tasks()). Each calls a domain
function; schedules are declared in clinic/schedules.py."""

from __future__ import annotations

from celery import shared_task

from appointments import reminders, waitlist
from appointments.models import sync_note_signed
from medications import reviews


# The registered name predates this module and is kept for beat's stored schedule.
@shared_task(name="clinic.tasks.plan_reminders")
def plan_reminders() -> dict[str, int]:
    """Every 10 minutes: the safety-net planners (idempotent), lapsed waitlist offers, and the
    home's "note missing" flag for notes signed by writes that went around VisitNote (bulk loads)."""
    return {
        "reminders": len(reminders.plan_upcoming_reminders()),
        "prescription_reviews": len(reviews.plan_prescription_reviews()),
        "expired_offers": waitlist.expire_offers(),
        "notes_flagged": sync_note_signed(),
    }
