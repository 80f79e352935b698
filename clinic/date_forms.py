"""Form fields for clinical dates: each applies the one policy (clinic.dates.check_clinical_day).

A form names each of its clinical dates an event (``ClinicalDateField()``) or a plan
(``ClinicalDateField(plan=True)``); a form that knows the patient takes ``PatientDatesMixin``, so no
date precedes their birth. tests/clinic/test_date_policy.py finds every date field of every form
and fails on one that does not go through here.
"""

from __future__ import annotations

from django import forms

from clinic import dates


class _Policy:
    def __init__(self, *args, plan: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.born = None  # set per form instance by PatientDatesMixin

    def validate(self, value):
        super().validate(value)
        if value is not None:
            dates.check_clinical_day(value, plan=self.plan, born=self.born)


class ClinicalDateField(_Policy, forms.DateField):
    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ClinicalDateTimeField(_Policy, forms.DateTimeField):
    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class PlannedDateTimeField(ClinicalDateTimeField):
    """A planned moment (a booking, time off): ``plan=True`` where a ModelForm cannot pass it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, plan=True, **kwargs)


class PatientDatesMixin:
    """``Form(..., patient=patient)``: the form's clinical dates cannot precede their birth."""

    def __init__(self, *args, patient=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient
        born = getattr(patient, "date_of_birth", None)
        for field in self.fields.values():
            if isinstance(field, _Policy):
                field.born = born
