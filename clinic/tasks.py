from __future__ import annotations

import socket
from importlib import import_module

from celery import shared_task
from django.conf import settings

from clinic import health


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
