"""Every periodic task, declared once. ``manage.py sync_periodic_tasks`` loads them
into django-celery-beat, where a clinic admin can tune them without a deploy.

``"safety": True`` marks the tasks a patient's safety depends on (an unacknowledged emergency is
escalated, a reminder or alert leaves the outbox). Those cannot be switched off or slowed down from
the admin (clinic/admin.py), ``sync_periodic_tasks`` restores them with an audit row if it finds
them changed, ``/healthz`` fails while one is missing or disabled (clinic/health.py), and with
SENTRY_DSN set each gets a Sentry cron monitor (clinic/errortracking.py). An admin may still make
one run *more* often.
"""

from __future__ import annotations

PERIODIC_TASKS: dict[str, dict] = {
    "Clear expired sessions": {
        "task": "clinic.tasks.clear_expired_sessions",
        "crontab": {"minute": "17", "hour": "3"},
        "description": "Deletes expired login sessions from the database each night (03:17 UTC).",
    },
    "Clear expired app tokens": {
        "task": "interop.tasks.clear_expired_tokens",
        "crontab": {"minute": "27", "hour": "3"},
        "description": "Deletes the FHIR API's expired and revoked OAuth tokens and codes each night (03:27 UTC).",
    },
    "Count clinic metrics": {
        "task": "clinic.tasks.count_metrics",
        "crontab": {"minute": "40", "hour": "7"},
        "description": "Counts the clinic metrics of each of the last 366 days each night (07:40 UTC), so the "
        "metrics pages add up stored days and count only today live (docs/metrics.md).",
    },
    "Dispatch notifications": {
        "task": "clinic.tasks.dispatch_notifications",
        "every_seconds": 60,
        "safety": True,
        "description": "Sends due reminders and notifications from the outbox, and re-sends stalled ones.",
    },
    "Plan reminders": {
        "task": "clinic.tasks.plan_reminders",
        "every_seconds": 600,
        "description": "Makes sure upcoming appointments have reminders, nudges overdue prescription reviews, "
        "and passes lapsed waitlist offers on.",
    },
    "Plan lab reminders": {
        "task": "medications.tasks.plan_lab_reminders",
        "every_seconds": 3600,
        "description": "Tells patients (without naming the test) when a monitoring lab or check falls due.",
    },
    "Plan adherence check-ins": {
        "task": "medications.tasks.plan_adherence_reminders",
        "every_seconds": 3600,
        "description": "Tells patients on a medicine (without naming it) that their check-in is open: every "
        'TITRATE_ADHERENCE_DAYS days (default 7), "how many days did you miss a dose?".',
    },
    "Plan reassessments": {
        "task": "patients.tasks.plan_reassessments",
        "every_seconds": 3600,
        "description": "Sends patients the PHQ-9 / GAD-7 that fall due (every 2 weeks after a medication change, "
        "every 8 weeks when stable), with a reminder that names nothing clinical.",
    },
    "Escalate safety alerts": {
        "task": "clinic.tasks.escalate_alerts",
        "every_seconds": 60,
        "safety": True,
        "description": "Escalates, once, each urgent or emergency alert the care team has not acknowledged within "
        "TITRATE_ALERT_ESCALATE_MINUTES (default 60) to the on-call contact.",
    },
    "Prepare and expire record downloads": {
        "task": "records.tasks.sweep_records",
        "every_seconds": 60,
        "description": "Starts patients' record requests a worker has not picked up, retries builds whose worker "
        "stopped, and deletes prepared records once their download link expires (TITRATE_RECORD_LINK_HOURS).",
    },
    "Beat heartbeat": {
        "task": "clinic.tasks.beat_heartbeat",
        "every_seconds": 60,
        "safety": True,
        "description": "Proves beat and a worker are alive: /healthz fails when its last run is older than "
        "TITRATE_HEALTH_BEAT_MAX_AGE_SECONDS (default 180).",
    },
}

# The names of the tasks a patient's safety depends on (see above).
SAFETY_TASKS: frozenset[str] = frozenset(name for name, spec in PERIODIC_TASKS.items() if spec.get("safety"))
