"""The web process of the benchmark: serves the benched pages through the application gunicorn
serves (``clinic.wsgi.application``, with its start-up steps), in this process, and prints one JSON document on stdout.

Why in-process WSGI and not gunicorn + an HTTP client: with 2 shared cores an HTTP client would
compete with the server for CPU and add socket noise to every sample. The timer here wraps
the application's ``__call__`` plus reading the body, i.e. exactly what gunicorn's worker spends per
request: every middleware, session load, user load, view, template and response close
(request_finished). This process is a web process and nothing else, so its peak RSS (VmHWM)
is the web figure. Run: ``python -m bench.web <personas JSON>`` (bench.run does).
"""

from __future__ import annotations

import datetime
import io
import json
import os
import secrets
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()

from allauth.account.internal.flows.login import (  # noqa: E402
    _AUTHENTICATION_METHODS_USER_SESSION_KEY,
    AUTHENTICATION_METHODS_SESSION_KEY,
)
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from oauth2_provider.models import AccessToken, Application  # noqa: E402

from clinic.models import User  # noqa: E402

WARMUP = int(os.environ.get("BENCH_WARMUP", "20"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
# The timed requests of each page are spread over this many rounds (see main()).
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
# A page far over its target (seconds per request) would take most of an hour for 200 samples on
# 2 shared cores: stop sampling it after this many seconds of its own, and record how many requests
# were timed.
PAGE_BUDGET_SECONDS = float(os.environ.get("BENCH_PAGE_BUDGET", "120"))
# Tables smaller than this are read faster by a sequential scan; the check ignores them.
BIG_TABLE_ROWS = 10_000
BENCH_APP = "Titrate bench FHIR client"


def peak_rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def session_cookie(user: User) -> str:
    """A signed-in session as after password + TOTP: force_login, then allauth's record of the
    second factor, which StaffMFARequiredMiddleware checks on every staff request."""
    client = Client()
    client.force_login(user)
    session = client.session
    at = time.time()
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": at, "email": user.email},
        {"method": "mfa", "at": at, "type": "totp"},
    ]
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


class Server:
    def __init__(self):
        from clinic.wsgi import application  # what gunicorn serves, start-up steps included

        self.handler = application

    def get(self, url: str, cookie: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """``headers``: extra WSGI environ entries, e.g. {"HTTP_AUTHORIZATION": "Bearer ..."}."""
        path, _, query = url.partition("?")
        environ = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost",
            "HTTP_COOKIE": cookie,
            "HTTP_USER_AGENT": "titrate-bench",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            **(headers or {}),
        }
        status = []
        response = self.handler(environ, lambda s, headers, exc_info=None: status.append(s))
        try:
            body = b"".join(response)
        finally:
            response.close()
        return int(status[0].split()[0]), body


def fhir_bearer(user: User) -> str:
    """A SMART access token as the consent flow would issue it to a patient's health app
    (tests/interop/conftest.py does the same): the patient's own record, every resource type. The
    bench's app and its tokens are replaced on every run."""
    Application.objects.filter(name=BENCH_APP).delete()  # its tokens go with it (cascade)
    app = Application.objects.create(
        name=BENCH_APP,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://app.example.test/callback",
    )
    raw = secrets.token_urlsafe(30)
    AccessToken.objects.create(
        user=user, application=app, token=raw, expires=timezone.now() + datetime.timedelta(hours=6),
        scope="launch/patient patient/*.rs",
    )  # fmt: skip
    return f"Bearer {raw}"


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if len(samples) > 1 else samples[0]


def seq_scans(sql_list: list[str]) -> list[dict]:
    """EXPLAIN every SELECT a page ran; report sequential scans on big tables."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'")
        sizes = dict(cursor.fetchall())
        for sql in sql_list:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            try:
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            except Exception as error:  # a query Django printed without quoting cannot be re-run
                found.append({"sql": sql[:200], "error": type(error).__name__})
                connection.rollback() if not connection.get_autocommit() else None
                continue
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            stack = [plan[0]["Plan"]]
            while stack:
                node = stack.pop()
                stack.extend(node.get("Plans", []))
                table = node.get("Relation Name")
                if node["Node Type"] == "Seq Scan" and sizes.get(table, 0) >= BIG_TABLE_ROWS:
                    found.append({"table": table, "rows": int(sizes[table]), "sql": sql[:300]})
    return found


def main() -> None:
    personas = json.loads(sys.argv[1])
    psychiatrist = User.objects.get(pk=personas["psychiatrist"])
    admin = User.objects.get(pk=personas["admin"])
    patient_user = User.objects.get(pk=personas["patient_user"])
    patient_id = personas["patient"]
    history_id = personas["history_patient"]
    history_user = User.objects.get(pk=personas["history_patient_user"])
    cookies = {"psychiatrist": session_cookie(psychiatrist), "admin": session_cookie(admin),
               "patient": session_cookie(patient_user), "fhir_app": ""}  # fmt: skip
    # The FHIR API reads a bearer token, no session: the long-history patient's health app.
    headers = {"fhir_app": {"HTTP_AUTHORIZATION": fhir_bearer(history_user)}}
    pages = {
        "floor": ("psychiatrist", reverse("bench_floor")),
        "floor_audited": ("psychiatrist", reverse("bench_floor_audited")),
        "psychiatrist_home": ("psychiatrist", reverse("psychiatrist_home")),
        "patient_chart": ("psychiatrist", reverse("patients:chart", args=[patient_id])),
        "side_effect_inbox": ("psychiatrist", reverse("medications:inbox")),
        "messages_inbox": ("psychiatrist", reverse("medications:message_inbox")),
        "message_thread": ("psychiatrist", reverse("medications:thread_detail", args=[personas["thread"]])),
        "patient_messages": ("patient", reverse("medications:my_messages")),
        "patient_home": ("patient", reverse("patient_home")),
        "patient_questionnaires": ("patient", reverse("patients:my_questionnaires")),
        "admin_week_calendar": ("admin", reverse("appointments:week")),
        "slot_finder": ("patient", reverse("appointments:my_book")),
        # Issue 24: the metrics of the last 30 days (the default range), the psychiatrist's own and
        # the whole clinic's (every visit, reminder, report and patient of the network).
        "psychiatrist_metrics": ("psychiatrist", reverse("my_metrics")),
        "clinic_metrics": ("admin", reverse("clinic_metrics")),
        # Issue 23: the whole record of a patient with five years of history, and one search page.
        "fhir_everything": ("fhir_app", reverse("interop:everything", args=[history_id])),
        "fhir_observation_search": (
            "fhir_app",
            reverse("interop:search", args=["Observation"]) + f"?patient={history_id}",
        ),
    }
    server = Server()
    results, scans, page_sql = {}, {}, {}
    for name, (who, url) in pages.items():
        cookie = cookies[who]
        for _ in range(WARMUP):
            status, body = server.get(url, cookie, headers.get(who))
            if status != 200:
                raise SystemExit(f"{name}: {url} answered {status} for the {who}: {body[:300]!r}")
        # Query count (and the SQL for EXPLAIN) from separate requests: capturing forces a debug
        # cursor, which would add its own cost to the timed ones.
        counts = []
        for _ in range(3):
            with CaptureQueriesContext(connection) as captured:
                _status, body = server.get(url, cookie, headers.get(who))
            counts.append(len(captured.captured_queries))
            # Copied now: the next request's request_started signal empties the connection's query log.
            page_sql[name] = [q["sql"] for q in captured.captured_queries]
        results[name] = {
            # The fewest seen: SessionTimeoutMiddleware rewrites the session's last-seen stamp at most
            # once a minute (3 more queries on that request), a per-session cost, not the page's.
            "queries": min(counts),
            "queries_seen": sorted(set(counts)),
            "url": url,
            "persona": who,
            "bytes": len(body),
        }
        if url.startswith("/fhir/"):
            results[name]["entries"] = len(json.loads(body).get("entry", []))
    # Timed in rounds, every page (the floors too) a slice of its requests in turn: the machine's
    # slow spells (2 shared cores, other guests on the host) then fall on every page alike instead
    # of on whichever page was being timed, and the ratios compare like with like.
    samples = {name: [] for name in pages}
    rounds = max(1, min(ROUNDS, REQUESTS))
    budget_left = {name: PAGE_BUDGET_SECONDS for name in pages}
    for round_ in range(rounds):
        share = REQUESTS // rounds + (1 if round_ < REQUESTS % rounds else 0)
        for name, (who, url) in pages.items():
            cookie = cookies[who]
            began_page = time.perf_counter()
            for _ in range(share):
                if samples[name] and budget_left[name] <= 0:
                    break
                began = time.perf_counter()
                status, _body = server.get(url, cookie, headers.get(who))
                samples[name].append((time.perf_counter() - began) * 1000)
                if status != 200:
                    raise SystemExit(f"{name} answered {status} during the timed run")
            budget_left[name] -= time.perf_counter() - began_page
    for name in pages:
        timed = samples[name]
        results[name].update(
            p50_ms=round(statistics.median(timed), 2), p95_ms=round(percentile(timed, 95), 2), requests=len(timed)
        )
        scans[name] = seq_scans(page_sql[name])
        print(f"  {name:24} p50 {results[name]['p50_ms']:7.2f} ms  p95 {results[name]['p95_ms']:7.2f} ms  "
              f"queries {results[name]['queries']}  n={len(timed)}", file=sys.stderr)  # fmt: skip
    json.dump({"pages": results, "seq_scans": scans, "rss_mb": round(peak_rss_mb(), 1)}, sys.stdout)


if __name__ == "__main__":
    main()
