"""Querysets compiled to SQL once per process and run with each request's values.

Building a queryset (filter, annotate, Exists, Q trees) and compiling it cost the psychiatrist
home more than running its SQL (docs/performance.md): the same shapes, rebuilt on every request,
with only a user id, a day or a caseload's ids changing. A ``Prepared`` builds its queryset once
with *probe* values, finds each probe among the compiled parameters, and afterwards swaps in the
caller's values and runs the SQL through Django's own iterables (model instances, values_list
tuples, select_related and prefetch_related as usual).

It is safe by construction or it refuses:

- every probe must appear verbatim among the parameters (a value the ORM transformed, or one the
  builder derived something from, would not); compiling fails loudly otherwise;
- each call's values must be of their probe's type and never None (None changes the SQL's shape);
- the SQL is compiled per database alias and per current time zone (a date lookup embeds its
  zone's name in the SQL);
- only PostgreSQL is prepared: elsewhere a list becomes one placeholder per item, so the SQL's
  shape follows the list's length; there the queryset is simply built each time.

It returns a list, never a queryset, so nothing can be chained onto SQL that is already fixed.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router
from django.db.models import BooleanField, F, Func, QuerySet
from django.utils import timezone

# Probe values no real row or request carries, one per type a builder takes.
PROBE_ID = -739_201_457
PROBE_DAY = datetime.date(1901, 2, 3)
PROBE_MOMENT = datetime.datetime(1901, 2, 3, 4, 5, 6, 789_012, tzinfo=datetime.UTC)


def probe_ids() -> list[int]:
    """A fresh list each time: a list probe is found by identity."""
    return [PROBE_ID - 1, PROBE_ID - 2]


class Prepared:
    def __init__(self, build: Callable[..., QuerySet], **probes: Any):
        names = list(probes)
        for i, name in enumerate(names):
            for other in names[i + 1 :]:
                if probes[name] is probes[other] or probes[name] == probes[other]:
                    # A parameter equal to both could not be told apart: bound to the wrong value.
                    raise ImproperlyConfigured(f"the probes for {name} and {other} are equal; give each its own")
        self.build = build
        self.probes = probes
        self._compiled: dict[tuple[str, str], tuple] = {}
        self._model = None

    def __call__(self, **values: Any) -> list:
        if values.keys() != self.probes.keys():
            raise TypeError(f"expected the values {sorted(self.probes)}, got {sorted(values)}")
        for name, value in values.items():
            if type(value) is not type(self.probes[name]):
                raise TypeError(f"{name}: a {type(self.probes[name]).__name__}, not {type(value).__name__}")
        if self._model is None:
            self._model = self.build(**self.probes).model
        alias = router.db_for_read(self._model)
        connection = connections[alias]
        if connection.vendor != "postgresql":
            return list(self.build(**values))
        key = (alias, timezone.get_current_timezone_name())
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(alias)
        template, compiler, sql, params, slots = compiled
        bound_params = list(params)
        for position, name in slots:
            bound_params[position] = values[name]
        bound_params = tuple(bound_params)
        bound = copy.copy(compiler)
        bound.connection = connection  # this thread's; the compiled one may belong to another
        bound.as_sql = lambda *args, **kwargs: (sql, bound_params)
        queryset = template._chain()
        queryset.query.get_compiler = lambda *args, **kwargs: bound
        return list(queryset)

    def _compile(self, alias: str) -> tuple:
        template = self.build(**self.probes).using(alias)
        compiler = template.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = []
        for position, param in enumerate(params):
            for name, probe in self.probes.items():
                if param is probe or (type(param) is type(probe) and param == probe):
                    slots.append((position, name))
        missing = set(self.probes) - {name for _, name in slots}
        if missing:
            raise ImproperlyConfigured(
                f"{self.build.__qualname__}: the probe for {sorted(missing)} is not among the compiled "
                "parameters (transformed by a lookup, or derived from by the builder); pass the "
                "value the query uses."
            )
        return template, compiler, sql, tuple(params), slots


class PatientIn(Func):
    """``patient_id = ANY(%s)``, the caseload's ids as ONE array parameter on PostgreSQL. The home
    passes its caseload (a few hundred ids) to three lists: as ``__in`` lists Django prepared, and
    psycopg bound, each id separately, which cost more than the queries. Elsewhere an IN list."""

    output_field = BooleanField()

    def __init__(self, ids: Iterable[int], field: str = "patient_id"):
        super().__init__(F(field))
        self.ids = list(ids)

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"{column} = ANY(%s)", (*params, self.ids)
        if not self.ids:
            return "1 = 0", params
        return f"{column} IN ({', '.join(['%s'] * len(self.ids))})", (*params, *self.ids)
