"""Strict parsing of settings from the environment.

An unrecognised value is an error, never a guess: ``DJANGO_DEBUG=yes-please``
must stop the process with a message naming the variable, not silently run a
production server in debug mode (or the other way round).
"""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from urllib.parse import urlsplit

import phonenumbers
from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off"})

DATABASE_SCHEMES = frozenset({"postgres", "postgresql", "pgsql", "sqlite"})
REDIS_SCHEMES = frozenset({"redis", "rediss"})
EMAIL_SCHEMES = frozenset(
    {"smtp", "smtps", "smtp+tls", "smtp+ssl", "consolemail", "filemail", "memorymail", "dummymail"}
)
LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


class Env:
    """Reads typed values from a mapping (``os.environ`` by default)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def _raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._raw(name)
        if value is None:
            if required:
                raise ImproperlyConfigured(f"{name} must be set.")
            return default
        return value

    def bool(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in TRUE_VALUES:
            return True
        if lowered in FALSE_VALUES:
            return False
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a boolean; use one of {', '.join(sorted(TRUE_VALUES | FALSE_VALUES))}."
        )

    def int(self, name: str, default: int, *, minimum: int = 0) -> int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
        if number < minimum:
            raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}.")
        return number

    def list(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self._raw(name)
        if value is None:
            return list(default or [])
        items = [item.strip() for item in value.split(",")]
        if any(not item for item in items):
            raise ImproperlyConfigured(f"{name}={value!r} has an empty item in its comma-separated list.")
        return items

    def choice(self, name: str, choices: frozenset[str], default: str) -> str:
        value = self._raw(name)
        if value is None:
            return default
        if value not in choices:
            raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(sorted(choices))}.")
        return value

    def url(self, name: str, schemes: frozenset[str], default: str | None = None) -> str | None:
        value = self._raw(name)
        if value is None:
            return default
        scheme = urlsplit(value).scheme
        if scheme not in schemes:
            # Never echo the value: URLs carry passwords.
            raise ImproperlyConfigured(f"{name} has scheme {scheme!r}; expected one of {', '.join(sorted(schemes))}.")
        return value

    def phone(self, name: str, region: str, default: str | None = None, *, required: bool = False) -> str | None:
        """A telephone number people are told to call: it must dial, so a typo stops the process
        rather than showing patients a number that reaches nobody. Returned as given (its display
        form); ``tel_link`` makes the dialable form."""
        value = self._raw(name)
        if value is None:
            if required:
                raise ImproperlyConfigured(f"{name} must be set.")
            return default
        if not is_phone_number(value, region):
            raise ImproperlyConfigured(f"{name}={value!r} is not a telephone number.")
        return value

    def time_zone(self, name: str, default: str) -> str:
        value = self._raw(name) or default
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ImproperlyConfigured(f"{name}={value!r} is not an IANA time zone name.") from None
        return value


def is_phone_number(value: str, region: str) -> bool:
    """Whether ``value`` dials (a possible number for ``region`` or in international form): the one
    check for the clinic's number, from the environment or the clinic set-up page."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number)


def tel_link(number: str, region: str) -> str:
    """``tel:`` + the number in E.164 (+16175550100), which every phone dials."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return "tel:" + "".join(ch for ch in number if ch.isdigit() or ch == "+")
    return "tel:" + phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
