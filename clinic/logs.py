"""Request ids in every log line (issue 24): one id per request, carried into the Celery tasks the
request enqueued, so the worker's lines about a patient's report can be found from the web's.

The id is accepted from an incoming ``X-Request-ID`` (a proxy or load balancer that sets one keeps
its id end to end) only when it looks like an id: 8-64 letters, digits, ``-``, ``_`` or ``.``.
Anything else, which a client could use to write arbitrary text into the logs, is replaced by a
fresh one. The response returns it in ``X-Request-ID``. Celery carries it as a message header
(``before_task_publish``) and the worker restores it for the task's duration (``task_prerun``);
the handlers are connected in clinic/celery.py.

The JSON formatter writes the message, the level, the logger, the time and the request id, and
nothing a caller passes in ``extra=``: an extra field would bypass the secret masking
(clinic/logmask.py) and could carry an object's repr, so it is never serialised.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from django.core.signals import request_finished
from pythonjsonlogger.json import JsonFormatter

HEADER = "X-Request-ID"
CELERY_HEADER = "titrate_request_id"
NO_REQUEST = "-"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{8,64}")

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NO_REQUEST)


def accept(incoming: str | None) -> str:
    """``incoming`` if it is a well-formed id, else a new one."""
    if incoming and _WELL_FORMED.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in MIDDLEWARE, so every line logged while the request runs carries its id. The id is
    cleared when the response is finished (``clear_after_request``), not when this middleware
    returns: Django logs a 4xx/5xx ("Not Found: ...") after the middleware chain is done."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        rid = accept(request.headers.get(HEADER))
        request.request_id = rid
        request_id.set(rid)
        response = self.get_response(request)
        response[HEADER] = rid
        return response


def clear_after_request(**kwargs) -> None:
    """request_finished: lines the thread logs between requests carry no stale id."""
    request_id.set(NO_REQUEST)


request_finished.connect(clear_after_request, dispatch_uid="clinic.logs.clear_after_request")


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or ``-``) on every record (set on every handler in LOGGING)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonLogFormatter(JsonFormatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request id, and the
    traceback when there is one. Only those: see the module docstring about ``extra``."""

    FIELDS = ("timestamp", "levelname", "name", "message", "request_id")

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("fmt", list(self.FIELDS))
        kwargs.setdefault("timestamp", True)
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data, record, message_dict) -> None:
        # message_dict holds the traceback (exc_info, stack_info) and whatever a dict message carried.
        kept = {key: message_dict[key] for key in ("exc_info", "stack_info") if key in message_dict}
        super().add_fields(log_data, record, kept)
        for key in list(log_data):
            if key not in self.FIELDS and key not in ("level", "logger", "exc_info", "stack_info"):
                del log_data[key]


# --- Celery: the id travels with the message -------------------------------------------------------


def add_to_message(headers: dict | None = None, **kwargs) -> None:
    """before_task_publish: a task published while a request runs carries that request's id
    (beat's own sends carry none, and their tasks log ``-``)."""
    rid = request_id.get()
    if headers is not None and rid != NO_REQUEST:
        headers.setdefault(CELERY_HEADER, rid)


_task_tokens: dict[str, contextvars.Token] = {}


def restore_for_task(task_id: str | None = None, task=None, **kwargs) -> None:
    """task_prerun: the worker logs the task's lines under the id of the request that sent it."""
    incoming = getattr(task.request, CELERY_HEADER, None) if task is not None else None
    # No header: a task run in-process (eager, in tests) keeps the id it runs under; on a worker
    # that is "-", since every task's id is reset after it.
    rid = incoming if incoming and _WELL_FORMED.fullmatch(str(incoming)) else request_id.get()
    _task_tokens[task_id] = request_id.set(rid)


def clear_after_task(task_id: str | None = None, **kwargs) -> None:
    """task_postrun: the next task on this worker starts without the last one's id."""
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        request_id.reset(token)
