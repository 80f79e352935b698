"""Secrets that travel in a URL path are masked before a log line is written (issue 18 item 8).

A calendar-feed address is a bearer token (anyone holding it reads the user's appointment times),
and so is a reminder's one-click action link, an emailed account invitation (clinic.invitations),
a therapist's summary link and allauth's password-reset and email-confirmation keys. Django logs
the path of every 404 ("Not Found: /calendar/<token>.ics"), runserver and gunicorn log the request
line and the referrer of every request: whoever reads those logs would hold the secrets. Every log
handler of ours runs ``MaskSecretsFilter``; gunicorn's access log uses ``MaskingGunicornLogger``
(``gunicorn.conf.py`` at the project root names it).
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger as GunicornLogger

MASK = "[masked]"
_SEGMENT = r"[^/?#\s\"']+"
# Group 1 (the path up to the secret) is kept; the secret segment after it is replaced.
_SECRETS_IN_PATHS = (
    re.compile(rf"(/calendar/){_SEGMENT}(?=\.ics)"),
    re.compile(rf"(/accounts/password/reset/key/|/accounts/confirm-email/|/invitation/){_SEGMENT}"),
    # /a/ alone is short: only where a path starts (after a space, a quote, or a scheme and host).
    re.compile(rf"((?:^|[\s\"'(=,]|://[^/\s\"']+)/a/){_SEGMENT}"),
    # A summary link sent to a patient's therapist (patients.sharing): single-use, but a bearer link.
    re.compile(rf"(/shared/){_SEGMENT}"),
)


def mask(text: str) -> str:
    """``text`` with every secret URL segment replaced by ``[masked]``."""
    for pattern in _SECRETS_IN_PATHS:
        text = pattern.sub(rf"\1{MASK}", text)
    return text


class MaskSecretsFilter(logging.Filter):
    """Rewrites a record's message with the secrets masked (set on every handler in LOGGING)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class MaskingGunicornLogger(GunicornLogger):
    """gunicorn's logger with every access-log atom (request line, path, query, referrer, headers)
    masked, whatever ``--access-logformat`` the deployment chooses."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: mask(value) if isinstance(value, str) else value for key, value in atoms.items()}
