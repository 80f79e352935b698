"""/healthz and ``manage.py check_health`` (clinic/health.py, docs/operations.md): each check fails
with a short reason — a dependency down, the outbox backing up, beat not ticking, no worker, a
safety task switched off — and the answer says nothing more than the check's name and reason."""

from __future__ import annotations

import datetime
import importlib.util
import io
import json
import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from clinic import health
from clinic.celery import app
from clinic.models import Heartbeat, Notification
from clinic.schedules import SAFETY_TASKS
from clinic.tasks import beat_heartbeat
from tests.factories import PHI_MARKER
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db
REAL_PING = health.ping_workers
ALL_OK = {
    "database": "ok",
    "broker": "ok",
    "cache": "ok",
    "outbox": "ok",
    "beat": "ok",
    "safety_tasks": "ok",
    "worker": "ok",
}


@pytest.fixture
def pings(monkeypatch):
    """Worker pings answered (a real worker answers one in test_a_running_worker_answers_the_ping)."""
    calls = []

    def answered():
        calls.append(1)
        return None

    monkeypatch.setattr(health, "ping_workers", answered)
    return calls


@pytest.fixture
def healthy(pings):
    call_command("sync_periodic_tasks", verbosity=0)
    health.beat()
    return pings


def due_notification(patient, *, waited_seconds: int) -> Notification:
    now = timezone.now()
    return Notification.objects.create(
        idempotency_key=f"health-{uuid.uuid4()}",
        kind=Notification.Kind.APPOINTMENT_REMINDER,
        channel=Notification.Channel.EMAIL,
        recipient=patient.user,
        send_at=now - datetime.timedelta(seconds=waited_seconds),
        expires_at=now + datetime.timedelta(hours=1),
    )


def test_healthy_when_every_check_passes(client, healthy, django_assert_max_num_queries):
    # * SELECT 1  * the oldest due notification  * the beat heartbeat  * the safety tasks
    with django_assert_max_num_queries(4):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": ALL_OK}
    assert "no-cache" in response["Cache-Control"]


def test_needs_no_login_and_carries_no_user_data(client, healthy, patient):
    due_notification(patient, waited_seconds=3600)

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.content.decode()
    assert PHI_MARKER not in body and patient.user.email not in body
    assert "sessionid" not in response.cookies


def test_broker_down_gives_503(client, healthy, settings):
    # Nothing listens on port 1: the connection is refused at once.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] != "ok"


def test_database_down_gives_503_and_every_check_needing_it_fails(client, healthy, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise connection.Database.OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)

    response = client.get("/healthz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "OperationalError"
    assert checks["beat"] != "ok" and checks["safety_tasks"] != "ok"


def test_outbox_backing_up_fails_past_the_threshold(client, healthy, settings, patient):
    settings.TITRATE_HEALTH_OUTBOX_MAX_AGE_SECONDS = 600
    row = due_notification(patient, waited_seconds=300)
    assert client.get("/healthz").json()["checks"]["outbox"] == "ok"

    Notification.objects.filter(pk=row.pk).update(send_at=timezone.now() - datetime.timedelta(seconds=900))
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["outbox"].startswith("oldest due notification waiting 9")

    # Sent: nothing waits any more.
    Notification.objects.filter(pk=row.pk).update(status=Notification.Status.SENT)
    assert client.get("/healthz").status_code == 200


def test_beat_not_ticking_fails_until_the_heartbeat_returns(client, healthy, settings):
    settings.TITRATE_HEALTH_BEAT_MAX_AGE_SECONDS = 180
    Heartbeat.objects.filter(name="beat").update(beat_at=timezone.now() - datetime.timedelta(seconds=200))

    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["beat"].startswith("no beat heartbeat for 20")

    beat_heartbeat.apply()  # what beat sends every minute
    assert client.get("/healthz").status_code == 200

    Heartbeat.objects.all().delete()
    assert client.get("/healthz").json()["checks"]["beat"] == "no beat heartbeat yet"


@pytest.mark.parametrize("name", sorted(SAFETY_TASKS))
def test_a_disabled_safety_task_fails(client, healthy, name):
    task = PeriodicTask.objects.get(name=name)
    task.enabled = False
    task.save()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["safety_tasks"] == f"disabled: {name}"


def test_a_missing_or_changed_safety_task_fails(client, healthy):
    PeriodicTask.objects.filter(name="Escalate safety alerts").delete()
    PeriodicTask.objects.filter(name="Dispatch notifications").update(task="clinic.tasks.ping")

    checks = client.get("/healthz").json()["checks"]

    assert checks["safety_tasks"] == "changed: Dispatch notifications; missing: Escalate safety alerts"


def test_no_worker_answering_fails(client, healthy, monkeypatch):
    monkeypatch.setattr(health, "ping_workers", REAL_PING)
    monkeypatch.setattr(health.app.control, "ping", lambda **kwargs: [])

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == "no worker answered a ping"


def test_healthz_reuses_a_recent_ping_and_the_command_pings_afresh(client, healthy):
    client.get("/healthz")
    client.get("/healthz")
    assert len(healthy) == 1  # the second request reused the first answer (cached 10 s)

    call_command("check_health", stdout=io.StringIO())
    assert len(healthy) == 2


def test_filesystem_broker_skips_the_ping(client, healthy, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}

    response = client.get("/healthz")

    assert response.status_code == 200
    assert "worker" not in response.json()["checks"]
    assert healthy == []


def test_a_running_worker_answers_the_ping(redis_url):
    # A ping needs no database: the worker thread answers over Redis alone.
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert REAL_PING() is None
    assert REAL_PING() == "no worker answered a ping"


def test_check_health_command_prints_each_check_and_exits_0(healthy, capsys):
    call_command("check_health")

    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(ALL_OK)
    assert all(line.split()[1] == "ok" for line in lines)


def test_check_health_command_exits_1_with_the_reasons(healthy, settings):
    settings.TITRATE_HEALTH_BEAT_MAX_AGE_SECONDS = 60
    Heartbeat.objects.update(beat_at=timezone.now() - datetime.timedelta(seconds=120))
    PeriodicTask.objects.filter(name="Escalate safety alerts").update(enabled=False)

    with pytest.raises(CommandError) as failure:
        call_command("check_health", stdout=io.StringIO())

    assert failure.value.returncode == 1
    message = str(failure.value)
    assert "beat: no beat heartbeat for 1" in message
    assert "safety_tasks: disabled: Escalate safety alerts" in message


def test_only_get(client):
    assert client.post("/healthz").status_code == 405


def _container_check():
    spec = importlib.util.spec_from_file_location("deploy_healthcheck", ROOT / "deploy" / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.node_healthy


def test_a_web_container_stays_healthy_when_only_site_wide_checks_fail(client, healthy):
    node_healthy = _container_check()
    PeriodicTask.objects.filter(name="Escalate safety alerts").update(enabled=False)
    site_wide = client.get("/healthz")

    assert node_healthy(site_wide.status_code, site_wide.content) == (
        True,
        "safety_tasks: disabled: Escalate safety alerts",
    )
    assert node_healthy(200, b"{}") == (True, "")
    down = json.dumps({"status": "unavailable", "checks": {**ALL_OK, "database": "OperationalError"}}).encode()
    assert node_healthy(503, down) == (False, "database: OperationalError")
    assert node_healthy(502, b"<html>bad gateway</html>") == (False, "healthz answered 502")
