"""The load test's pieces that can be checked fast (the run itself is `make loadtest`,
docs/performance.md): every page the virtual users open is a real URL, every user class has its
tasks, locust's statistics are read right, the capacity search finds the knee on recorded figures,
and the harness refuses a database holding real users."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.urls import resolve, reverse

from chaos.loadtest import stats
from chaos.loadtest.pages import PAGES, path
from chaos.loadtest.run import MIX, SHARES, accounts_needed, foreign_rows
from tests import factories

LOCUSTFILE = Path(__file__).resolve().parent.parent / "chaos" / "loadtest" / "locustfile.py"
# The locustfile is read, not imported: importing locust monkey-patches the standard library for
# gevent, which the test process must not have.
TREE = ast.parse(LOCUSTFILE.read_text())
CLASSES = {node.name: node for node in TREE.body if isinstance(node, ast.ClassDef)}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_is_the_url_reverse_gives(name):
    template, url_name, kwargs = PAGES[name]
    values = {placeholder: 7 for placeholder in kwargs.values()}
    built = path(name, **values)
    assert built == reverse(url_name, kwargs={kwarg: 7 for kwarg in kwargs}, urlconf="bench.urls")
    assert resolve(built, urlconf="bench.urls").view_name == url_name


def _page_names_used() -> set[str]:
    """The first argument of every path(), self.page(), self.send() and self.form_on() call, and
    the name= of a request made on locust's client directly."""
    used = set()
    for node in ast.walk(TREE):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if called in {"path", "page", "send", "form_on"} and node.args and isinstance(node.args[0], ast.Constant):
            used.add(node.args[0].value)
        used |= {k.value.value for k in node.keywords if k.arg == "name" and isinstance(k.value, ast.Constant)}
    return used


def test_the_locustfile_opens_only_listed_pages_and_every_listed_page():
    used = _page_names_used()
    assert len(used) == len(PAGES) == 25
    assert used == set(PAGES)


def _tasks(cls: ast.ClassDef) -> dict[str, int]:
    """Task method -> its weight, from the @task / @task(n) decorators."""
    tasks = {}
    for item in cls.body:
        for decorator in getattr(item, "decorator_list", []):
            if isinstance(decorator, ast.Name) and decorator.id == "task":
                tasks[item.name] = 1
            elif isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "task":
                tasks[item.name] = decorator.args[0].value if decorator.args else 1
    return tasks


def _class_weight(cls: ast.ClassDef) -> int | None:
    for item in cls.body:
        if isinstance(item, ast.Assign) and getattr(item.targets[0], "id", "") == "weight":
            return item.value.value
    return None


def test_each_role_has_its_tasks_and_the_clinic_weights():
    assert _tasks(CLASSES["PatientUser"]) == {
        "home": 3,
        "medicines": 1,
        "messages": 1,
        "report_side_effect": 2,
        "questionnaire": 1,
        "book": 1,
    }
    assert _tasks(CLASSES["PsychiatristUser"]) == {
        "home": 2,
        "chart": 4,
        "side_effect_inbox": 2,
        "messages_inbox": 1,
        "visit_note": 1,
    }
    assert _tasks(CLASSES["ClinicAdminUser"]) == {"front_desk": 2, "week": 2, "book": 1}
    assert _tasks(CLASSES["FloorUser"]) == {"floor": 1}
    roles = {"patient": "PatientUser", "psychiatrist": "PsychiatristUser", "admin": "ClinicAdminUser"}
    assert list(roles.values()) == MIX  # the classes chaos/loadtest/run.py asks locust for
    weights = {role: _class_weight(CLASSES[name]) for role, name in roles.items()}
    assert weights == {"patient": 6, "psychiatrist": 3, "admin": 1}
    # The seed sizes its accounts from these shares: they must be the locustfile's weights.
    assert {role: weight / 10 for role, weight in weights.items()} == SHARES


def test_enough_accounts_for_one_per_virtual_user():
    assert accounts_needed(160) == {"patient": 97, "psychiatrist": 49, "admin": 17}
    assert accounts_needed(10) == {"patient": 7, "psychiatrist": 4, "admin": 2}
    assert accounts_needed(10, floor_users=12)["patient"] == 12


# Recorded by `make loadtest` (10 users, 60 s, 2026-12-06), trimmed to three page types.
RECORDED_STATS = """\
Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
GET,admin: booking form,7,0,130,120.36,46.51,215.60,8769.14,0.1184,0.0,130,160,170,170,220,220,220,220,220,220,220
POST,patient: side-effect report sent,42,2,110,480.2,51.0,6517.06,0.0,0.71,0.03,110,130,150,170,420,2400,6500,6500,6500,6500,6500
GET,floor,0,0,0,0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A
,Aggregated,586,2,100,165.66,22.96,6517.06,14136.28,9.9189,0.03,100,140,170,190,280,400,700,940,6500,6500,6500
"""  # noqa: E501 (locust's own lines)
RECORDED_FAILURES = """\
Method,Name,Error,Occurrences,First Seen,Last Seen
POST,patient: side-effect report sent,CatchResponseError('502 (expected 302)'),2,1765039200.1,1765039210.2
"""


def test_reads_locust_csv_per_page_type(tmp_path):
    (tmp_path / "run_stats.csv").write_text(RECORDED_STATS)
    (tmp_path / "run_failures.csv").write_text(RECORDED_FAILURES)
    run = stats.read_stats(tmp_path / "run", users=10, seconds=60)
    assert [line.name for line in run.lines] == ["admin: booking form", "patient: side-effect report sent", "floor"]
    report = run.lines[1]
    assert (report.method, report.count, report.failures, report.p50, report.p95, report.p99) == (
        "POST", 42, 2, 110, 2400, 6500,
    )  # fmt: skip
    assert run.lines[2].p95 == 0 and run.lines[2].count == 0  # "N/A" for a page with no requests
    assert (run.total.name, run.total.count, run.total.failures, run.total.p95) == ("all", 586, 2, 400)
    assert round(run.total.rps, 2) == 9.92
    assert run.errors == ["2 x POST patient: side-effect report sent: CatchResponseError('502 (expected 302)')"]
    # p95 400 ms is under the limit, but two requests failed: the step misses.
    assert run.meets(500) is False
    table = stats.table(run)
    assert "patient: side-effect report sent" in table and "586 requests, 2 errors" in table


def _recorded(figures: dict[int, tuple[float, int]]):
    """A measure() replaying recorded (p95 ms, errors) per user count, noting the counts asked for."""
    asked = []

    def measure(users: int) -> stats.Run:
        asked.append(users)
        p95, errors = figures[users]
        total = stats.Line("all", "", 100 * users, errors, users * 1.0, p95 / 2, p95, p95 * 1.5, p95 * 2)
        return stats.Run(users=users, seconds=60, lines=[], total=total)

    return measure, asked


def test_capacity_doubles_then_bisects_to_the_knee():
    measure, asked = _recorded({10: (210, 0), 20: (300, 0), 40: (450, 0), 80: (1900, 0), 60: (700, 0), 50: (520, 0)})
    found = stats.search(measure, start=10, maximum=160, refine=2)
    assert asked == [10, 20, 40, 80, 60, 50]
    assert (found.users, found.failed_at) == (40, 50)
    assert [run.users for run in found.runs] == asked


def test_capacity_counts_an_error_as_a_miss_even_when_fast():
    measure, asked = _recorded({10: (120, 0), 20: (180, 1), 15: (150, 0)})
    found = stats.search(measure, start=10, maximum=160, refine=1)
    assert asked == [10, 20, 15]
    assert (found.users, found.failed_at) == (15, 20)


def test_capacity_halves_when_the_first_step_misses():
    measure, asked = _recorded({10: (800, 0), 5: (650, 0), 2: (300, 0), 3: (420, 0), 4: (510, 0)})
    found = stats.search(measure, start=10, maximum=160, refine=2)
    assert asked == [10, 5, 2, 3, 4]
    assert (found.users, found.failed_at) == (3, 4)


def test_capacity_stops_at_its_maximum_and_reports_none_below_one():
    measure, asked = _recorded({10: (100, 0), 20: (120, 0), 40: (150, 0), 50: (190, 0)})
    found = stats.search(measure, start=10, maximum=50, refine=2)
    assert asked == [10, 20, 40, 50]
    assert (found.users, found.failed_at) == (50, None)
    measure, asked = _recorded({4: (900, 0), 2: (800, 0), 1: (700, 3)})
    found = stats.search(measure, start=4, maximum=50, refine=2)
    assert asked == [4, 2, 1]
    assert (found.users, found.failed_at) == (None, 1)


@pytest.mark.django_db
def test_the_harness_refuses_a_database_with_real_users():
    doctor = factories.PsychiatristFactory(email="chaos-psy0@loadtest.titrate.test")
    loadtest_patient = factories.PatientUserFactory(email="chaos-pt0@loadtest.titrate.test")
    factories.PatientFactory(user=loadtest_patient, primary_psychiatrist=doctor)
    factories.ClinicAdminFactory(email="admin@demo.titrate.test")
    assert foreign_rows() == {"users": 0, "patients": 0}
    factories.PatientFactory(
        user=factories.PatientUserFactory(email="someone@example.org"), primary_psychiatrist=doctor
    )
    assert foreign_rows() == {"users": 1, "patients": 1}
