"""What the chaos harness needed from the app (docs/reliability.md): an HTTP SMS gateway backend
that sends our idempotency key, and pages that survive a cache (Redis) outage (scenario F3)."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

import pytest
from django.core.cache import cache
from django.urls import reverse

from chaos import fakesms
from clinic.models import Notification
from notifications import badge, channels
from tests.helpers import log_in


@pytest.fixture
def gateway(settings):
    """The harness's fake gateway, on a free loopback port, fresh counters each test."""
    fakesms.REQUESTS.clear(), fakesms.DELIVERED.clear(), fakesms.ANSWERS.clear()
    fakesms.STATE.update(mode="ok", latency=0.0, timeout_sleep=2.0, turn=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), fakesms.Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.TITRATE_SMS_BACKEND = "http"
    settings.TITRATE_SMS_HTTP_URL = f"http://127.0.0.1:{server.server_port}/messages"
    settings.TITRATE_SMS_HTTP_TOKEN = "tok"
    settings.TITRATE_SMS_HTTP_TIMEOUT = 1
    yield fakesms
    server.shutdown()
    server.server_close()


def test_http_sms_backend_sends_once_per_key(gateway):
    backend = channels.sms_backend()

    assert isinstance(backend, channels.HttpSMSBackend)
    assert backend.send(to="+12025550100", body="Visit Tue", reference="ref-1") == "fake-ref-1"
    assert backend.send(to="+12025550100", body="Visit Tue", reference="ref-1") == "fake-ref-1"
    assert gateway.REQUESTS["ref-1"] == 2
    assert gateway.DELIVERED["ref-1"] == 1


@pytest.mark.parametrize(("mode", "error"), [("fail", channels.TransientError), ("timeout", channels.TransientError)])
def test_http_sms_backend_classifies_faults_as_transient(gateway, mode, error):
    gateway.STATE["mode"] = mode

    with pytest.raises(error) as excinfo:
        channels.sms_backend().send(to="+12025550100", body="Visit", reference="ref-2")

    assert "2025550100" not in str(excinfo.value)
    # A timeout is the ambiguous case: the text went out, and only the key stops a second one.
    assert gateway.DELIVERED["ref-2"] == (1 if mode == "timeout" else 0)


def test_http_sms_backend_refusal_is_permanent(gateway):
    with pytest.raises(channels.PermanentError):
        channels.sms_backend().send(to="", body="Visit", reference="ref-3")

    assert gateway.DELIVERED["ref-3"] == 0


def test_http_sms_retry_after_timeout_delivers_one_text(gateway):
    backend = channels.sms_backend()
    gateway.STATE["mode"] = "timeout"
    with pytest.raises(channels.TransientError):
        backend.send(to="+12025550100", body="Visit", reference="ref-4")
    gateway.STATE["mode"] = "ok"

    assert backend.send(to="+12025550100", body="Visit", reference="ref-4") == "fake-ref-4"
    assert (gateway.REQUESTS["ref-4"], gateway.DELIVERED["ref-4"]) == (2, 1)


class DownCache:
    """Every call fails as a RedisCache does with Redis gone."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("Connection refused")

        return fail


def test_unread_badge_is_counted_from_the_database_when_the_cache_is_down(monkeypatch, patient):
    Notification.objects.create(
        idempotency_key="k1", kind="questionnaire_due", channel="in_app", recipient=patient.user,
        send_at="2026-01-01T00:00Z", expires_at="2099-01-01T00:00Z", status="sent",
    )  # fmt: skip
    monkeypatch.setattr(badge, "cache", DownCache())
    monkeypatch.setattr(badge, "cache", DownCache())

    assert badge.unread_count(patient.user) == 1
    badge.forget_unread(patient.user.pk)  # does not raise


def test_pages_answer_while_the_cache_is_down(client, monkeypatch, patient):
    log_in(client, patient.user)
    monkeypatch.setattr(badge, "cache", DownCache())
    monkeypatch.setattr(badge, "cache", DownCache())

    assert client.get(reverse("patient_home")).status_code == 200
    assert client.get(reverse("notifications")).status_code == 200
    cache.clear()
