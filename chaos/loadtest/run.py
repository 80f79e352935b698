"""`make loadtest` / `make loadtest-capacity`: locust against gunicorn, PostgreSQL and Redis on
loopback (docs/performance.md, "Load test").

Needs DATABASE_URL (PostgreSQL: a scratch database of its own, which it empties) and REDIS_URL (its
own Redis database). Refuses (exit 3) a database holding users other than the load test's, the
demo's or the bench's. Then: migrate, empty, seed synthetic users (chaos/world.py), start gunicorn,
a Celery worker and beat, and run locust headless (chaos/loadtest/locustfile.py):

- LOADTEST_MODE=run (default): LOADTEST_USERS users for LOADTEST_SECONDS; the summary per page type
  (p50/p95/p99, errors, requests/s) on stdout and in var/loadtest/summary.txt and summary.json;
  exit 1 on any error.
- LOADTEST_MODE=capacity: the same mix at 10, 20, 40, … users (chaos.loadtest.stats.search) for
  LOADTEST_SECONDS each; reports the highest count with p95 < LOADTEST_P95_MS and 0 errors, then the
  floor view's throughput (LOADTEST_FLOOR_USERS users, no think time) on the same server; in
  var/loadtest/capacity.txt and capacity.json.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time

from chaos.loadtest import stats
from chaos.stack import ROOT, VENV_BIN, Stack, log

DOMAIN = "loadtest.titrate.test"
OUT = ROOT / "var" / "loadtest"
LOCUSTFILE = ROOT / "chaos" / "loadtest" / "locustfile.py"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


MODE = os.environ.get("LOADTEST_MODE") or "run"
USERS = _int("LOADTEST_USERS", 50)
SECONDS = _float("LOADTEST_SECONDS", 120 if MODE == "run" else 60)
SPAWN_RATE = os.environ.get("LOADTEST_SPAWN_RATE")  # users started per second; default: all within 10 s
THINK = _float("LOADTEST_THINK", 1.0)
WEB_WORKERS = _int("LOADTEST_WEB_WORKERS", 3)
WEB_THREADS = _int("LOADTEST_WEB_THREADS", 4)
KEEP_ALIVE = _int("LOADTEST_KEEP_ALIVE", 75)
PORT = _int("LOADTEST_PORT", 0)  # 0: a free port
P95_MS = _float("LOADTEST_P95_MS", stats.P95_LIMIT_MS)
CAPACITY_START = _int("LOADTEST_CAPACITY_START", 10)
CAPACITY_MAX = _int("LOADTEST_CAPACITY_MAX", 160)
CAPACITY_REFINE = _int("LOADTEST_CAPACITY_REFINE", 2)
FLOOR_USERS = _int("LOADTEST_FLOOR_USERS", 12)
MIX = ["PatientUser", "PsychiatristUser", "ClinicAdminUser"]  # chaos/loadtest/locustfile.py's clinic
# Locust's weights (chaos/loadtest/locustfile.py): 6 patients, 3 psychiatrists, 1 admin in 10.
SHARES = {"patient": 0.6, "psychiatrist": 0.3, "admin": 0.1}


def accounts_needed(largest: int, floor_users: int = 0) -> dict[str, int]:
    """One account per virtual user of the largest run (locust rounds each class's share either
    way, hence the one spare), and at least one psychiatrist per patient's chart list."""
    needed = {role: math.ceil(largest * share) + 1 for role, share in SHARES.items()}
    needed["patient"] = max(needed["patient"], floor_users)
    return needed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LoadStack(Stack):
    """The chaos harness's process control, on the PostgreSQL and Redis given in the environment
    (never its private cluster: another run of `make chaos` may own it)."""

    def __init__(self, port: int):
        super().__init__(OUT)
        self.web_port = port
        self.base_url = f"http://127.0.0.1:{port}"

    def env(self, **extra) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "chaos.loadtest.settings",
            "DJANGO_DEBUG": "false",
            "TITRATE_CLINIC_PHONE": "(617) 555-0100",
            "DJANGO_SECRET_KEY": "loadtest-harness-only-not-a-real-secret-0123456789abcdef",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_CSRF_TRUSTED_ORIGINS": self.base_url,
            "EMAIL_URL": "dummymail://",
            "SMS_BACKEND": "console",
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        }
        env.update(extra)
        return env

    def shutdown(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def locust(
        self, users: int, seconds: float, classes: list[str], tag: str, rate: float | None = None, steady: bool = False
    ) -> stats.Run:
        """Run locust headless; ``steady``: statistics from the moment every user has started (locust's
        --reset-stats), so the ramp's sign-ins are left out. A user whose sign-in failed still shows:
        each of its pages then answers the login redirect, an error."""
        prefix = OUT / tag
        rate = rate or (float(SPAWN_RATE) if SPAWN_RATE else max(1.0, users / 10))
        argv = [
            str(VENV_BIN / "locust"),
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(rate),
            "-t",
            f"{int(seconds)}s",
            "--host",
            self.base_url,
            "--csv",
            str(prefix),
            "--only-summary",
            "--stop-timeout",
            "10",
            "--loglevel",
            "WARNING",
            *(["--reset-stats"] if steady else []),
            *classes,
        ]
        env = self.env(LOADTEST_USERS_FILE=str(OUT / "users.json"), LOADTEST_THINK=str(THINK))
        log(f"locust: {users} users ({' '.join(classes)}) for {seconds:.0f} s, {rate:g} started per second")
        with open(self.logs / f"{tag}.locust.log", "wb") as output:
            # Its exit status is 1 whenever a request failed: the CSV says which, and how many.
            subprocess.run(argv, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=seconds + 180)
        return stats.read_stats(prefix, users=users, seconds=seconds)


def foreign_rows() -> dict[str, int]:
    from bench.generate import BENCH_DOMAIN, BENCH_MRN_PREFIX, DEMO_DOMAIN, DEMO_MRN_PREFIX
    from clinic.models import User
    from patients.models import Patient

    users = User.objects.all()
    patients = Patient.objects.exclude(mrn__startswith=DEMO_MRN_PREFIX).exclude(mrn__startswith=BENCH_MRN_PREFIX)
    for domain in (DOMAIN, DEMO_DOMAIN, BENCH_DOMAIN):
        users = users.exclude(email__endswith=f"@{domain}")
    patients = patients.exclude(user__email__endswith=f"@{DOMAIN}")
    return {"users": users.count(), "patients": patients.count()}


def prepare(stack: LoadStack, largest: int) -> None:
    """Migrate, refuse real data, empty the database, seed the load test's users, start the stack."""
    os.environ.update(stack.env())
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.generate import wipe
    from chaos import world

    if "clinic_user" in connection.introspection.table_names():
        found = foreign_rows()
        if any(found.values()):
            raise SystemExit(
                f"Refusing to run: the database holds {found['users']} users and {found['patients']} patients that are "
                "not the load test's, the demo's or the bench's. Point DATABASE_URL at a scratch database."
            )
    call_command("migrate", verbosity=0, interactive=False)
    wipe()
    needed = accounts_needed(largest, FLOOR_USERS if MODE == "capacity" else 0)
    log(f"seed: {needed['patient']} patients, {needed['psychiatrist']} psychiatrists, {needed['admin']} admins")
    people = world.seed(needed["patient"], needed["psychiatrist"], needed["admin"], domain=DOMAIN)
    world.configure_beat(dispatch_seconds=5, plan_seconds=60)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "users.json").write_text(
        json.dumps(
            {
                "password": world.PASSWORD,
                "type_id": people.type_id,
                "psychiatrist_ids": people.psychiatrist_ids,
                "patient": [{"email": email, "patient": pk} for email, pk in people.patients],
                "psychiatrist": [{"email": email, "patients": charts} for email, charts in people.psychiatrists],
                "admin": [{"email": email} for email in people.admins],
            }
        )
    )
    connection.close()
    # Idle connections kept 75 s (nginx's default), longer than any think time: with gunicorn's 2 s,
    # a user's next request after a pause raced the server closing its connection (a reset).
    stack.web_start(workers=WEB_WORKERS, threads=WEB_THREADS, extra=("--keep-alive", str(KEEP_ALIVE)))
    stack.worker_start(concurrency=2)
    stack.beat_start()


def conditions() -> dict:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else ""),
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "gunicorn": f"{WEB_WORKERS} workers x {WEB_THREADS} threads, keep-alive {KEEP_ALIVE} s",
        "think_seconds": THINK,
    }


def write(name: str, text: str, data: dict) -> None:
    (OUT / f"{name}.txt").write_text(text + "\n")
    (OUT / f"{name}.json").write_text(json.dumps(data, indent=2))
    print(text, flush=True)
    print(f"\n(written to {OUT.relative_to(ROOT)}/{name}.txt and {name}.json)")


def run_once(stack: LoadStack) -> int:
    before = conditions()
    run = stack.locust(USERS, SECONDS, MIX, "run")
    after = conditions()
    text = (
        f"\nLoad test, {before['date']}, commit {before['commit']}, {before['cores']} cores, load average "
        f"{before['load_average']} before and {after['load_average']} after; gunicorn {before['gunicorn']}, "
        f"think time {THINK} s\n\n{stats.table(run)}"
    )
    write("summary", text, {"conditions": before, "load_average_after": after["load_average"], **run.as_dict()})
    print(f"loadtest: {'PASS' if run.total.failures == 0 and run.total.count else 'FAIL'}")
    return 0 if run.total.failures == 0 and run.total.count else 1


def run_capacity(stack: LoadStack) -> int:
    before = conditions()

    def measure(users: int) -> stats.Run:
        run = stack.locust(users, SECONDS, MIX, f"capacity-{users}", steady=True)
        verdict = "meets" if run.meets(P95_MS) else "misses"
        log(
            f"{users} users: {run.total.count} requests, {run.total.failures} errors, p95 {run.total.p95:.0f} ms, "
            f"{run.total.rps:.1f}/s, load {os.getloadavg()[0]:.1f}: {verdict} p95 < {P95_MS:.0f} ms with 0 errors"
        )
        return run

    found = stats.search(
        measure, start=CAPACITY_START, maximum=CAPACITY_MAX, refine=CAPACITY_REFINE, p95_limit_ms=P95_MS
    )
    # All floor users at once: no ramp in the throughput figure.
    floor = stack.locust(FLOOR_USERS, SECONDS, ["FloorUser"], "floor", rate=FLOOR_USERS, steady=True)
    after = conditions()
    lines = [
        f"\nCapacity search, {before['date']}, commit {before['commit']}, {before['cores']} cores, load average "
        f"{before['load_average']} before and {after['load_average']} after; gunicorn {before['gunicorn']}, "
        f"think time {THINK} s, {SECONDS:.0f} s per step\n",
        f"{'users':>6} {'requests':>9} {'errors':>6} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}  verdict",
    ]
    for run in sorted(found.runs, key=lambda r: r.users):
        t = run.total
        lines.append(
            f"{run.users:6} {t.count:9} {t.failures:6} {t.rps:7.1f} {t.p50:7.0f} {t.p95:7.0f} {t.p99:7.0f}  "
            f"{'meets' if run.meets(P95_MS) else 'misses'}"
        )
    capacity = "below the smallest step" if found.users is None else f"{found.users} concurrent users"
    beyond = "" if found.failed_at is None else f" ({found.failed_at} missed)"
    if found.failed_at is None:
        beyond = f" (the search's maximum, LOADTEST_CAPACITY_MAX={CAPACITY_MAX}, was reached)"
    # The floor line alone: the run's total also counts the sign-ins of its users.
    f = next((line for line in floor.lines if line.name == "floor"), floor.total)
    lines += [
        f"\ncapacity (p95 < {P95_MS:.0f} ms, 0 errors): {capacity}{beyond}",
        f"floor view (/bench/floor/, {FLOOR_USERS} users, no think time): {f.rps:.1f} requests/s, "
        f"p50 {f.p50:.0f} ms, p95 {f.p95:.0f} ms, {f.failures} errors of {f.count}",
    ]
    data = {
        "conditions": before,
        "load_average_after": after["load_average"],
        "capacity_users": found.users,
        "failed_at": found.failed_at,
        "steps": [r.as_dict() for r in found.runs],
        "floor": floor.as_dict(),
    }
    write("capacity", "\n".join(lines), data)
    return 0


def main() -> int:
    database = os.environ.get("DATABASE_URL", "")
    if not database.startswith(("postgres://", "postgresql://")) or not os.environ.get("REDIS_URL"):
        print(
            "make loadtest needs DATABASE_URL (PostgreSQL, a scratch database it empties) and REDIS_URL (a Redis "
            "database of its own), e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/loadtest "
            "REDIS_URL=redis://127.0.0.1:6379/7 make loadtest",
            file=sys.stderr,
        )
        return 2
    if MODE not in ("run", "capacity"):
        print(f"LOADTEST_MODE is run or capacity, not {MODE!r}", file=sys.stderr)
        return 2
    stack = LoadStack(PORT or free_port())
    try:
        try:
            prepare(stack, USERS if MODE == "run" else CAPACITY_MAX)
        except SystemExit as refusal:
            print(refusal, file=sys.stderr)
            return 3
        return run_once(stack) if MODE == "run" else run_capacity(stack)
    finally:
        stack.shutdown()


if __name__ == "__main__":
    sys.exit(main())
