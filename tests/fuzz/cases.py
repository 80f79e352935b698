"""Baselines and snapshots shared by the fuzz tests."""

from __future__ import annotations

import datetime

from django import forms
from django.db import models
from django.utils import timezone


def auto_baseline(fields: dict[str, forms.Field], **overrides) -> dict:
    """A POST filling every required field with a plain valid value; ``overrides`` win."""
    today = timezone.localdate()
    data: dict = {}
    for key, f in fields.items():
        if key.endswith(("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")):
            continue
        if not f.required:
            continue
        if isinstance(f, forms.BooleanField):
            data[key] = "on"
        elif isinstance(f, forms.DateTimeField):
            data[key] = (timezone.localtime() + datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
        elif isinstance(f, forms.DateField):
            data[key] = today.isoformat()
        elif isinstance(f, forms.TimeField):
            data[key] = "09:00"
        elif isinstance(f, forms.DecimalField | forms.IntegerField):
            data[key] = str(f.min_value if f.min_value is not None else 1)
        elif isinstance(f, forms.ModelMultipleChoiceField | forms.MultipleChoiceField):
            data[key] = [str(v) for v, _ in f.choices if str(v)][:1]
        elif isinstance(f, forms.ChoiceField | forms.ModelChoiceField):
            data[key] = next(str(v) for v, _ in f.choices if str(v))
        else:
            data[key] = "Steady, no concerns."
    data.update(overrides)
    return data


def management(prefix: str, total: int = 5, initial: int = 0) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def row(obj: models.Model, prefix: str = "") -> dict[str, str]:
    """The text columns of a stored row by POST key, for the literal round trip."""
    if obj is None:
        return {}
    return {
        f"{prefix}{f.name}": getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if isinstance(getattr(obj, f.attname), str)
    }


def snapshot(*querysets):
    """Counts and full values of the rows a form may write; equal before and after = nothing stored."""
    return tuple((qs.count(), sorted(map(repr, qs.values()))) for qs in querysets)


# A strength has no clinical cap here (a 99999 mg "unit" is stored); a dose that size is refused.
BAD_STRENGTHS = ["0", "-5", "-0.001", "NaN", "sNaN", "Infinity", "-Infinity", "1e309", "0.0001", "1000000", "9" * 40]
BAD_DOSES = [*BAD_STRENGTHS, "99999"]
