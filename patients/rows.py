"""A few short lists of one parent row, read in the parent's own query: each list is one JSON
array column (a correlated subquery), turned back into model instances. The chart reads seven
lists of the patient this way, which keeps it within issue 7's 15-query budget; use it for short
per-patient lists only (the whole list travels in one value)."""

from __future__ import annotations

import datetime
import json

from django.db import connection, router
from django.db.models import Aggregate, F, JSONField, Subquery
from django.db.models.functions import JSONObject
from django.utils import timezone


class JSONRows(Aggregate):
    """A subquery's rows as one JSON array: json_group_array on SQLite, jsonb_agg on PostgreSQL."""

    function = "JSON_GROUP_ARRAY"
    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="JSONB_AGG", **extra)


def json_rows(queryset, **related: list[str]) -> Subquery:
    """Every concrete field of each row of ``queryset`` (filtered on OuterRef("pk") of the patient),
    plus the named fields of its ``related`` foreign keys, as one JSON array column."""
    fields = {f.attname: F(f.attname) for f in queryset.model._meta.concrete_fields}
    for name, names in related.items():
        fields.update({f"{name}__{field}": F(f"{name}__{field}") for field in names})
    rows = queryset.order_by().values("patient").annotate(rows=JSONRows(JSONObject(**fields))).values("rows")
    return Subquery(rows, output_field=JSONField())


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
    """Model instances from json_rows's JSON, as if loaded by the ORM (with ``related`` attached)."""
    fields = model._meta.concrete_fields
    names = [f.attname for f in fields]
    objects, db = [], router.db_for_read(model)
    for row in rows or ():
        obj = model.from_db(db, names, [_value(f, row[f.attname]) for f in fields])
        for name, related_model in related.items():
            prefix = f"{name}__"
            values = {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}
            setattr(obj, name, related_model(**values))
        objects.append(obj)
    return objects
