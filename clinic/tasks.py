from __future__ import annotations

import socket
from importlib import import_module

from celery import shared_task
from django.conf import settings

from clinic import health, metrics_count


@shared_task(ignore_result=False)
def ping(token: str) -> dict[str, str]:
    """Round trip for health checks and tests: proves a worker took and ran a task."""
    return {"token": token, "worker": socket.gethostname()}


@shared_task
def clear_expired_sessions() -> None:
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()


@shared_task(name="clinic.tasks.beat_heartbeat")
def beat_heartbeat() -> None:
    """Every minute from beat (clinic.schedules): the row /healthz reads to know beat ticks."""
    health.beat()


# ~13 s for 366 days at 20,000 patients (docs/performance.md): the 60 s default would leave
# little room for a larger network or a slow night.
@shared_task(soft_time_limit=900, time_limit=960)
def count_metrics() -> None:
    """Each night (clinic.schedules): the clinic metrics of the past days (clinic.metrics_count)."""
    metrics_count.count()
