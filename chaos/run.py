"""`make chaos`: fault scenarios F1–F6 of issue 6 against real processes, each followed by a
reconciliation, and H1–H3 of issue 24: /healthz fails when beat, a safety task or the worker is
gone, and recovers (docs/reliability.md).

    .venv/bin/python -m chaos.run                 # full size
    CHAOS_SCALE=ci .venv/bin/python -m chaos.run  # reduced, for CI (about 5 minutes)
    .venv/bin/python -m chaos.run --only F3,F5
    CHAOS_SCALE=ci .venv/bin/python -m chaos.run --only H1,H2,H3

It starts its own PostgreSQL cluster (port 5440) and Redis (6390) under var/chaos/, so killing
them disturbs nothing else; gunicorn on 8790, a fake SMS gateway on 6391. Exit status 1 on any
failed check.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from chaos.stack import BASE_URL, ROOT, Stack, log

SCALES = {
    # rows: visits booked per scenario (each: 3 patient reminders + staff notices), beat2: seconds
    # of doubled beat, http: HTTP writes per scenario.
    "ci": {"patients": 16, "psychiatrists": 4, "admins": 1, "rows": 12, "beat2": 45, "http": 16},
    "full": {"patients": 40, "psychiatrists": 8, "admins": 2, "rows": 40, "beat2": 300, "http": 60},
}


@dataclass
class Result:
    name: str
    title: str
    seconds: float = 0.0
    figures: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Harness:
    def __init__(self, scale: dict, workdir: Path):
        self.scale = scale
        self.stack = Stack(workdir)
        self.rng = random.Random(20261201)
        self.browsers = []

    # -- set-up ----------------------------------------------------------------------------------
    def start(self) -> None:
        s = self.stack
        log("initdb + PostgreSQL on 5440, Redis on 6390, fake SMS gateway on 6391")
        s.pg_init()
        s.redis_start()
        s.sms_start()
        os.environ.update(s.env())
        import django

        django.setup()
        from django.core.management import call_command

        log("migrate")
        call_command("migrate", verbosity=0, interactive=False)
        from chaos import world

        log("seed: {patients} patients, {psychiatrists} psychiatrists, {admins} admins".format(**self.scale))
        self.people = world.seed(self.scale["patients"], self.scale["psychiatrists"], self.scale["admins"])
        world.configure_beat()
        log("gunicorn, worker, beat")
        s.web_start()
        s.worker_start()
        s.beat_start()
        from chaos.client import Browser

        log("log in patients over HTTP")
        for email, patient_id in self.people.patients:
            browser = Browser(BASE_URL)
            browser.login(email, world.PASSWORD, staff=False)
            self.browsers.append((browser, patient_id))
        self.settle(120)  # the seed's questionnaire reminders go out first

    # -- helpers -----------------------------------------------------------------------------------
    def db_reset(self) -> None:
        from django.db import connections

        connections.close_all()

    def settle(self, timeout: float) -> dict:
        """Wait until the outbox owes nothing (no due PENDING, nothing ENQUEUED or SENDING)."""
        from django.db.models import Q
        from django.utils import timezone

        from clinic.models import Notification

        S = Notification.Status
        deadline = time.monotonic() + timeout
        quiet = 0
        left = {}
        while time.monotonic() < deadline:
            try:
                soon = timezone.now() + timezone.timedelta(seconds=90)
                rows = Notification.objects.filter(
                    Q(status=S.PENDING, send_at__lte=soon, expires_at__gt=timezone.now())
                    | Q(status__in=(S.ENQUEUED, S.SENDING))
                )
                left = {}
                for status in rows.values_list("status", flat=True):
                    left[status] = left.get(status, 0) + 1
            except Exception as error:  # PostgreSQL coming back
                left = {"db": type(error).__name__}
                self.db_reset()
            quiet = quiet + 1 if not left else 0
            if quiet >= 2:
                return {}
            time.sleep(1)
        return left

    def check(self, result: Result, since, timeout: float = 150) -> None:
        from chaos import world

        started = time.monotonic()
        left = self.settle(timeout)
        result.figures["settled in s"] = round(time.monotonic() - started, 1)
        if left:
            result.problems.append(f"outbox not settled after {timeout:.0f} s: {left}")
        figures, problems = world.reconcile(since, self.stack.mail_dir, self.stack.sms_stats())
        result.figures.update(figures)
        result.problems += problems[:20] + ([f"... {len(problems) - 20} more"] if len(problems) > 20 else [])
        for name in ("web", "worker", "beat", "redis", "fakesms"):
            if not self.stack.alive(name):
                result.problems.append(f"{name} is not running after the scenario")
        if "visits booked" in result.figures and result.figures["visits booked"] == 0:
            result.problems.append("no visit could be booked: nothing was tested")
        if result.figures.get("rows", 0) == 0:
            result.problems.append("the scenario produced no notifications: nothing was tested")

    def now(self):
        from django.utils import timezone

        return timezone.now()

    def due(self, count: int) -> int:
        from chaos import world

        return world.plan_due_reminders(count, seed=self.rng.randrange(1 << 30))

    def http_writes(self, count: int, result: Result, tag: str, kinds=("report", "book")) -> None:
        """Patients report side effects and book visits concurrently; tallies submitted vs 5xx."""
        from chaos import actions

        def one(i: int):
            browser, _ = self.browsers[i % len(self.browsers)]
            rng = random.Random(i)
            kind = kinds[i % len(kinds)]
            try:
                if kind == "report":
                    return actions.report_side_effect(browser, rng)
                return actions.patient_book(browser, rng, self.people.type_id)
            except Exception as error:  # a timeout or reset: the write may or may not be in
                return ("report" if kind == "report" else "patient_book"), type(error).__name__, False

        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(one, range(count)))
        for name, status, stored in outcomes:
            result.figures[f"{tag} {name} {status}"] = result.figures.get(f"{tag} {name} {status}", 0) + 1
            key = actions.STORED_AS.get(name)
            if key and stored:
                self.submitted[key] = self.submitted.get(key, 0) + 1
            elif key and stored is False:
                self.unconfirmed[key] = self.unconfirmed.get(key, 0) + 1

    def check_writes(self, result: Result, before: dict) -> None:
        from chaos import actions

        self.db_reset()
        figures, problems = actions.reconcile_writes(self.submitted, self.unconfirmed, before, actions.db_counts())
        result.figures.update(figures)
        result.problems += problems

    def probe_login(self, result: Result) -> None:
        """While Redis is down: a wrong password is refused as wrong (200, the rate limits answer
        from the database, clinic/cache.py) and a new sign-in succeeds (302). Required: with the
        production rate limits a sign-in needs the cache (issue 18)."""
        from chaos import world
        from chaos.client import Browser, fill

        email = self.people.patients[0][0]
        browser = Browser(BASE_URL)
        try:
            _, form = browser.form_on("/accounts/login/", lambda f: "login" in f["fields"])
            wrong = browser.post("/accounts/login/", fill(form, {"login": email, "password": "not-the-password"}))
            refused = wrong.status_code == 200 and "are not correct" in wrong.text
            outcome = " (refused as wrong)" if refused else ""
            result.figures["wrong password while down"] = f"{wrong.status_code}{outcome}"
            if not refused:
                result.problems.append(f"a wrong password while Redis was down answered {wrong.status_code}")
            Browser(BASE_URL).login(email, world.PASSWORD, staff=False)
        except Exception as error:
            result.figures["new login while down"] = str(error)[:80]
            result.problems.append(f"a new sign-in failed while Redis was down: {str(error)[:80]}")
            return
        result.figures["new login while down"] = "302 (signed in)"

    # -- health (issue 24): /healthz notices what a patient's safety depends on -----------------------
    def healthz(self) -> tuple[int, dict]:
        try:
            response = requests.get(f"{BASE_URL}/healthz", timeout=10)
            return response.status_code, response.json().get("checks", {})
        except Exception as error:  # the web itself not answering is a failure too
            return 0, {"web": type(error).__name__}

    def wait_health(self, want_ok: bool, timeout: float, check: str | None = None) -> tuple[float | None, dict]:
        """Seconds until /healthz answers 200 (want_ok) or 503 with ``check`` failing; None on timeout."""
        started = time.monotonic()
        checks: dict = {}
        while time.monotonic() - started < timeout:
            status, checks = self.healthz()
            if want_ok and status == 200:
                return round(time.monotonic() - started, 1), checks
            if not want_ok and status == 503 and (check is None or checks.get(check, "ok") != "ok"):
                return round(time.monotonic() - started, 1), checks
            time.sleep(0.5)
        return None, checks

    def healthy_first(self, r: Result) -> bool:
        waited, checks = self.wait_health(True, 60)
        if waited is None:
            r.problems.append(f"/healthz was not healthy before the scenario: {checks}")
            return False
        return True

    def check_health_command(self) -> tuple[int, str]:
        done = subprocess.run([sys.executable, "manage.py", "check_health"], cwd=ROOT, env=self.stack.env(),
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        return done.returncode, (done.stderr.strip().splitlines() or [""])[-1][:160]

    def expect_failure(self, r: Result, check: str, within: float, after: str) -> None:
        failed_in, checks = self.wait_health(False, within, check=check)
        r.figures[f"failed after {after}, s"] = failed_in
        r.figures["reason"] = checks.get(check)
        if failed_in is None:
            r.problems.append(f"/healthz still healthy {within:.0f} s after {after}: {checks}")

    def expect_recovery(self, r: Result, within: float, after: str) -> None:
        recovered_in, checks = self.wait_health(True, within)
        r.figures[f"healthy after {after}, s"] = recovered_in
        if recovered_in is None:
            r.problems.append(f"/healthz not healthy {within:.0f} s after {after}: {checks}")

    def h1(self) -> Result:
        from django.conf import settings

        max_age = settings.TITRATE_HEALTH_BEAT_MAX_AGE_SECONDS
        r = Result("H1", "beat stopped, then started again")
        if not self.healthy_first(r):
            return r
        log(f"H1: stop beat; /healthz must fail within the heartbeat's max age ({max_age} s) + 10 s")
        self.stack.stop("beat")
        self.expect_failure(r, "beat", max_age + 10, "beat stopped")
        code, reason = self.check_health_command()
        r.figures["check_health exit while beat is down"] = f"{code} ({reason})"
        if code != 1:
            r.problems.append(f"manage.py check_health exited {code} while beat was down")
        self.stack.beat_start()
        self.expect_recovery(r, 30, "beat started")
        return r

    def h2(self) -> Result:
        from django_celery_beat.models import PeriodicTask

        from clinic.models import AuditEvent

        r = Result("H2", "a safety task disabled, then synced")
        if not self.healthy_first(r):
            return r
        self.db_reset()
        log("H2: disable 'Escalate safety alerts' in the database (the admin refuses it since issue 24)")
        PeriodicTask.objects.filter(name="Escalate safety alerts").update(enabled=False)
        self.expect_failure(r, "safety_tasks", 15, "disabling")
        if r.figures["reason"] != "disabled: Escalate safety alerts":
            r.problems.append(f"/healthz did not name the disabled safety task: {r.figures['reason']}")
        audits = AuditEvent.objects.filter(object_type="django_celery_beat.PeriodicTask")
        before = audits.count()
        self.stack.manage("sync_periodic_tasks")
        enabled = PeriodicTask.objects.get(name="Escalate safety alerts").enabled
        r.figures["re-enabled by sync_periodic_tasks"] = enabled
        r.figures["audit rows written"] = written = audits.count() - before
        if not enabled or written != 1:
            r.problems.append(f"the sync left it enabled={enabled} with {written} audit rows (want True, 1)")
        self.expect_recovery(r, 30, "the sync")
        return r

    def h3(self) -> Result:
        r = Result("H3", "worker stopped, then started again")
        if not self.healthy_first(r):
            return r
        log("H3: stop the worker; /healthz must fail within the ping's reuse (10 s) + 10 s")
        self.stack.stop("worker")
        self.expect_failure(r, "worker", 20, "worker stopped")
        self.stack.worker_start()
        self.expect_recovery(r, 40, "worker started")
        return r

    # -- scenarios -------------------------------------------------------------------------------
    def f1(self) -> Result:
        r = Result("F1", "worker SIGKILLed mid-dispatch")
        since = self.now()
        self.stack.sms_control(latency=0.4)  # slow sends, so the kill lands while some are in flight
        planned = self.due(self.scale["rows"])
        from clinic.models import Notification

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = Notification.objects.filter(created_at__gte=since)
            sent = rows.filter(status="sent").count()
            if sent >= max(3, rows.count() // 5):
                break
            time.sleep(0.2)
        in_flight = dict(
            Notification.objects.filter(created_at__gte=since)
            .exclude(status="sent")
            .values_list("status")
            .annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("id"))
        )
        log(f"F1: SIGKILL the worker (sent so far {sent}, open {in_flight})")
        self.stack.kill("worker")
        r.figures.update({"visits booked": planned, "sent before kill": sent, "open at kill": str(in_flight)})
        time.sleep(2)
        self.stack.sms_control(latency=0.0)
        self.stack.worker_start()
        self.check(r, since)
        return r

    def f2(self) -> Result:
        r = Result("F2", "Redis restarted, its data lost")
        since = self.now()
        self.stack.stop("worker")  # messages pile up in Redis with nobody to take them
        planned = self.due(self.scale["rows"])
        time.sleep(3)  # and the dispatcher publishes a round too
        import redis

        queued = redis.Redis(port=int(os.environ.get("CHAOS_REDIS_PORT", "6390"))).llen("celery")
        log(f"F2: {queued} messages queued in Redis; SIGKILL redis (no persistence) and restart it")
        self.stack.redis_kill()
        time.sleep(2)
        self.probe_login(r)
        self.stack.redis_start()
        self.stack.worker_start()
        r.figures.update({"visits booked": planned, "messages lost with Redis": queued})
        if queued == 0:
            r.problems.append("no message was in Redis when it died: the scenario tested nothing")
        self.check(r, since)
        return r

    def f3(self) -> Result:
        r = Result("F3", "Redis down while patients report and book over HTTP")
        from chaos import actions

        since = self.now()
        before = actions.db_counts()
        self.submitted, self.unconfirmed = {}, {}
        log("F3: SIGKILL redis, then patients write over HTTP")
        self.stack.redis_kill()
        started = time.monotonic()
        self.http_writes(self.scale["http"], r, "down")
        r.figures["HTTP writes while down, s"] = round(time.monotonic() - started, 1)
        self.probe_login(r)
        errors = sum(v for k, v in r.figures.items() if k.startswith("down ") and not k.endswith((" 200", " 302")))
        if errors:
            r.problems.append(f"{errors} HTTP requests failed while Redis was down (must be 2xx/3xx)")
        self.stack.redis_start()
        self.check_writes(r, before)
        self.check(r, since)
        return r

    def f4(self) -> Result:
        r = Result("F4", f"two beat processes for {self.scale['beat2']} s")
        since = self.now()
        self.stack.beat_start("beat2")
        log(f"F4: second beat for {self.scale['beat2']} s while visits are booked")
        end = time.monotonic() + self.scale["beat2"]
        planned = 0
        while time.monotonic() < end:
            planned += self.due(max(2, self.scale["rows"] // 6))
            time.sleep(5)
        both = self.stack.alive("beat2") and self.stack.alive("beat")
        self.stack.stop("beat2")
        r.figures["visits booked"] = planned
        if not both:
            r.problems.append("a beat process died while two ran")
        self.check(r, since)
        errors = (self.stack.logs / "worker.log").read_text(errors="replace").count("IntegrityError")
        r.figures["IntegrityError in worker log"] = errors
        if errors:
            r.problems.append(f"{errors} IntegrityError in the worker log: a planner raced")
        return r

    def f5(self) -> Result:
        r = Result("F5", "SMS gateway answers 500, then times out")
        since = self.now()
        before = self.stack.sms_stats()["answers"]
        self.stack.sms_control(mode="fail")
        planned = self.due(self.scale["rows"])
        r.figures["visits booked"] = planned
        log("F5: gateway 500s for 10 s, then timeouts for 10 s, then healthy")
        time.sleep(10)
        self.stack.sms_control(mode="timeout")
        time.sleep(10)
        self.stack.sms_control(mode="ok")
        self.check(r, since, timeout=200)
        after = self.stack.sms_stats()["answers"]
        faults = {k: after.get(k, 0) - before.get(k, 0) for k in ("fail", "timeout", "ok")}
        r.figures.update({"gateway 500s": faults["fail"],
                          "gateway timeouts": faults["timeout"], "gateway successes": faults["ok"]})  # fmt: skip
        if not faults["fail"] or not faults["timeout"]:
            r.problems.append("the gateway never failed: nothing was tested")
        return r

    def f6(self) -> Result:
        r = Result("F6", "PostgreSQL restarted (crash stop) during load")
        from chaos import actions

        since = self.now()
        before = actions.db_counts()
        self.submitted, self.unconfirmed = {}, {}
        planned = self.due(self.scale["rows"])
        load = threading.Thread(target=self.http_writes, args=(self.scale["http"] * 2, r, "load"))
        load.start()
        time.sleep(2)
        log("F6: immediate-mode stop of PostgreSQL, 3 s down, start")
        self.stack.pg_restart(3)
        load.join()
        self.db_reset()
        # The web must be healthy again: a fresh round of writes all succeed.
        self.http_writes(self.scale["http"] // 2, r, "after")
        bad = sum(v for k, v in r.figures.items() if k.startswith("after ") and not k.endswith((" 200", " 302")))
        if bad:
            r.problems.append(f"{bad} HTTP requests failed after PostgreSQL came back")
        r.figures["visits booked"] = planned
        self.check_writes(r, before)
        self.check(r, since, timeout=200)
        return r


def table(results: list[Result]) -> str:
    lines = ["", f"{'':3} {'scenario':48} {'result':6} {'s':>6}  figures", "-" * 110]
    for r in results:
        lines.append(f"{r.name:3} {r.title:48} {'PASS' if r.ok else 'FAIL':6} {r.seconds:6.0f}")
        for key in sorted(r.figures):
            lines.append(f"{'':66} {key}: {r.figures[key]}")
        for problem in r.problems:
            lines.append(f"{'':66} !! {problem}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated scenario names, e.g. F1,F3")
    parser.add_argument("--scale", default=os.environ.get("CHAOS_SCALE", "full"), choices=sorted(SCALES))
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("The harness runs its own PostgreSQL cluster as the postgres user: run it as root.", file=sys.stderr)
        return 2
    everything = ["F1", "F2", "F3", "F4", "F5", "F6", "H1", "H2", "H3"]
    wanted = [n.strip().upper() for n in args.only.split(",") if n.strip()] or everything
    harness = Harness(SCALES[args.scale], ROOT / "var" / "chaos")
    began = time.monotonic()
    results = []
    try:
        harness.start()
        log(f"set-up done in {time.monotonic() - began:.0f} s")
        for name in wanted:
            t = time.monotonic()
            try:
                result = getattr(harness, name.lower())()
            except Exception as error:  # a crashed scenario is a failed one, and the rest still run
                result = Result(name, "crashed")
                result.problems.append(f"{type(error).__name__}: {error}")
                harness.db_reset()
            result.seconds = time.monotonic() - t
            log(f"{name}: {'PASS' if result.ok else 'FAIL'} in {result.seconds:.0f} s")
            results.append(result)
    finally:
        harness.stack.shutdown()
    print(table(results))
    failed = [r.name for r in results if not r.ok]
    print(f"\nchaos at {args.scale} size took {time.monotonic() - began:.0f} s")
    # The plain closing line CI readers understand: "N passed, N failed" alone on its line.
    print(f"chaos: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or len(results) < len(wanted) else 0


if __name__ == "__main__":
    sys.exit(main())
