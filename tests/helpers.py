"""Helpers shared by test modules. Import them from here, not from a conftest (pytest loads conftest
files itself, and in some import modes `tests.conftest` would be a second copy with its own hooks)
nor from another test module (a test's helpers then move or vanish with that module's tests)."""

from __future__ import annotations

import html
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.messages.storage.session import SessionStorage
from django.urls import reverse

from tests.factories import DEMO_LIKE_PASSWORD, PHI_MARKER
from tests.totp import totp_code

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def warm_clinic_profile() -> None:
    """A running portal reads the clinic profile (clinic.contact.clinic()) once per cache period;
    each test starts with an empty cache, so a test comparing two pages' query counts warms it
    first, as the portal's steady state is."""
    from clinic import contact

    contact.clinic()


def require_service(name: str, available: bool) -> None:
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{name} is required (REQUIRE_SERVICES=1) but is not configured.")
    pytest.skip(f"{name} not configured; set it to run this test.")


def log_in(client, user, *, mfa: bool = True, password: str = DEMO_LIKE_PASSWORD, keep_messages: bool = False):
    """Log in through allauth's real pages, passing the TOTP step for staff.

    allauth queues "Successfully signed in as …" in the session (where messages live: issue 18);
    the first page would show it and write the session once more than any later page, which the
    page-cost tests would count. Unless ``keep_messages``, the test starts where a second page does.
    """
    response = client.post(reverse("account_login"), {"login": user.email, "password": password})
    assert response.status_code == 302, response.content[:500]
    if mfa and user.requires_mfa:
        assert response["Location"] == reverse("mfa_authenticate")
        response = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
        assert response.status_code == 302, response.content[:500]
    if not keep_messages:
        session = client.session
        if session.pop(SessionStorage.session_key, None) is not None:
            session.save()
    return response


# --- PHI marker in responses (tests/conftest.py checks every response of every test).

_URL_IN_PAGE = re.compile(r"""(?:href|action|src|formaction|content)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def phi_leaks_in_response(request, response) -> list[str]:
    """Where a response puts the marker outside a page's visible text."""
    found = []
    if PHI_MARKER in request.META.get("QUERY_STRING", ""):
        found.append(f"request query string {request.get_full_path()}")
    location = response.get("Location", "")
    if PHI_MARKER in urlsplit(location).query:
        found.append(f"redirect to {location}")
    content_type = response.get("Content-Type", "")
    if getattr(response, "streaming", False):
        return found
    if "text/calendar" in content_type and PHI_MARKER.encode() in response.content:
        found.append(f"calendar feed {request.path}")
    if "text/html" in content_type and PHI_MARKER.encode() in response.content:
        for url in _URL_IN_PAGE.findall(response.content.decode(errors="replace")):
            if PHI_MARKER in urlsplit(html.unescape(url)).query:
                found.append(f"link {url} in {request.path}")
    return found


# --- manage.py in a subprocess under production settings (settings are read once per process).


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "EMAIL_", "DATABASE_", "REDIS_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="clinic.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="titrate.example.org",
        EMAIL_URL="smtp+tls://mailer:app-password@smtp.example.org:587",
        TITRATE_CLINIC_PHONE="(617) 555-0100",
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def form_data(form) -> dict:
    """The form as rendered, submitted back unchanged."""
    data = {}
    for bound in form:
        value = bound.value()
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
            continue
        formatted = bound.field.widget.format_value(value)
        if isinstance(formatted, list):
            data[bound.html_name] = formatted
        elif formatted is not None:
            data[bound.html_name] = str(formatted)
    return data


def first_responses_against_the_messages() -> tuple[dict, dict]:
    """The first responses recorded at write time (``first_response_at``) that differ from the rule
    applied to the messages themselves (docs/metrics.md): a PATIENT thread's is its first care-team
    message; a side-effect report's the earlier of its acknowledgement and its thread's first
    care-team message. Returns ({thread id: (recorded, by the rule)}, {report id: (...)}): both
    empty when every write path recorded its facts."""
    from medications.models import Message, MessageThread, SideEffectReport

    first_staff: dict[int, object] = {}
    for thread_id, created_at in Message.objects.filter(from_patient=False, thread__kind="patient").values_list(
        "thread_id", "created_at"
    ):
        if thread_id not in first_staff or created_at < first_staff[thread_id]:
            first_staff[thread_id] = created_at
    threads = {}
    report_thread = {}
    for pk, recorded, report_id in MessageThread.objects.filter(kind="patient").values_list(
        "pk", "first_response_at", "side_effect_report_id"
    ):
        if recorded != first_staff.get(pk):
            threads[pk] = (recorded, first_staff.get(pk))
        if report_id is not None:
            report_thread[report_id] = first_staff.get(pk)
    reports = {}
    for pk, recorded, acknowledged in SideEffectReport.objects.values_list(
        "pk", "first_response_at", "acknowledged_at"
    ):
        moments = [moment for moment in (acknowledged, report_thread.get(pk)) if moment is not None]
        rule = min(moments, default=None)
        if recorded != rule:
            reports[pk] = (recorded, rule)
    return threads, reports


def caseload_facts_against_the_records() -> dict:
    """The patients whose dates recorded at write time (docs/metrics.md, "Caseload") differ from
    their records: last_measured_at from their latest PHQ-9 or GAD-7, lab_overdue_from and
    review_overdue_from from the first overdue day of their work-list entries of each kind.
    Returns {patient id: {field: (recorded, from the records)}}: empty when every path recorded them."""
    from medications.models import DueEntry
    from patients.models import Patient, QuestionnaireResponse
    from patients.questionnaires import MEASUREMENT_INSTRUMENTS

    expected: dict[int, dict] = {}
    for patient_id, submitted_at in QuestionnaireResponse.objects.filter(
        instrument__in=MEASUREMENT_INSTRUMENTS
    ).values_list("patient_id", "submitted_at"):
        mine = expected.setdefault(patient_id, {})
        mine["last_measured_at"] = max(submitted_at, mine.get("last_measured_at", submitted_at))
    for patient_id, kind, overdue_from in DueEntry.objects.values_list("patient_id", "kind", "overdue_from"):
        name = "lab_overdue_from" if kind == DueEntry.Kind.LAB else "review_overdue_from"
        mine = expected.setdefault(patient_id, {})
        mine[name] = min(overdue_from, mine.get(name, overdue_from))
    differ = {}
    fields = ("last_measured_at", "lab_overdue_from", "review_overdue_from")
    for pk, *recorded in Patient.objects.values_list("pk", *fields):
        wanted = expected.get(pk, {})
        off = {
            name: (value, wanted.get(name))
            for name, value in zip(fields, recorded, strict=True)
            if value != wanted.get(name)
        }
        if off:
            differ[pk] = off
    return differ
