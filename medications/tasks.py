"""Celery tasks of the medications app (found by the app's autodiscover_tasks()). Each calls a
domain function; schedules are declared in clinic/schedules.py."""

from __future__ import annotations

from celery import shared_task

from medications import adherence, due, monitoring


@shared_task
def plan_lab_reminders() -> int:
    """Hourly: PHI-free reminders for monitoring tests that are due (idempotent); then the full
    rebuild of the psychiatrist home's due lists, the safety net of medications.due (bounds their
    staleness to an hour)."""
    planned = len(monitoring.plan_lab_reminders())
    due.rebuild()
    return planned


@shared_task
def plan_adherence_reminders() -> int:
    """Hourly: tell patients (PHI-free) that their medicine check-in is open (idempotent per window)."""
    return len(adherence.plan_reminders())
