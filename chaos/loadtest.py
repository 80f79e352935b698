"""`make loadtest`: a bounded load on loopback against gunicorn (docs/reliability.md).

50 virtual users (LOADTEST_USERS) for 120 s (LOADTEST_SECONDS), each a thread with its own logged-in
session and a think time of LOADTEST_THINK seconds on average between actions:
- patients (60 %) report side effects, fill in questionnaires, book visits, open their home page;
- psychiatrists (24 %) read charts, read the side-effect inbox, write visit notes;
- clinic admins (16 %) book visits and open the front desk.
It prints requests, errors, p50/p95 latency per request kind, and the reconciliation: every write
the user saw confirmed is in the database (submitted = stored), and the outbox settles with every
reminder sent once. Uses the same private PostgreSQL/Redis/gunicorn/Celery stack as `make chaos`.
Exit status 1 on any 5xx, lost write or reconciliation failure.
"""

from __future__ import annotations

import os
import random
import re
import sys
import threading
import time
from collections import defaultdict

from chaos.stack import BASE_URL, ROOT, Stack, log

USERS = int(os.environ.get("LOADTEST_USERS", "50"))
SECONDS = float(os.environ.get("LOADTEST_SECONDS", "120"))
THINK = float(os.environ.get("LOADTEST_THINK", "1.0"))
WEB_WORKERS = int(os.environ.get("LOADTEST_WEB_WORKERS", "3"))
_ID = re.compile(r"/\d+")


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict] = defaultdict(lambda: defaultdict(int))
        self.submitted: dict[str, int] = defaultdict(int)
        self.unconfirmed: dict[str, int] = defaultdict(int)
        self.failures: dict[str, int] = defaultdict(int)

    def request(self, method: str, path: str, status, seconds: float) -> None:
        label = f"{method} {_ID.sub('/{id}', path.split('?')[0])}"
        with self.lock:
            self.samples[label].append(seconds)
            self.statuses[label][status] += 1


def instrument(browser, recorder: Recorder) -> None:
    """Record every request the browser makes: method, path template, status, latency."""
    for method in ("get", "post"):
        original = getattr(browser, method)

        def wrapped(path, *args, _original=original, _method=method, **kw):
            started = time.perf_counter()
            try:
                response = _original(path, *args, **kw)
            except Exception as error:
                recorder.request(_method.upper(), path, type(error).__name__, time.perf_counter() - started)
                with recorder.lock:
                    recorder.failures[f"{type(error).__name__}: {str(error)[:120]}"] += 1
                raise
            recorder.request(_method.upper(), path, response.status_code, time.perf_counter() - started)
            return response

        setattr(browser, method, wrapped)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def main() -> int:
    if os.geteuid() != 0:
        print("The load test runs its own PostgreSQL cluster as the postgres user: run it as root.", file=sys.stderr)
        return 2
    n_patients = round(USERS * 0.6)
    n_psych = round(USERS * 0.24)
    n_admins = max(1, USERS - n_patients - n_psych)
    stack = Stack(ROOT / "var" / "loadtest")
    recorder = Recorder()
    try:
        stack.pg_init()
        stack.redis_start()
        stack.sms_start()
        os.environ.update(stack.env())
        import django

        django.setup()
        from django.core.management import call_command
        from django.utils import timezone

        from chaos import actions, world
        from chaos.client import Browser

        call_command("migrate", verbosity=0, interactive=False)
        log(f"seed: {n_patients} patients, {n_psych} psychiatrists, {n_admins} admins")
        people = world.seed(n_patients, n_psych, n_admins)
        world.configure_beat(dispatch_seconds=5, plan_seconds=60)
        stack.web_start(workers=WEB_WORKERS)
        stack.worker_start()
        stack.beat_start()
        users = []
        for email, patient_id in people.patients:
            users.append(("patient", email, patient_id))
        for email, charts in people.psychiatrists:
            users.append(("psychiatrist", email, charts))
        for email in people.admins:
            users.append(("admin", email, None))
        log(f"log in {len(users)} users over HTTP (TOTP for staff)")
        browsers = []
        for role, email, extra in users:
            browser = Browser(BASE_URL)
            browser.login(email, world.PASSWORD, staff=role != "patient")
            instrument(browser, recorder)
            browsers.append((role, browser, extra))
        before = actions.db_counts()
        since = timezone.now()
        stop_at = time.monotonic() + SECONDS

        def run(index: int, role: str, browser, extra) -> None:
            rng = random.Random(index)
            time.sleep(rng.uniform(0, THINK))  # spread the first requests
            while time.monotonic() < stop_at:
                roll = rng.random()
                try:
                    if role == "patient":
                        if roll < 0.4:
                            outcome = actions.report_side_effect(browser, rng)
                        elif roll < 0.6:
                            outcome = actions.fill_questionnaire(browser, rng)
                        elif roll < 0.75:
                            outcome = actions.patient_book(browser, rng, people.type_id)
                        else:
                            outcome = actions.home(browser, rng)
                    elif role == "psychiatrist":
                        chart = rng.choice(extra)
                        if roll < 0.45:
                            outcome = actions.read_chart(browser, rng, chart)
                        elif roll < 0.7:
                            outcome = actions.psychiatrist_inbox(browser, rng)
                        else:
                            outcome = actions.write_note(browser, rng, chart)
                    elif roll < 0.6:
                        outcome = actions.admin_book(browser, rng, people.psychiatrist_ids, people.type_id)
                    else:
                        outcome = actions.home(browser, rng)
                except Exception:
                    outcome = (None, None, None)  # already recorded by the instrumented browser
                name, _status, stored = outcome
                key = actions.STORED_AS.get(name)
                with recorder.lock:
                    if key and stored:
                        recorder.submitted[key] += 1
                    elif key and stored is False:
                        recorder.unconfirmed[key] += 1
                time.sleep(rng.expovariate(1 / THINK) if THINK else 0)

        log(f"load: {len(browsers)} users for {SECONDS:.0f} s, think time {THINK} s")
        started = time.monotonic()
        threads = [threading.Thread(target=run, args=(i, *b)) for i, b in enumerate(browsers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        log("load done; reconciling")
        from django.db import connections

        connections.close_all()
        figures, problems = actions.reconcile_writes(recorder.submitted, recorder.unconfirmed, before,
                                                     actions.db_counts())  # fmt: skip
        from chaos.run import Harness, Result

        harness = Harness.__new__(Harness)
        harness.stack = stack
        outbox = Result("outbox", "notifications after the load")
        harness.check(outbox, since, timeout=180)
    finally:
        stack.shutdown()

    total = sum(len(v) for v in recorder.samples.values())
    all_samples = [s for v in recorder.samples.values() for s in v]
    server_errors = sum(n for st in recorder.statuses.values() for code, n in st.items() if str(code).startswith("5"))
    other_errors = sum(
        n for st in recorder.statuses.values() for code, n in st.items() if not str(code).isdigit() or int(code) >= 400
    )
    print(f"\n{'request':48} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  statuses")
    for label in sorted(recorder.samples):
        values = recorder.samples[label]
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(recorder.statuses[label].items(), key=str))
        print(f"{label:48} {len(values):7} {percentile(values, .5) * 1000:8.0f} {percentile(values, .95) * 1000:8.0f} "
              f"{max(values) * 1000:8.0f}  {statuses}")  # fmt: skip
    print(f"{'all':48} {total:7} {percentile(all_samples, .5) * 1000:8.0f} {percentile(all_samples, .95) * 1000:8.0f} "
          f"{max(all_samples, default=0) * 1000:8.0f}")  # fmt: skip
    print(f"\n{len(browsers)} users, {elapsed:.0f} s, {total} requests ({total / elapsed:.1f}/s), "
          f"{server_errors} 5xx, {other_errors} errors (4xx, 5xx or no answer)")  # fmt: skip
    for failure, count in sorted(recorder.failures.items()):
        print(f"no answer x{count}: {failure}")
    print("writes (confirmed/stored/unconfirmed):", ", ".join(f"{k} {v}" for k, v in figures.items()))
    print("outbox:", ", ".join(f"{k} {v}" for k, v in sorted(outbox.figures.items())))
    problems += outbox.problems
    if server_errors:
        problems.append(f"{server_errors} responses were 5xx")
    for problem in problems:
        print("!!", problem)
    print(f"\nloadtest: {'PASS' if not problems else 'FAIL'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
