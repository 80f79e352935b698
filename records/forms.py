from __future__ import annotations

import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from records.models import RecordRequest

# Bounded: the day after the end is computed, and year 9999 has none.
EARLIEST, LATEST = datetime.date(2000, 1, 1), datetime.date(2100, 12, 31)


class RecordRequestForm(forms.Form):
    format = forms.ChoiceField(
        label=_("Format"), choices=RecordRequest.Format.choices, initial=RecordRequest.Format.PDF
    )


class DateRangeForm(forms.Form):
    """The date range of a clinic export. Bound from the query string (dates only, never a name), so
    a form with errors shows again with what was typed."""

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, max_days: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_days = max_days

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        for name, value in (("start", start), ("end", end)):
            if value is not None and not EARLIEST <= value <= LATEST:
                self.add_error(name, f"Choose a date between {EARLIEST:%Y} and {LATEST:%Y}.")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        elif start and end and (end - start).days >= self.max_days:
            self.add_error("end", f"Choose at most {self.max_days} days.")
        return cleaned
