"""What each domain tells the outbox about the kinds of message it sends.

The outbox knows *how* to send a row; the domain that plans a kind knows what its message links
to and when it is no longer wanted (a cancelled visit, a closed offer). Each domain registers its
kinds from its AppConfig.ready(), so this module never imports a domain.

A row's subject (what it is about: a visit, an offer) is a generic relation, which cannot be
joined in the row's own query. A kind names how its subjects are loaded (``subjects``: a function
returning a queryset of the subject's model, narrowed to what its hooks read), and ``with_subjects``
loads the subjects of a whole batch of rows with it, one query per subject type.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.contenttypes.prefetch import GenericPrefetch
from django.db.models import QuerySet

from clinic.models import Notification

# (row, recipient's zone, absolute links?) -> the kind's template context (plain strings only).
ContextHook = Callable[[Notification, zoneinfo.ZoneInfo, bool], dict[str, str]]
# (row, now) -> (final status, reason) if the row must not go out now, else None.
StillWantedHook = Callable[[Notification, datetime.datetime], "tuple[str, str] | None"]
# () -> a queryset of the subject's model, with what the hooks read ("select_related", "only").
SubjectsLoader = Callable[[], QuerySet]


@dataclass(frozen=True)
class KindRules:
    context: ContextHook | None = None
    still_wanted: StillWantedHook | None = None
    # How the rows' subjects are loaded for the hooks (see the module docstring).
    subjects: SubjectsLoader | None = None


_NONE = KindRules()
_rules: dict[str, KindRules] = {}
# The subject's model -> its loader: GenericPrefetch takes one queryset per content type.
_loaders: dict[type, SubjectsLoader] = {}


def register(
    *kinds: str,
    context: ContextHook | None = None,
    still_wanted: StillWantedHook | None = None,
    subjects: SubjectsLoader | None = None,
) -> None:
    rules_ = KindRules(context, still_wanted, subjects)
    for kind in kinds:
        if kind not in Notification.Kind.values:
            raise ValueError(f"{kind!r} is not a Notification.Kind")
        if kind in _rules and _rules[kind] != rules_:
            raise ValueError(f"Kind {kind!r} is already registered by another module")
    if subjects is not None:
        model = subjects().model  # builds a queryset, runs no query
        if _loaders.get(model, subjects) is not subjects:
            raise ValueError(f"{model._meta.label} subjects are already loaded by another function")
        _loaders[model] = subjects
    for kind in kinds:
        _rules[kind] = rules_


def rules(kind: str) -> KindRules:
    return _rules.get(kind, _NONE)


def with_subjects(rows: QuerySet) -> QuerySet:
    """Notification rows with each row's ``subject`` loaded as its kind asked: one query per
    subject type among the rows (none for rows about nothing), whatever their number."""
    return rows.prefetch_related(GenericPrefetch("subject", [load() for load in _loaders.values()]))
