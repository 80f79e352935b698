"""Dependency checks for /healthz. Each returns None when healthy, else a short reason."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from kombu import Connection

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


CHECKS = {"database": check_database, "broker": check_broker, "cache": check_cache}


def run_checks() -> dict[str, str]:
    return {name: (check() or "ok") for name, check in CHECKS.items()}
