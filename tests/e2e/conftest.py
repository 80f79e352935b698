"""Browser journeys: headless Debian Chromium against pytest-django's live server, a real Celery
worker over Redis when the suite runs on PostgreSQL, axe-core on every page a journey visits.

Playwright's sync API keeps an asyncio loop running on the test thread, and Django refuses ORM
calls from a thread with a running loop. The journeys need both (they set up and check rows
between clicks), so DJANGO_ALLOW_ASYNC_UNSAFE is set for this module only: the ORM calls still
happen one at a time on this thread, nothing runs concurrently with them.

The fixtures are module-scoped on purpose: the worker must be gone before the rest of the suite
runs, or it would take the tasks other tests publish to the same broker and expect to run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from playwright.sync_api import sync_playwright

from tests.e2e.browser import ARTIFACTS
from tests.helpers import require_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(settings.BASE_DIR)


@pytest.fixture(scope="module")
def _async_unsafe_allowed():
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def chromium(_async_unsafe_allowed):
    require_service(f"Chromium ({CHROMIUM})", os.path.exists(CHROMIUM))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


def _database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    password = f":{quote(s['PASSWORD'], safe='')}" if s["PASSWORD"] else ""
    host = s["HOST"] or "localhost"
    return f"postgres://{quote(s['USER'], safe='')}{password}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A `celery worker` process on the test database and the test Redis, as production runs it.

    Without PostgreSQL and Redis (a laptop on SQLite: the live server's database is not shareable
    with another process), tasks run eagerly in the live server's thread instead; the journeys'
    assertions on delivered rows hold either way. Yields "worker" or "eager".
    """
    from clinic.celery import app

    on_postgres = "postgresql" in settings.DATABASES["default"]["ENGINE"]
    if not (on_postgres and settings.REDIS_URL):
        app.conf.task_always_eager = True
        yield "eager"
        app.conf.task_always_eager = False
        return

    folder = tmp_path_factory.mktemp("worker")
    log = folder / "worker.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TITRATE_CRASH")}
    env.update(
        DJANGO_SETTINGS_MODULE="clinic.settings_test",
        DATABASE_URL=_database_url(),  # test_<name>, which the live server uses too
        REDIS_URL=settings.REDIS_URL,
        SMS_BACKEND="file",
        SMS_FILE_DIR=str(folder),
        PYTHONPATH=str(ROOT),
    )
    # The test process publishes to the same broker; anything left from an earlier run would
    # be taken by this worker against rows that no longer exist.
    app.control.purge()
    args = [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool=solo", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"e2e-{os.getpid()}@%h"]  # fmt: skip
    with open(log, "w") as out:
        worker = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text():
            assert worker.poll() is None, f"the Celery worker exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the Celery worker did not start:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        yield "worker"
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    print(f"Celery worker log: {log}")
