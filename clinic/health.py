"""Health checks for /healthz and ``manage.py check_health`` (docs/operations.md has a runbook for
each). Each returns None when healthy, else a short reason: a check's name and a few words, never a
patient, a host name or a traceback, because /healthz answers anyone.

Beyond "is it up" (database, broker, cache), they ask whether the work a patient's safety depends
on is happening: the outbox is not backing up, beat ticks, a worker answers, and the safety tasks
are enabled in django-celery-beat.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from kombu import Connection

from clinic.celery import app
from clinic.models import Heartbeat, Notification
from clinic.schedules import PERIODIC_TASKS, SAFETY_TASKS

TIMEOUT_SECONDS = 2


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        return type(exc).__name__
    return None


def check_broker() -> str | None:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            return "queue folder missing or not writable"
        return None
    try:
        with Connection(url, connect_timeout=TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
            # Redis connects lazily: a round trip proves it answers.
            conn.default_channel.client.ping()
    except Exception as exc:
        return type(exc).__name__
    return None


def check_cache() -> str | None:
    # Redis itself: the default cache fails over to the database (clinic/cache.py), which would
    # hide that Redis is down.
    store = getattr(cache, "primary", cache)
    key = f"healthz:{uuid.uuid4().hex}"
    try:
        store.set(key, "1", timeout=10)
        ok = store.get(key) == "1"
        store.delete(key)
    except Exception as exc:
        return type(exc).__name__
    return None if ok else "read back failed"


def check_outbox() -> str | None:
    """The oldest due notification still waiting: the dispatcher sends due rows every minute, so an
    old one means it is not running, or cannot keep up, or cannot publish."""
    now = timezone.now()
    # notification_open_due serves this: the pending rows in send_at order, the first unexpired.
    oldest = (
        Notification.objects.filter(status=Notification.Status.PENDING, send_at__lte=now, expires_at__gt=now)
        .order_by("send_at")
        .values_list("send_at", flat=True)
        .first()
    )
    if oldest is None:
        return None
    age = (now - oldest).total_seconds()
    if age > settings.TITRATE_HEALTH_OUTBOX_MAX_AGE_SECONDS:
        return f"oldest due notification waiting {age:.0f} s"
    return None


HEARTBEAT = "beat"


def beat() -> None:
    """What the beat-scheduled heartbeat task records (clinic.tasks.beat_heartbeat)."""
    Heartbeat.objects.update_or_create(name=HEARTBEAT, defaults={"beat_at": timezone.now()})


def check_beat() -> str | None:
    """Beat sends the heartbeat task every minute and a worker runs it: a stale heartbeat means
    beat stopped (or, if the worker check fails too, no worker runs anything)."""
    last = Heartbeat.objects.filter(name=HEARTBEAT).values_list("beat_at", flat=True).first()
    if last is None:
        return "no beat heartbeat yet"
    age = (timezone.now() - last).total_seconds()
    if age > settings.TITRATE_HEALTH_BEAT_MAX_AGE_SECONDS:
        return f"no beat heartbeat for {age:.0f} s"
    return None


def check_safety_tasks() -> str | None:
    """Each safety task (clinic.schedules) exists in django-celery-beat, is enabled and runs the
    declared task. sync_periodic_tasks puts them back; until then nobody's alert is escalated."""
    rows = PeriodicTask.objects.filter(name__in=SAFETY_TASKS).values_list("name", "enabled", "task")
    found, tasks = {}, {}
    for name, enabled, task in rows:
        found[name], tasks[name] = enabled, task
    problems = []
    for name in sorted(SAFETY_TASKS):
        if name not in found:
            problems.append(f"missing: {name}")
        elif not found[name]:
            problems.append(f"disabled: {name}")
        elif tasks[name] != PERIODIC_TASKS[name]["task"]:
            problems.append(f"changed: {name}")
    return "; ".join(problems) or None


# A ping broadcasts to every worker: /healthz reuses an answer this many seconds old, so a flood of
# requests to a public URL does not become a flood of broadcasts.
WORKER_PING_REUSE_SECONDS = 10
WORKER_PING_KEY = "health:worker-ping"


def ping_workers() -> str | None:
    try:
        replies = app.control.ping(timeout=settings.TITRATE_HEALTH_WORKER_TIMEOUT_SECONDS, limit=1)
    except Exception as exc:
        return type(exc).__name__
    return None if replies else "no worker answered a ping"


def check_worker(*, fresh: bool = False) -> str | None:
    """A worker answers Celery's remote-control ping. Not run on the filesystem broker of the
    zero-setup `make run` (remote control through a shared folder is untested here, and a health
    check must not fail on a transport's quirk); there the beat heartbeat, which a worker writes,
    stands for it (docs/operations.md)."""
    if not fresh:
        try:
            cached = cache.get(WORKER_PING_KEY)
        except Exception:  # the cache check reports a broken cache; ping instead
            cached = None
        if cached is not None:
            return cached or None
    reason = ping_workers()
    with contextlib.suppress(Exception):  # a broken cache is the cache check's to report
        cache.set(WORKER_PING_KEY, reason or "", timeout=WORKER_PING_REUSE_SECONDS)
    return reason


def checks() -> dict:
    found = {
        "database": check_database,
        "broker": check_broker,
        "cache": check_cache,
        "outbox": check_outbox,
        "beat": check_beat,
        "safety_tasks": check_safety_tasks,
    }
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        found["worker"] = check_worker
    return found


def _safely(check) -> str | None:
    try:
        return check()
    except Exception as exc:  # a check that cannot run (the database is down) fails, it never raises
        return type(exc).__name__


def run_checks(*, fresh: bool = False) -> dict[str, str]:
    """{check name: "ok" or a short reason}. ``fresh`` pings the workers even if a recent answer is
    cached (the management command; /healthz reuses one)."""
    results = {}
    for name, check in checks().items():
        if name == "worker":
            results[name] = _safely(lambda: check_worker(fresh=fresh)) or "ok"
        else:
            results[name] = _safely(check) or "ok"
    return results
