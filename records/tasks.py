"""Celery tasks of the records app (found by autodiscover_tasks()); schedules are declared in
clinic/schedules.py. Each takes ids and calls records.builders / records.requests."""

from __future__ import annotations

from celery import shared_task

from records import builders, requests


# A long record's PDF takes seconds, not minutes (docs/records.md); these limits leave room for a
# slow worker and stay well under records.requests.LEASE, after which the sweep re-queues a row.
@shared_task(soft_time_limit=240, time_limit=300)
def prepare_record(request_id: str) -> str | None:
    """Build one requested record. Safe to run twice: the request's status decides."""
    row = builders.prepare(request_id)
    return row.status if row is not None else None


@shared_task
def sweep_records() -> dict[str, int]:
    """Every minute: start requests whose publish was lost, re-queue builds whose worker died,
    and delete files whose link expired."""
    found = requests.sweep()
    for request_id in found["start"]:
        requests.publish(request_id)
    return {"started": len(found["start"]), "expired": len(found["expired"])}
