from __future__ import annotations

import socket
from collections import Counter
from importlib import import_module

from celery import shared_task
from django.conf import settings


@shared_task(ignore_result=False)
def ping(token: str) -> dict[str, str]:
    """Round trip for health checks and tests: proves a worker took and ran a task."""
    return {"token": token, "worker": socket.gethostname()}


@shared_task
def clear_expired_sessions() -> None:
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()


# -- Reminders: the outbox (clinic/notifications.py, docs/reminders.md) ------------------------


@shared_task
def send_notifications(notification_ids: list[str]) -> dict[str, int]:
    """Deliver a batch of Notification rows (what the planners and the dispatcher publish). Safe
    to run twice: each row's status decides. Returns how many rows ended in each status."""
    from clinic import notifications

    return dict(Counter(str(status) for status in notifications.send_batch(notification_ids).values()))


@shared_task
def send_notification(notification_id: str) -> str | None:
    """Deliver one Notification row: messages published before batches existed (a rolling deploy)
    and anything else naming one row. Safe to run twice: the row's status decides."""
    from clinic import notifications

    return notifications.send(notification_id)


@shared_task
def dispatch_notifications() -> int:
    """Every minute: claim due rows and stale leases, publish them. Harmless if beat doubles."""
    from clinic import notifications

    return len(notifications.dispatch_due())


@shared_task
def plan_reminders() -> dict[str, int]:
    """Every 10 minutes: the safety-net planners (idempotent) and lapsed waitlist offers."""
    from clinic import notifications

    counts = {
        "reminders": len(notifications.plan_upcoming_reminders()),
        "prescription_reviews": len(notifications.plan_prescription_reviews()),
    }
    try:
        from appointments.waitlist import expire_offers
    except ImportError:  # scheduling ships separately; the planners work without it
        return counts
    counts["expired_offers"] = expire_offers()
    return counts


# -- Safety alerts (clinic/alerts.py) ------------------------------------------------------------


@shared_task
def escalate_alerts() -> int:
    """Every minute: escalate, once, each alert nobody acknowledged in time. Safe to run twice at
    once (the claim is a conditional UPDATE)."""
    from clinic import alerts

    return len(alerts.escalate_overdue())
