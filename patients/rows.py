"""A few short lists of one parent row, read in the parent's own query: each list is one JSON
array column (a correlated subquery), turned back into model instances. The chart reads seven
lists of the patient this way, which keeps it within issue 7's 15-query budget; use it for short
per-patient lists only (the whole list travels in one value)."""

from __future__ import annotations

import datetime
import json

from django.db import connection, router
from django.db.models import Aggregate, CharField, F, JSONField, TextField
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


# Text arrives as the string it is: no conversion (most of a row's fields).
_AS_IS = (CharField, TextField)
# (model, the JSON object's keys, related name) -> the fields read, in the model's field order,
# each with whether it needs converting. Every row of one list has the same keys.
_plans: dict[tuple, list[tuple[str, str, object]]] = {}


def _plan(model, keys: tuple[str, ...], prefix: str = "") -> list[tuple[str, str, object]]:
    plan = _plans.get((model, keys, prefix))
    if plan is None:
        present = set(keys)
        plan = [
            (field.attname, prefix + field.attname, None if isinstance(field, _AS_IS) else field)
            for field in model._meta.concrete_fields
            if prefix + field.attname in present
        ]
        _plans[(model, keys, prefix)] = plan
    return plan


def _converted(plan, row: dict) -> dict:
    return {
        attname: row[key] if field is None else _value(field, row[key])
        for attname, key, field in plan
    }  # fmt: skip


def instances(model, rows, **related: type) -> list:
    """Model instances from json_rows's JSON, as if loaded by the ORM with only() the fields read
    (and ``related`` attached)."""
    objects, db = [], router.db_for_read(model)
    for row in rows or ():
        keys = tuple(row)
        values = _converted(_plan(model, keys), row)
        obj = model.from_db(db, list(values), list(values.values()))
        for name, related_model in related.items():
            fk = row.get(f"{name}_id", 0)
            plan = _plan(related_model, keys, f"{name}__")
            if fk is None or all(row[key] is None for _, key, _ in plan):
                continue  # a null foreign key: the attribute stays None, as the ORM leaves it
            converted = _converted(plan, row)
            pk = related_model._meta.pk.attname
            if fk != 0 and pk not in converted:
                # In the model's field order, as from_db expects: the pk is the first field.
                converted = {pk: fk, **converted}
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
