"""Celery tasks of the medications app (found by the app's autodiscover_tasks()). Each calls a
domain function; schedules are declared in clinic/schedules.py."""

from __future__ import annotations

from celery import shared_task


@shared_task
def plan_lab_reminders() -> int:
    """Hourly: PHI-free reminders for monitoring tests that are due (idempotent)."""
    from medications import monitoring

    return len(monitoring.plan_lab_reminders())
