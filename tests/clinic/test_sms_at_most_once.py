"""A text the gateway may already have accepted is never sent again (docs/reminders.md §3).

Twilio does not deduplicate by our key, so when a call times out or drops after the request went,
the patient may already have the text: the row becomes UNKNOWN for a human to check, never PENDING.
Only a call that failed before reaching the gateway (refused, connect timeout) is retried. The
gateway here is a real loopback server that, like Twilio, sends a text for every request it reads,
so the counts are texts a patient would receive.
"""

from __future__ import annotations

import datetime
import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import responses
import time_machine
from django.utils import timezone

from clinic.models import AuditEvent, Notification
from notifications import channels, dispatch, outbox, sending
from tests.factories import due_reminders, statuses

pytestmark = pytest.mark.django_db

Channel, Status = Notification.Channel, Notification.Status


class Gateway(BaseHTTPRequestHandler):
    """Sends a text per request read (no deduplication), then answers per ``mode``: ``ok`` (201),
    ``hang`` (answers after the client's read timeout) or ``drop`` (closes without answering)."""

    protocol_version = "HTTP/1.1"
    mode = "ok"
    texts: Counter = Counter()
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.texts[self.headers["Idempotency-Key"]] += 1
        if self.mode == "drop":
            self.close_connection = True
            return
        if self.mode == "hang":
            time.sleep(0.8)
        body = json.dumps({"sid": f"SM{sum(self.texts.values())}"}).encode()
        try:
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped waiting


@pytest.fixture
def gateway(settings, monkeypatch):
    Gateway.texts = Counter()
    Gateway.mode = "ok"
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.TITRATE_SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC123", "secret"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    monkeypatch.setattr(
        channels.TwilioSMSBackend, "API", f"http://127.0.0.1:{server.server_port}/{{sid}}/Messages.json"
    )
    monkeypatch.setattr(channels.TwilioSMSBackend, "TIMEOUT", (1, 0.3))
    yield Gateway
    server.shutdown()
    server.server_close()


@pytest.fixture
def published(monkeypatch) -> list[list[str]]:
    messages: list[list[str]] = []
    monkeypatch.setattr(outbox, "publish", lambda ids: messages.append([str(pk) for pk in ids]) or True)
    return messages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("mode", ["hang", "drop"])
def test_a_call_that_reached_twilio_without_an_answer_is_ambiguous(gateway, mode):
    gateway.mode = mode

    with pytest.raises(channels.AmbiguousError) as excinfo:
        channels.sms_backend().send(to="+16175550123", body="Visit Tue", reference="ref-1")

    assert gateway.texts["ref-1"] == 1  # the patient has it
    assert "6175550123" not in str(excinfo.value)


def test_a_call_that_never_reached_twilio_is_retried(gateway, monkeypatch):
    monkeypatch.setattr(channels.TwilioSMSBackend, "API", f"http://127.0.0.1:{free_port()}/{{sid}}/Messages.json")

    with pytest.raises(channels.TransientError, match="Twilio unreachable: ConnectionError"):
        channels.sms_backend().send(to="+16175550123", body="Visit Tue", reference="ref-1")


@responses.activate
def test_a_connect_timeout_is_retried_and_an_unreadable_acceptance_is_still_sent(gateway):
    url = channels.TwilioSMSBackend.API.format(sid="AC123")
    responses.post(url, body=requests.ConnectTimeout("connect timeout"))
    with pytest.raises(channels.TransientError):
        channels.sms_backend().send(to="+16175550123", body="Visit", reference="ref-1")

    responses.replace(responses.POST, url, body="<html>accepted</html>", status=201)
    assert channels.sms_backend().send(to="+16175550123", body="Visit", reference="ref-2") == "twilio-ref-2"


def test_a_text_that_timed_out_ends_unknown_and_is_never_sent_again(gateway, published):
    gateway.mode = "hang"
    [row] = due_reminders(1, channels_=(Channel.SMS,))

    assert sending.send_batch([str(row.pk)]) == {str(row.pk): Status.UNKNOWN}

    row.refresh_from_db()
    assert (row.status, row.attempts, row.lease_expires_at) == (Status.UNKNOWN, 1, None)
    assert row.last_error == "No answer from Twilio after the request went: ReadTimeout"
    assert not AuditEvent.objects.filter(detail__event="notification_sent").exists()
    # Nothing brings it back: not the sweep (an hour on), not a redelivered task message.
    gateway.mode = "ok"
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1)):
        assert str(row.pk) not in dispatch.dispatch_due()
    assert sending.send_batch([str(row.pk)]) == {str(row.pk): Status.UNKNOWN}
    assert gateway.texts == {str(row.pk): 1}


def test_a_batch_out_of_time_after_a_timed_out_text_gives_back_only_the_texts_not_sent(gateway, published, monkeypatch):
    gateway.mode = "hang"
    rows = due_reminders(3, channels_=(Channel.SMS,))
    monkeypatch.setattr(sending, "_time_budget", lambda: 0.1)  # the first call outlasts it

    results = sending.send_batch([str(r.pk) for r in rows])

    first, *rest = sorted(rows, key=lambda r: r.pk)
    assert results == {str(first.pk): Status.UNKNOWN, **{str(r.pk): Status.PENDING for r in rest}}
    assert sorted(published[0]) == sorted(str(r.pk) for r in rest)  # the timed-out text is not among them
    assert gateway.texts == {str(first.pk): 1}
    # The given-back texts go out once each on the next batch; the first is not sent again.
    gateway.mode = "ok"
    monkeypatch.setattr(sending, "_time_budget", lambda: 30.0)
    assert sending.send_batch(published[0] + [str(first.pk)]) == {
        str(first.pk): Status.UNKNOWN,
        **{str(r.pk): Status.SENT for r in rest},
    }
    assert gateway.texts == {str(r.pk): 1 for r in rows}
    assert statuses(rows) == {str(first.pk): Status.UNKNOWN, **{str(r.pk): Status.SENT for r in rest}}
    assert AuditEvent.objects.filter(detail__event="notification_sent").count() == 2


def test_a_refused_call_is_retried_and_the_text_goes_once(gateway, monkeypatch):
    [row] = due_reminders(1, channels_=(Channel.SMS,))
    live = channels.TwilioSMSBackend.API
    monkeypatch.setattr(channels.TwilioSMSBackend, "API", f"http://127.0.0.1:{free_port()}/{{sid}}/Messages.json")

    assert sending.send_batch([str(row.pk)]) == {str(row.pk): Status.PENDING}
    row.refresh_from_db()
    assert row.attempts == 1 and row.last_error == "Twilio unreachable: ConnectionError"

    monkeypatch.setattr(channels.TwilioSMSBackend, "API", live)
    Notification.objects.filter(pk=row.pk).update(send_at=timezone.now())  # its backoff is over
    assert sending.send_batch([str(row.pk)]) == {str(row.pk): Status.SENT}
    assert gateway.texts == {str(row.pk): 1}
