"""The reminder pipeline under load: plan and dispatch every due check-in reminder through a
real Celery worker and Redis (docs/performance.md, "Reminder pipeline").

The generator booked check-ins over the next 13 days with a type whose only reminder offset is
14 days, so every one of them is inside its offset and the planner makes one catch-up reminder
per channel, due now (docs/reminders.md, "Booked inside the offsets"): 3 channels x check-ins =
5 rows per patient, 100,000 at the default scale. The planner runs here, as beat's
plan_reminders task would, and publishes its due rows on commit; the dispatcher sweeps whatever
a publish missed; the worker sends with the discarding email backend (EMAIL_URL=dummymail://)
and the console SMS backend (logging at WARNING, so nothing is printed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db.models import Count

from appointments import reminders as appointment_reminders
from clinic.models import Notification
from notifications import dispatch, outbox

WORKER_CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "2"))
# Stop waiting after this long and report the rate reached (results say whether it completed).
TIMEOUT_SECONDS = int(os.environ.get("BENCH_PIPELINE_TIMEOUT", "600"))
ROOT = Path(__file__).resolve().parent.parent


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _redis():
    import redis

    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def start_worker() -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    command = [
        sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool", "prefork",
        "--concurrency", str(WORKER_CONCURRENCY), "--loglevel", "WARNING", "--without-gossip",
        "--without-mingle", "--without-heartbeat", "--hostname", f"bench-{uuid.uuid4().hex[:8]}@%h",
    ]  # fmt: skip
    worker = subprocess.Popen(command, cwd=ROOT, env=env)
    from clinic.tasks import ping

    token = uuid.uuid4().hex
    try:
        assert ping.delay(token).get(timeout=120)["token"] == token
    except Exception:
        stop_worker(worker)
        raise
    return worker


def stop_worker(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def run(log=print) -> dict:
    broker = _redis()
    broker.delete("celery")  # our own Redis database (REDIS_URL): a stale queue from an aborted run
    worker = start_worker()
    try:
        reminders = Notification.objects.filter(idempotency_key__startswith="appt-reminder:")
        started = time.monotonic()
        created = appointment_reminders.plan_upcoming_reminders()
        planned = time.monotonic() - started
        log(f"  planned {len(created)} reminders in {planned:.1f} s (published on commit)")
        sweeps = swept = 0
        completed = True
        while True:
            open_rows = reminders.filter(status__in=outbox.OPEN).count()
            if open_rows == 0:
                break
            if time.monotonic() - started > TIMEOUT_SECONDS:
                log(f"  stopped waiting: {open_rows} reminders still open after {TIMEOUT_SECONDS} s")
                completed = False
                break
            if broker.llen("celery") == 0:
                # The queue is drained: the beat dispatcher's sweep picks up anything unpublished.
                swept += len(dispatch.dispatch_due())
                sweeps += 1
            time.sleep(0.5)
        seconds = time.monotonic() - started
        sent = reminders.filter(status=Notification.Status.SENT).count()
        rss = max([_peak_rss_mb(worker.pid)] + [_peak_rss_mb(c) for c in _children(worker.pid)])
    finally:
        stop_worker(worker)
    outcome = dict(reminders.values_list("status").annotate(n=Count("id")).order_by())
    log(f"  {sent} sent of {len(created)} in {seconds:.1f} s; sweeps {sweeps} (claimed {swept}); {outcome}")
    return {
        "count": sent,
        "seconds": round(seconds, 1),
        "per_second": round(sent / seconds, 1) if seconds else 0.0,
        "planned": len(created),
        "completed": completed,
        "plan_seconds": round(planned, 1),
        "outcomes": outcome,
        "worker_rss_mb": round(rss, 1),
        "worker_concurrency": WORKER_CONCURRENCY,
    }
