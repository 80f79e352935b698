"""Structured logs with a request id (clinic/logs.py): the id is taken from a well-formed incoming
X-Request-ID or made, returned in the response, put on every log line of the request, and carried
into the Celery tasks the request enqueued; production writes one JSON object a line."""

from __future__ import annotations

import io
import json
import logging

import pytest
from celery.contrib.testing.worker import start_worker
from django.http import HttpResponse
from django.test import RequestFactory

from clinic import logs
from clinic.celery import app
from clinic.logmask import MaskSecretsFilter
from tests.helpers import manage, production_env

pytestmark = pytest.mark.django_db


class Captured(logging.Handler):
    """What the console handler of LOGGING sees: its filters run, so records carry the id."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.addFilter(logs.RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture(autouse=True)
def _no_request_id_left():
    logs.request_id.set(logs.NO_REQUEST)
    yield
    logs.request_id.set(logs.NO_REQUEST)


@pytest.fixture
def captured():
    handler = Captured()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def test_each_response_carries_a_new_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]

    assert len(first) == 32 and int(first, 16) >= 0  # a uuid4's hex
    assert first != second


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("3f2a9c4e-8b1d-4c2e-9f00-1234567890ab", True),  # a proxy's uuid
        ("Root=1-67891233-abcdef012345678912345678", False),  # "=": not an id
        ("short", False),
        ("x" * 65, False),
        ("abc12345\nFAKE LOG LINE", False),
        ("<script>alert(1)</script>", False),
    ],
)
def test_an_incoming_request_id_is_kept_only_when_well_formed(client, incoming, kept):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})

    assert (response["X-Request-ID"] == incoming) is kept
    assert len(response["X-Request-ID"]) == (len(incoming) if kept else 32)


def test_every_line_of_a_request_carries_its_id_even_the_404_line(client, captured):
    response = client.get("/no-such-page/", headers={"X-Request-ID": "req-12345678"})

    assert response.status_code == 404
    not_found = [r for r in captured.records if r.name == "django.request"]
    assert [r.getMessage() for r in not_found] == ["Not Found: /no-such-page/"]
    assert not_found[0].request_id == "req-12345678"

    # After the response: the next line belongs to no request.
    logging.getLogger("titrate.test").warning("between requests")
    assert captured.records[-1].request_id == logs.NO_REQUEST


@app.task(name="tests.clinic.test_logs.log_a_line")
def log_a_line() -> str:
    logging.getLogger("titrate.test").warning("task ran")
    return logs.request_id.get()


def test_a_task_logs_under_the_id_of_the_request_that_enqueued_it(redis_url):
    # On the task's own logger: the worker's start reconfigures logging (Django's LOGGING), which
    # replaces the root's handlers.
    captured = Captured()
    task_logger = logging.getLogger("titrate.test")
    task_logger.addHandler(captured)
    # Its own level: the test worker's logging set-up raises the root's to ERROR.
    task_logger.setLevel(logging.INFO)

    def view(request):
        # What request code does: publish (here at once; the portal's views do it on commit).
        view.result = log_a_line.apply_async(ignore_result=False)
        return HttpResponse("queued")

    middleware = logs.RequestIdMiddleware(view)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        response = middleware(RequestFactory().get("/", headers={"X-Request-ID": "req-from-the-web-1"}))
        logs.clear_after_request()  # Django's request_finished, when the response is closed
        assert view.result.get(timeout=20) == "req-from-the-web-1"
        # Sent outside any request (as beat sends): the task's lines carry no id.
        assert log_a_line.apply_async(ignore_result=False).get(timeout=20) == logs.NO_REQUEST

    task_logger.removeHandler(captured)
    task_logger.setLevel(logging.NOTSET)
    assert response["X-Request-ID"] == "req-from-the-web-1"
    task_lines = [r for r in captured.records if r.getMessage() == "task ran"]
    assert [r.request_id for r in task_lines] == ["req-from-the-web-1", logs.NO_REQUEST]


def test_a_forged_header_on_a_message_is_not_taken_as_an_id():
    class Task:
        class request:  # noqa: N801 (Celery's attribute name)
            titrate_request_id = "bad id\nwith a newline"

    logs.restore_for_task(task_id="t1", task=Task)
    try:
        assert logs.request_id.get() == logs.NO_REQUEST
    finally:
        logs.clear_after_task(task_id="t1")


def test_the_json_formatter_writes_the_fields_and_no_extra():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonLogFormatter())
    handler.addFilter(MaskSecretsFilter())
    handler.addFilter(logs.RequestIdFilter())
    logger = logging.getLogger("titrate.json-test")
    logger.addHandler(handler)
    token = logs.request_id.set("req-json-0001")
    try:
        logger.warning("feed %s fetched", "/calendar/secret-token.ics", extra={"patient_name": "Ann Example"})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        logs.request_id.reset(token)
        logger.removeHandler(handler)

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert set(first) == {"timestamp", "level", "logger", "message", "request_id"}
    assert first["message"] == "feed /calendar/[masked].ics fetched"
    assert (first["level"], first["logger"], first["request_id"]) == ("WARNING", "titrate.json-test", "req-json-0001")
    assert first["timestamp"].endswith("+00:00")
    assert "ValueError: boom" in second["exc_info"]


def _log_one_line(**env) -> str:
    result = manage(
        "shell", "-c", "import logging; logging.getLogger('titrate.check').warning('hello %s', 42)", env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_production_logs_are_json_and_development_logs_are_plain():
    line = json.loads(_log_one_line(**production_env()))
    assert (line["message"], line["level"], line["logger"], line["request_id"]) == (
        "hello 42",
        "WARNING",
        "titrate.check",
        "-",
    )

    plain = _log_one_line(**production_env(DJANGO_DEBUG="true"))
    assert plain.endswith("WARNING titrate.check [-] hello 42")

    forced = _log_one_line(**production_env(DJANGO_LOG_FORMAT="plain"))
    assert forced.endswith("WARNING titrate.check [-] hello 42")
