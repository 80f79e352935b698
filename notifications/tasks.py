"""Celery tasks of the outbox (found by autodiscover_tasks()). Their registered names predate the
notifications app and are kept, so messages already queued and beat's stored schedule still find
them. Schedules are declared in clinic/schedules.py."""

from __future__ import annotations

from collections import Counter

from celery import shared_task

from notifications import dispatch, sending


@shared_task(name="clinic.tasks.send_notifications")
def send_notifications(notification_ids: list[str]) -> dict[str, int]:
    """Deliver a batch of Notification rows (what the planners and the dispatcher publish). Safe
    to run twice: each row's status decides. Returns how many rows ended in each status."""
    return dict(Counter(str(status) for status in sending.send_batch(notification_ids).values()))


@shared_task(name="clinic.tasks.send_notification")
def send_notification(notification_id: str) -> str | None:
    """Deliver one Notification row: messages published before batches existed (a rolling deploy)
    and anything else naming one row. Safe to run twice: the row's status decides."""
    return sending.send(notification_id)


@shared_task(name="clinic.tasks.dispatch_notifications")
def dispatch_notifications() -> int:
    """Every minute: claim due rows and stale leases, publish them. Harmless if beat doubles."""
    return len(dispatch.dispatch_due())
