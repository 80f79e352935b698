"""Optional error tracking with Sentry (``SENTRY_DSN``), and the error emails to ``ADMINS``, with no
patient data in either (AUD-5).

Sentry runs with ``send_default_pii=False`` and no local variables in stack frames; ``scrub``, its
``before_send``, then drops what can still carry PHI or secrets: the request's body, cookies, query
string and headers (the method and the path stay, secret path segments masked by clinic.logmask),
the user's email, name and address (the id stays), and masks secret URLs in messages and
breadcrumbs. The Celery integration sends a cron check-in for each safety task
(clinic.schedules.SAFETY_TASKS) when beat runs it, so Sentry alerts when one stops running.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from django.utils.log import AdminEmailHandler

from clinic.logmask import mask
from clinic.logs import NO_REQUEST

# Request headers that describe the client, not the person: everything else is dropped.
KEPT_HEADERS = frozenset({"User-Agent", "Content-Type", "Content-Length", "X-Request-Id", "X-Request-ID"})


def _mask_text(value: Any) -> Any:
    return mask(value) if isinstance(value, str) else value


def scrub(event: dict, hint: dict | None = None) -> dict:
    """Sentry's ``before_send`` (and ``before_send_transaction``): the event without PHI."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "query_string", "env"):
            request.pop(key, None)
        if isinstance(request.get("url"), str):
            request["url"] = mask(request["url"].split("?", 1)[0])
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: v for k, v in headers.items() if k in KEPT_HEADERS}
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    if "logentry" in event and isinstance(event["logentry"], dict):
        entry = event["logentry"]
        entry["message"] = _mask_text(entry.get("message"))
        entry.pop("params", None)
    for exception in (event.get("exception") or {}).get("values", []) or []:
        exception["value"] = _mask_text(exception.get("value"))
        for frame in (exception.get("stacktrace") or {}).get("frames", []) or []:
            frame.pop("vars", None)
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values", []) if isinstance(crumbs, dict) else (crumbs or [])
    for crumb in values:
        crumb["message"] = _mask_text(crumb.get("message"))
        crumb.pop("data", None)
    event.pop("extra", None)
    return event


def monitor_only(task_names) -> list[str]:
    """``exclude_beat_tasks`` for the Celery integration: every beat entry except these names."""
    names = "|".join(re.escape(name) for name in sorted(task_names))
    return [f"^(?!(?:{names})$).*"]  # re.search: anchored, or it matches from the 2nd letter


def init_sentry(dsn: str, *, environment: str, release: str, safety_tasks) -> None:
    # Imported here: the SDK and its integrations add about 10 MB to every process, and a clinic
    # without SENTRY_DSN never needs them.
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub,
        before_send_transaction=scrub,
        traces_sample_rate=0,
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(monitor_beat_tasks=True, exclude_beat_tasks=monitor_only(safety_tasks)),
        ],
    )


class AdminErrorEmailHandler(AdminEmailHandler):
    """Errors by email to ADMINS with the log line (secrets masked) and the traceback only.
    Django's own handler adds the request's form fields, cookies, headers and each frame's
    variables, any of which may hold a patient's words."""

    def emit(self, record: logging.LogRecord) -> None:
        message = mask(record.getMessage())
        subject = f"{record.levelname}: {message.splitlines()[0] if message else record.name}"
        trace = "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else ""
        rid = getattr(record, "request_id", NO_REQUEST)
        body = f"{message}\n\nlogger: {record.name}\nrequest id: {rid}\n\n{mask(trace)}"
        self.send_mail(self.format_subject(subject), body, fail_silently=True)
