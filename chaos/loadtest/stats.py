"""Reading locust's CSV statistics, the summary per page type, and the capacity search.

Pure functions over recorded figures (no processes, no Django), so tests/test_loadtest.py checks
them on recorded stats in milliseconds.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

P95_LIMIT_MS = 500.0


@dataclass
class Line:
    """One page type (locust's request name), or "all" for every request of the run."""

    name: str
    method: str
    count: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    max: float


@dataclass
class Run:
    users: int
    seconds: float
    lines: list[Line]
    total: Line
    errors: list[str] = field(default_factory=list)  # "count x method name: message"

    def meets(self, p95_limit_ms: float = P95_LIMIT_MS) -> bool:
        """The capacity criterion: requests were made, none failed, and p95 of all of them is under the limit."""
        return self.total.count > 0 and self.total.failures == 0 and self.total.p95 < p95_limit_ms

    def as_dict(self) -> dict:
        return asdict(self)


def _number(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0  # locust writes "N/A" for a percentile of no requests


def read_stats(prefix: Path, *, users: int, seconds: float) -> Run:
    """Read ``<prefix>_stats.csv`` and ``<prefix>_failures.csv`` as written by ``locust --csv <prefix>``."""
    lines, total = [], None
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            line = Line(
                name=row["Name"] if row["Name"] != "Aggregated" else "all",
                method=row["Type"],
                count=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                rps=_number(row["Requests/s"]),
                p50=_number(row["50%"]),
                p95=_number(row["95%"]),
                p99=_number(row["99%"]),
                max=_number(row["Max Response Time"]),
            )
            if row["Name"] == "Aggregated":
                total = line
            else:
                lines.append(line)
    if total is None:
        raise ValueError(f"{prefix}_stats.csv has no Aggregated row")
    errors = []
    failures = Path(f"{prefix}_failures.csv")
    if failures.exists():
        with open(failures, newline="") as handle:
            errors = [
                f"{row['Occurrences']} x {row['Method']} {row['Name']}: {row['Error']}"
                for row in csv.DictReader(handle)
            ]
    return Run(users=users, seconds=seconds, lines=lines, total=total, errors=errors)


def table(run: Run) -> str:
    head = (
        f"{'page type':42} {'method':6} {'requests':>8} {'errors':>6} {'req/s':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    )
    rows = [head, "-" * len(head)]
    for line in [*sorted(run.lines, key=lambda x: x.name), run.total]:
        rows.append(
            f"{line.name:42} {line.method:6} {line.count:8} {line.failures:6} {line.rps:7.2f} {line.p50:7.0f} "
            f"{line.p95:7.0f} {line.p99:7.0f} {line.max:7.0f}"
        )
    rows.append(f"{run.users} users for {run.seconds:.0f} s: {run.total.count} requests, {run.total.failures} errors")
    rows += [f"error: {error}" for error in run.errors]
    return "\n".join(rows)


@dataclass
class Capacity:
    users: int | None  # the highest user count that met the criterion (None: not even the smallest)
    failed_at: int | None  # the lowest user count measured that did not (None: the search hit its maximum)
    runs: list[Run]


def search(
    measure: Callable[[int], Run],
    *,
    start: int = 10,
    maximum: int = 160,
    refine: int = 2,
    p95_limit_ms: float = P95_LIMIT_MS,
) -> Capacity:
    """The highest number of concurrent users at which ``measure(users)`` meets the criterion.

    Doubles from ``start`` while a step passes (10, 20, 40, …, never above ``maximum``); if the
    first step fails, halves down to 1. Then up to ``refine`` bisection steps between the last pass
    and the first failure, stopping when they are within a quarter of the passing figure. Assumes
    latency grows with users, so a count between two measured passes is not measured again.
    """
    runs: list[Run] = []
    cache: dict[int, bool] = {}

    def passes(users: int) -> bool:
        if users not in cache:
            run = measure(users)
            runs.append(run)
            cache[users] = run.meets(p95_limit_ms)
        return cache[users]

    best, failed = None, None
    users = max(1, min(start, maximum))
    if passes(users):
        best = users
        while best < maximum:
            users = min(best * 2, maximum)
            if not passes(users):
                failed = users
                break
            best = users
    else:
        failed = users
        users //= 2
        while users >= 1:
            if passes(users):
                best = users
                break
            failed = users
            users //= 2
    for _ in range(refine):
        if failed is None:
            break
        low = best or 0
        if failed - low <= max(1, low // 4):
            break
        middle = (low + failed) // 2
        if middle in (low, failed):
            break
        if passes(middle):
            best = middle
        else:
            failed = middle
    return Capacity(users=best, failed_at=failed, runs=runs)
