"""Every periodic task, declared once. ``manage.py sync_periodic_tasks`` loads them
into django-celery-beat, where a clinic admin can tune them without a deploy."""

from __future__ import annotations

PERIODIC_TASKS: dict[str, dict] = {
    "Clear expired sessions": {
        "task": "clinic.tasks.clear_expired_sessions",
        "crontab": {"minute": "17", "hour": "3"},
        "description": "Deletes expired login sessions from the database each night (03:17 UTC).",
    },
    "Dispatch notifications": {
        "task": "clinic.tasks.dispatch_notifications",
        "every_seconds": 60,
        "description": "Sends due reminders and notifications from the outbox, and re-sends stalled ones.",
    },
    "Plan reminders": {
        "task": "clinic.tasks.plan_reminders",
        "every_seconds": 600,
        "description": "Makes sure upcoming appointments have reminders, nudges overdue prescription reviews, "
        "and passes lapsed waitlist offers on.",
    },
    # slot:tasks-labs
    # slot:tasks-questionnaires
    # slot:tasks-alerts
}
