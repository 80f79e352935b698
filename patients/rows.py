"""A few short lists of one parent row, read in the parent's own query: each list is one JSON
array column (a correlated subquery), turned back into model instances. The chart reads seven
lists of the patient this way, which keeps it within issue 7's 15-query budget; use it for short
per-patient lists only (the whole list travels in one value)."""

from __future__ import annotations

import datetime
import json

from django.db import connection, router
from django.db.models import Aggregate, F, JSONField
from django.db.models.expressions import RawSQL
from django.db.models.functions import JSONObject
from django.utils import timezone


class JSONRows(Aggregate):
    """A subquery's rows as one JSON array: json_group_array on SQLite, jsonb_agg on PostgreSQL."""

    function = "JSON_GROUP_ARRAY"
    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="JSONB_AGG", **extra)


# The patient row of the outer query (its base table keeps the table's name as alias).
_OUTER_PATIENT = RawSQL('"patients_patient"."id"', ())
_compiled: dict[tuple[str, str], tuple[tuple, tuple[str, tuple]]] = {}


def json_rows(key: str, queryset, fields: list[str], *, patient: str = "patient", **related: list[str]) -> RawSQL:
    """The ``fields`` (attnames; the pk is always read) of the rows of ``queryset`` that belong to
    the outer query's patient (through the ``patient`` path, e.g. "prescription__patient"), plus
    the named fields of its ``related`` foreign keys, as one JSON array column. Name only what
    the page reads; a field left out is deferred (reading it is a query). The SQL is compiled once
    per process under ``key``: building these expressions took longer than running the query, so
    ``queryset``'s filters must be the same on every request: a call under ``key`` with other
    filters raises instead of reading the first call's rows."""
    cache_key = (connection.alias, key)
    queryset = queryset.all()  # a manager (Evaluation.objects) or a queryset
    # Compared as trees (lookups compare by field and value), not compiled: ~1 µs, not ~0.5 ms.
    base = (queryset.model, queryset.query.where)
    if cache_key in _compiled and _compiled[cache_key][0] != base:
        raise ValueError(f"json_rows({key!r}) was given a queryset with other filters than its first call")
    if cache_key not in _compiled:
        pk = queryset.model._meta.pk.attname
        values = {name: F(name) for name in [pk, *fields]}
        for name, names in related.items():
            values.update({f"{name}__{field}": F(f"{name}__{field}") for field in names})
        rows = (
            queryset.filter(**{f"{patient}_id": _OUTER_PATIENT})
            .order_by()
            .values(patient)
            .annotate(rows=JSONRows(JSONObject(**values)))
            .values("rows")
        )
        _compiled[cache_key] = (base, rows.query.get_compiler(connection=connection).as_sql())
    sql, params = _compiled[cache_key][1]
    return RawSQL(f"({sql})", params, output_field=JSONField())  # noqa: S611 -- SQL compiled by the ORM, params bound


def _value(field, value):
    if value is None:
        return None
    if isinstance(field, JSONField):
        # SQLite's json_object embeds a JSON column's text as a string; PostgreSQL's jsonb nests it.
        return json.loads(value) if connection.vendor == "sqlite" and isinstance(value, str) else value
    value = field.to_python(value)
    if isinstance(value, datetime.datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)  # SQLite stores UTC without an offset
    return value


def instances(model, rows, **related: type) -> list:
    """Model instances from json_rows's JSON, as if loaded by the ORM with only() the fields read
    (and ``related`` attached)."""
    objects, db = [], router.db_for_read(model)
    for row in rows or ():
        fields = [f for f in model._meta.concrete_fields if f.attname in row]
        obj = model.from_db(db, [f.attname for f in fields], [_value(f, row[f.attname]) for f in fields])
        for name, related_model in related.items():
            prefix = f"{name}__"
            values = {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}
            if row.get(f"{name}_id", 0) is None or not any(value is not None for value in values.values()):
                continue  # a null foreign key: the attribute stays None, as the ORM leaves it
            pk = related_model._meta.pk.attname
            if f"{name}_id" in row:
                values.setdefault(pk, row[f"{name}_id"])
            parts = [f for f in related_model._meta.concrete_fields if f.attname in values]
            converted = {f.attname: _value(f, values[f.attname]) for f in parts}
            # With its pk known the instance loads like the ORM's (a field not read is deferred);
            # without it (a link table's row read without its key) only the fields named are set.
            target = (
                related_model.from_db(db, list(converted), list(converted.values()))
                if pk in converted
                else related_model(**converted)
            )
            setattr(obj, name, target)
        objects.append(obj)
    return objects


def attach(rows, field: str, objects) -> None:
    """Set each row's ``field`` foreign key to the instance among ``objects`` (already loaded,
    with what they select_related) instead of joining and building it again for every row. A row
    whose target is not among them keeps the usual lazy load."""
    by_id = {obj.pk: obj for obj in objects}
    attname = f"{field}_id"
    for row in rows:
        target = by_id.get(getattr(row, attname))
        if target is not None:
            setattr(row, field, target)
