from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from tests.factories import (
    DEMO_LIKE_PASSWORD,
    ClinicAdminFactory,
    PatientFactory,
    PatientUserFactory,
    PsychiatristFactory,
)
from tests.totp import totp_code

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def pytest_configure(config):
    if not REQUIRE_SERVICES:
        return
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine or not settings.REDIS_URL:
        raise pytest.UsageError("REQUIRE_SERVICES=1 needs DATABASE_URL pointing at PostgreSQL and REDIS_URL at Redis.")


def pytest_sessionfinish(session, exitstatus):
    # In CI a skipped test is a test that did not run: fail the run.
    if not REQUIRE_SERVICES:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"REQUIRE_SERVICES=1: {len(skipped)} test(s) skipped; failing the run.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def require_service(name: str, available: bool) -> None:
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{name} is required (REQUIRE_SERVICES=1) but is not configured.")
    pytest.skip(f"{name} not configured; set it to run this test.")


@pytest.fixture
def redis_url() -> str:
    require_service("REDIS_URL", bool(settings.REDIS_URL))
    return settings.REDIS_URL


@pytest.fixture(autouse=True)
def _clear_cache():
    # Rate-limit counters and used TOTP codes live in the cache.
    cache.clear()
    yield
    cache.clear()


# --- The people of every test: two psychiatrists, their patients, an admin, a stranger.


@pytest.fixture
def psychiatrist(db):
    return PsychiatristFactory(first_name="Maya", last_name="Okafor")


@pytest.fixture
def psychiatrist2(db):
    return PsychiatristFactory(first_name="Daniel", last_name="Reyes")


@pytest.fixture
def clinic_admin(db):
    return ClinicAdminFactory()


@pytest.fixture
def patient(db, psychiatrist):
    """Alice: a patient of the first psychiatrist, with a portal login."""
    return PatientFactory(user=PatientUserFactory(), primary_psychiatrist=psychiatrist, legal_first_name="Alice")


@pytest.fixture
def patient2(db, psychiatrist2):
    """Bob: a patient of the second psychiatrist, with a portal login."""
    return PatientFactory(user=PatientUserFactory(), primary_psychiatrist=psychiatrist2, legal_first_name="Bob")


@pytest.fixture
def stranger(db):
    """A verified patient account linked to no record: should see nobody's data."""
    return PatientUserFactory()


def log_in(client, user, *, mfa: bool = True):
    """Log in through allauth's real pages, passing the TOTP step for staff."""
    response = client.post(reverse("account_login"), {"login": user.email, "password": DEMO_LIKE_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    if mfa and user.requires_mfa:
        assert response["Location"] == reverse("mfa_authenticate")
        response = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
        assert response.status_code == 302, response.content[:500]
    return response


@pytest.fixture
def login():
    return log_in
