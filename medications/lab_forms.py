"""The lab result form: it only normalises input; medications.monitoring.record_result checks the
unit and the plausible range and flags the value, and its errors land on these fields."""

from __future__ import annotations

from django import forms

from clinic.date_forms import ClinicalDateField, PatientDatesMixin
from medications import monitoring

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class LabResultForm(PatientDatesMixin, forms.Form):
    test = forms.ChoiceField(label="Test or measure")
    value = forms.CharField(
        max_length=30,
        help_text="A number as on the report, e.g. 0.8. Blood pressure as systolic/diastolic, e.g. 128/82.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    unit = forms.ChoiceField(help_text="The unit printed on the report. Units the test is not reported in are refused.")
    collected_on = ClinicalDateField(label="Date collected")
    note = forms.CharField(
        required=False, max_length=1000, label="Note (optional)", widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, due_codes: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        choices = monitoring.entry_choices()
        due = [c for c in choices if c[0] in due_codes]
        others = [c for c in choices if c[0] not in due_codes]
        if due:
            self.fields["test"].choices = [("", "Choose…"), ("Due for this patient", due), ("All tests", others)]
        else:
            self.fields["test"].choices = [("", "Choose…"), *others]
        self.fields["unit"].choices = [("", "Choose…")] + [(u, u) for u in monitoring.all_units()]
