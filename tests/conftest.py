from __future__ import annotations

import io
import logging
import sys
from collections import Counter

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from notifications import channels, dispatch, outbox, sending
from tests.factories import (
    PHI_MARKER,
    ClinicAdminFactory,
    PatientFactory,
    PatientUserFactory,
    PsychiatristFactory,
)
from tests.helpers import REQUIRE_SERVICES, log_in, phi_leaks_in_response, require_service


def pytest_configure(config):
    if not REQUIRE_SERVICES:
        return
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine or not settings.REDIS_URL:
        raise pytest.UsageError("REQUIRE_SERVICES=1 needs DATABASE_URL pointing at PostgreSQL and REDIS_URL at Redis.")


def pytest_sessionfinish(session, exitstatus):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: hand the fuzzing counts to the controller
        workeroutput["fuzz"] = _fuzz_stats()
    # In CI a skipped test is a test that did not run: fail the run.
    if not REQUIRE_SERVICES:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"REQUIRE_SERVICES=1: {len(skipped)} test(s) skipped; failing the run.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- What each form went through in the form fuzzing (tests/fuzz). Under pytest-xdist the
# controller runs no tests and never loads tests/fuzz: each worker sends its counts at the end.

_FUZZ_FROM_WORKERS: dict[str, object] = {"profile": None, "stats": {}}


def _fuzz_stats() -> dict:
    harness = sys.modules.get("tests.fuzz.harness")
    if harness is None or not harness.STATS:
        return {}
    from hypothesis import settings as hypothesis_settings

    stats = {name: dict(counts) for name, counts in harness.STATS.items()}
    return {"profile": hypothesis_settings._current_profile, "stats": stats}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    fuzz = getattr(node, "workeroutput", {}).get("fuzz")
    if fuzz:
        _FUZZ_FROM_WORKERS["profile"] = fuzz["profile"]
        _FUZZ_FROM_WORKERS["stats"].update(fuzz["stats"])


def pytest_terminal_summary(terminalreporter):
    fuzz = _fuzz_stats() or _FUZZ_FROM_WORKERS
    if not fuzz["stats"]:
        return
    terminalreporter.section(f"form fuzzing (hypothesis profile {fuzz['profile']})")
    for name, stats in sorted(fuzz["stats"].items()):
        stats = Counter(stats)
        terminalreporter.write_line(
            f"{name:32} {stats['examples']:4} examples: {stats['stored']:4} stored, {stats['refused']:4} refused "
            f"(of them {stats['must_refuse']:4} out of range), {stats['seconds']:6.1f} s"
        )


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


@pytest.fixture(autouse=True)
def _default_language():
    # Each test starts in the site's language, as each request and task does: a Spanish page
    # requested by the test before would otherwise leave Spanish active on the thread.
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture
def migrator(transactional_db):
    """``migrate(targets)`` takes this worker's test database to an older schema and returns that
    state's apps; afterwards the database goes forward to the newest migrations again, so the
    tests that run after on the same worker meet today's schema."""

    def migrate(targets):
        executor = MigrationExecutor(connection)
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    yield migrate
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def worker(django_capture_on_commit_callbacks, monkeypatch):
    """Runs the dispatcher, then sends every published id as a worker would (synchronously)."""
    published: list[str] = []
    monkeypatch.setattr(outbox, "publish", lambda ids: published.extend(ids) or True)

    def run() -> dict[str, str]:
        published.clear()
        with django_capture_on_commit_callbacks(execute=True):
            dispatch.dispatch_due()
        return {pk: sending.send(pk) for pk in list(published)}

    run.published = published
    return run


@pytest.fixture(scope="module")
def demo_clinic(django_db_setup, django_db_blocker):
    """The demo clinic (`manage.py seed_demo`), seeded once for a module whose tests read it.

    Seeding takes seconds; seeding per test was most of the suite's time. It runs inside a
    transaction rolled back when the module ends, and each test runs in its own savepoint
    (pytest-django's per-test transaction), so what a test changes is undone before the next.
    Every test of a module using it should request it: a test that does not still sees the
    demo if it runs after the first one that does.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


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


@pytest.fixture
def login():
    return log_in


# --- PHI marker (MIN, AUD-5): every test runs with patient names and clinical free text holding
# factories.PHI_MARKER; none of it may reach a log, an email, an SMS, a calendar feed or a URL's
# query string. Pages may show PHI to the people allowed to see it: their bodies are not checked.

# factory_boy logs the keyword arguments of every object it builds: test tooling, not the app.
_TEST_TOOLING_LOGGERS = ("factory",)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        if not record.name.startswith(_TEST_TOOLING_LOGGERS):
            self.records.append(record)


@pytest.fixture(autouse=True)
def _no_phi_leaks(monkeypatch):
    from django.core import mail
    from django.core.handlers.base import BaseHandler

    leaks: list[str] = []
    root = logging.getLogger()
    capture = _Records()
    previous_level = root.level
    # Everything down to DEBUG reaches the capture; the handlers already there print what they
    # printed before, so test output does not fill with debug lines.
    quieted = [(h, h.level) for h in root.handlers if h.level == logging.NOTSET]
    for handler, _ in quieted:
        handler.setLevel(previous_level)
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)

    real_get_response = BaseHandler.get_response

    def get_response(self, request):
        response = real_get_response(self, request)
        leaks.extend(phi_leaks_in_response(request, response))
        return response

    monkeypatch.setattr(BaseHandler, "get_response", get_response)

    sms_bodies: list[str] = []
    real_backend = channels.sms_backend

    def recording_backend():
        # Wrap the real backend's send on the instance, so tests still see the backend's class.
        backend = real_backend()
        send = backend.send

        def recording_send(*, to, body, reference):
            sms_bodies.append(body)
            return send(to=to, body=body, reference=reference)

        backend.send = recording_send
        return backend

    monkeypatch.setattr(channels, "sms_backend", recording_backend)
    try:
        yield
    finally:
        root.removeHandler(capture)
        root.setLevel(previous_level)
        for handler, level in quieted:
            handler.setLevel(level)
    formatter = logging.Formatter()
    for record in capture.records:
        text = record.getMessage() + (formatter.formatException(record.exc_info) if record.exc_info else "")
        if PHI_MARKER in text:
            leaks.append(f"log {record.name} {record.levelname}: {text[:300]}")
    for message in getattr(mail, "outbox", []):
        parts = [message.subject, str(message.body)] + [str(content) for content, _ in message.alternatives]
        if any(PHI_MARKER in part for part in parts):
            leaks.append(f"email {message.subject!r} to {message.to}")
    leaks.extend(f"SMS {body[:160]!r}" for body in sms_bodies if PHI_MARKER in body)
    if leaks:
        pytest.fail("PHI marker leaked:\n" + "\n".join(dict.fromkeys(leaks)), pytrace=False)
