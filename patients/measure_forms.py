"""Forms for questionnaires. They only read input; patients.questionnaires decides what is
complete and what is stored."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from clinic import dates
from clinic.date_forms import ClinicalDateField
from patients import instruments
from patients.questionnaires import available


class QuestionnaireForm(forms.Form):
    """One radio group per item. Every field is optional here so that a missing answer is
    reported by the scoring code (one message for everything that is missing), with the
    other answers kept as they were chosen."""

    def __init__(self, data=None, *, instrument: instruments.Instrument, visit_notes=None, **kwargs):
        super().__init__(data, **kwargs)
        self.instrument = instrument
        for item in instrument.items:
            self.fields[self.name_for(item)] = forms.ChoiceField(
                label=item.text,
                choices=[(str(option.value), option.label) for option in item.options],
                required=False,
                widget=forms.RadioSelect,
            )
        if visit_notes is not None:
            self.fields["visit_note"] = forms.ModelChoiceField(
                queryset=visit_notes,
                required=False,
                empty_label="Not part of a visit note",
                label="Record it with this visit note (draft)",
            )
            self.fields["visit_note"].label_from_instance = lambda note: f"Visit of {dates.moment(note.visit_at)}"

    @staticmethod
    def name_for(item: instruments.Item) -> str:
        return f"item_{item.key}"

    def answers(self) -> dict:
        return {
            item.key: self.cleaned_data.get(self.name_for(item))
            for item in self.instrument.items
            if self.cleaned_data.get(self.name_for(item)) not in (None, "")
        }

    def groups(self) -> list[dict]:
        """Items grouped under their heading, each with its options and what is chosen, so the
        template draws fieldsets with legends and keeps the answers after an error."""
        groups: list[dict] = []
        for item in self.instrument.items:
            bound = self[self.name_for(item)]
            value = bound.value()
            options = [
                {
                    "value": str(option.value),
                    "label": option.label,
                    "checked": value is not None and str(value) == str(option.value),
                    "shaded": option.shaded,
                    "id": f"id_{bound.name}_{index}",
                }
                for index, option in enumerate(item.options)
            ]
            if not groups or groups[-1]["title"] != item.group:
                groups.append({"title": item.group, "items": []})
            groups[-1]["items"].append(
                {
                    "item": item,
                    "number": item.key if item.key.isdigit() and item.text[:1] not in "…0123456789" else "",
                    "name": bound.name,
                    "options": options,
                    "errors": bound.errors,
                    "id": f"q-{item.key}",
                }
            )
        return groups


class AssignForm(forms.Form):
    instrument = forms.ChoiceField(label="Questionnaire")
    due_on = ClinicalDateField(label="Due", plan=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = [(i.code, i.name) for i in available(rater=instruments.PATIENT)]
        self.fields["due_on"].initial = timezone.localdate()
