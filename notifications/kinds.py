"""What each domain tells the outbox about the kinds of message it sends.

The outbox knows *how* to send a row; the domain that plans a kind knows what its message links
to and when it is no longer wanted (a cancelled visit, a closed offer). Each domain registers its
kinds from its AppConfig.ready(), so this module never imports a domain.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from clinic.models import Notification

# (row, recipient's zone, absolute links?) -> the kind's template context (plain strings only).
ContextHook = Callable[[Notification, zoneinfo.ZoneInfo, bool], dict[str, str]]
# (row, now) -> (final status, reason) if the row must not go out now, else None.
StillWantedHook = Callable[[Notification, datetime.datetime], "tuple[str, str] | None"]


@dataclass(frozen=True)
class KindRules:
    context: ContextHook | None = None
    still_wanted: StillWantedHook | None = None
    # Related fields the hooks read ("appointment__start"): the sender loads them with the rows.
    reads: tuple[str, ...] = ()


_NONE = KindRules()
_rules: dict[str, KindRules] = {}


def register(
    *kinds: str,
    context: ContextHook | None = None,
    still_wanted: StillWantedHook | None = None,
    reads: tuple[str, ...] = (),
) -> None:
    for kind in kinds:
        if kind not in Notification.Kind.values:
            raise ValueError(f"{kind!r} is not a Notification.Kind")
        if kind in _rules and _rules[kind] != KindRules(context, still_wanted, tuple(reads)):
            raise ValueError(f"Kind {kind!r} is already registered by another module")
        _rules[kind] = KindRules(context, still_wanted, tuple(reads))


def rules(kind: str) -> KindRules:
    return _rules.get(kind, _NONE)


def reads() -> tuple[str, ...]:
    """Every registered related read, once each, in a stable order."""
    return tuple(sorted({path for rule in _rules.values() for path in rule.reads}))
