"""Time only the metrics pages (issue 24) and each query of ``clinic.metrics.compute``, on a data set
``make bench`` already generated: ``python -m bench.metrics_timing`` with the bench's DATABASE_URL
and REDIS_URL (docs/performance.md, "Exact commands used for the figures"). Prints one JSON document.

Pages: the audited floor, the psychiatrist's and the clinic's metrics over the default range (the
last 30 days), through the application gunicorn serves (``bench.web.Server``), timed in
interleaved rounds like ``bench.web`` so a slow spell of the shared machine falls on all three.
Queries: ``compute`` itself, the nightly count's days it reads, and each of its six live counts
over the whole range (what it runs when no day was counted), for psychiatrist 1 and for the whole
clinic, total and SQL milliseconds (``connection.execute_wrapper``), median and 95th percentile.

Settings: BENCH_METRICS_REQUESTS (100 per page), BENCH_METRICS_QUERY_RUNS (30 per function).
Reads and writes nothing but the audit rows and sessions the pages write.
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()

from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from appointments.models import Appointment  # noqa: E402
from bench import generate  # noqa: E402
from bench.web import Server, percentile, session_cookie  # noqa: E402
from clinic import contact, metrics  # noqa: E402
from clinic.models import User  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_METRICS_REQUESTS", "100"))
QUERY_RUNS = int(os.environ.get("BENCH_METRICS_QUERY_RUNS", "30"))
WARMUP = 5
ROUNDS = 10
QUERIES = {
    # What the page runs: the nightly count's days, then today live (clinic.metrics.compute).
    "compute (every figure of the page)": metrics.compute,
    "the nightly count's days": metrics.counted_days,
    # Each live count over the whole range, as when no day was counted (the first day, a missed night).
    "visits by type and by reminder channel": metrics.visit_outcomes,
    "reminder delivery": metrics.reminder_delivery,
    "reports and conversations, first responses": metrics.responses,
    "alerts": metrics.alerts,
    "caseload (coverage, overdue)": metrics.caseload,
    "waitlist": metrics.waitlist,
}


def figures(samples: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(samples), 2), "p95_ms": round(percentile(samples, 95), 2)}


def pages(personas: dict) -> dict:
    psychiatrist = User.objects.get(pk=personas["psychiatrist"])
    admin = User.objects.get(pk=personas["admin"])
    cookies = {"psychiatrist": session_cookie(psychiatrist), "admin": session_cookie(admin)}
    urls = {
        "floor_audited": ("psychiatrist", reverse("bench_floor_audited")),
        "psychiatrist_metrics": ("psychiatrist", reverse("my_metrics")),
        "clinic_metrics": ("admin", reverse("clinic_metrics")),
    }
    server = Server()
    samples: dict[str, list[float]] = {name: [] for name in urls}
    for name, (who, url) in urls.items():
        for _ in range(WARMUP):
            status, body = server.get(url, cookies[who])
            if status != 200:
                raise SystemExit(f"{name}: {url} answered {status}: {body[:300]!r}")
    for round_ in range(ROUNDS):
        share = REQUESTS // ROUNDS + (1 if round_ < REQUESTS % ROUNDS else 0)
        for name, (who, url) in urls.items():
            for _ in range(share):
                began = time.perf_counter()
                status, _body = server.get(url, cookies[who])
                samples[name].append((time.perf_counter() - began) * 1000)
                if status != 200:
                    raise SystemExit(f"{name} answered {status} during the timed run")
    return {name: {**figures(timed), "requests": len(timed)} for name, timed in samples.items()}


def queries(personas: dict) -> dict:
    ContentType.objects.get_for_model(Appointment)  # cached per process, as in a warm web worker
    contact.clinic()
    psychiatrist = User.objects.get(pk=personas["psychiatrist"])
    today = timezone.localdate()  # the page's default range (clinic.metrics_views)
    first = today - datetime.timedelta(days=metrics.DEFAULT_RANGE_DAYS - 1)
    results = {}
    yesterday = today - datetime.timedelta(days=1)
    runs = [
        (who, metrics.Scope(first_day=first, last_day=today, psychiatrist=scoped), name, function)
        for who, scoped in (("psychiatrist", psychiatrist), ("clinic", None))
        for name, function in QUERIES.items()
    ]
    # Coverage of a range that ended before today is counted from the responses (clinic.metrics.caseload).
    ended = metrics.Scope(first_day=first - datetime.timedelta(days=1), last_day=yesterday)
    runs.append(("clinic", ended, "caseload, a range that ended yesterday", metrics.caseload))
    for who, scope, name, function in runs:
        totals, sql = [], []
        for run in range(QUERY_RUNS + 2):
            spent = [0.0]

            def timed(execute, statement, params, many, context, spent=spent):
                began = time.perf_counter()
                try:
                    return execute(statement, params, many, context)
                finally:
                    spent[0] += (time.perf_counter() - began) * 1000

            began = time.perf_counter()
            with connection.execute_wrapper(timed):
                function(scope)
            if run >= 2:  # two warm-ups
                totals.append((time.perf_counter() - began) * 1000)
                sql.append(spent[0])
        results[f"{who}: {name}"] = {
            "total": figures(totals),
            "sql": figures(sql),
        }
    return results


def main() -> None:
    personas = generate.existing()["personas"]
    began = os.getloadavg()
    result = {"load_average_start": began, "pages": pages(personas), "queries": queries(personas)}
    result["load_average_end"] = os.getloadavg()
    json.dump(result, sys.stdout, indent=2)
    print(file=sys.stdout)


if __name__ == "__main__":
    main()
