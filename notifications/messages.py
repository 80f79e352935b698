"""Rendering an outbox row into the message each channel sends.

Templates live under templates/notifications/<channel>/<kind>. Their context holds plain strings
only — the clinic's name and phone, a time, links — never a model instance, so no template can
reach a name, a diagnosis, a drug or a note (no PHI leaves in a message). Each kind's context
comes from the domain that sends it (notifications.kinds).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import translation

from clinic import contact
from clinic.models import Notification
from notifications import kinds

logger = logging.getLogger(__name__)
Channel = Notification.Channel


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str = ""


_paths: dict[tuple, str] = {}
# What reverse() leaves as it is in a path (RFC 3986 unreserved characters and ":"): a signed
# action token is made of these only, so its link is the pattern's prefix + token + suffix.
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9._~:-]+")
_TOKEN_SLOT = "TOKEN-SLOT"


def _path(name: str, *args) -> str:
    """reverse(), remembered for the arg-less pages every message links to (a batch renders the
    same few thousands of times). The key holds everything else reverse() reads."""
    key = (settings.ROOT_URLCONF, get_urlconf(), get_script_prefix(), name, args)
    if key not in _paths:
        _paths[key] = reverse(name, args=args)
    return _paths[key]


def url(name: str, *args, absolute: bool) -> str:
    """A link for a message: relative in the portal, absolute (TITRATE_BASE_URL) in email and SMS."""
    try:
        path = _path(name) if not args else reverse(name, args=args)
    except NoReverseMatch:  # a renamed page must not stop a reminder
        logger.error("No URL named %s for a notification link", name)
        path = reverse("home")
    return settings.TITRATE_BASE_URL.rstrip("/") + path if absolute else path


def token_url(name: str, token: str, *, absolute: bool) -> str:
    """``url`` for a pattern taking one ``<str:token>``: a plain token fills the pattern reversed
    once (a batch renders thousands of one-click links), anything else is reversed as usual."""
    if not _PLAIN_TOKEN.fullmatch(token):
        return url(name, token, absolute=absolute)
    try:
        prefix, _, suffix = _path(name, _TOKEN_SLOT).partition(_TOKEN_SLOT)
    except NoReverseMatch:
        return url(name, token, absolute=absolute)
    path = prefix + token + suffix
    return settings.TITRATE_BASE_URL.rstrip("/") + path if absolute else path


def message_context(
    row: Notification, *, absolute: bool = True, clinic: contact.Clinic | None = None
) -> dict[str, str]:
    """Everything a message template may use: plain strings only (see the module docstring).
    ``clinic``: the clinic as read once by a caller rendering many rows (a batch, a list page)."""
    clinic = clinic or contact.clinic()
    context = {
        "clinic_name": clinic.name,
        "clinic_phone": clinic.phone,
        "portal_url": url("home", absolute=absolute),
    }
    hook = kinds.rules(row.kind).context
    if hook is not None:
        context.update(hook(row, row.recipient.zone, absolute))
    context.setdefault("details_url", context["portal_url"])
    return context


def render_message(row: Notification, *, clinic: contact.Clinic | None = None) -> Message:
    """The row's message, in the row's language (its recipient's, clinic.languages)."""
    with translation.override(row.language):
        context = message_context(row, clinic=clinic)
        base = f"notifications/{row.channel}/{row.kind}"
        if row.channel == Channel.EMAIL:
            subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
            return Message(subject, render_to_string(f"{base}.txt", context), render_to_string(f"{base}.html", context))
        return Message("", " ".join(render_to_string(f"{base}.txt", context).split()))


def in_app_text(row: Notification, *, clinic: contact.Clinic | None = None) -> tuple[str, str]:
    """(text, link) of an in-app notification, for the viewer's own list."""
    context = message_context(row, absolute=False, clinic=clinic)
    text = " ".join(render_to_string(f"notifications/in_app/{row.kind}.txt", context).split())
    return text, context["details_url"]
