"""The appointment type form of Clinic set-up (and of the Django admin, so both offer the same
choices): reminder times are ticked from appointments.reminders.REMINDER_OFFSETS, never typed."""

from __future__ import annotations

from django import forms
from django.utils.functional import cached_property

from appointments.models import AppointmentType
from appointments.reminders import REMINDER_OFFSETS, offset_label, offsets_sentence

BOOKABLE_CHOICES = [
    ("false", "Clinic staff only"),
    ("true", "Patients too, online (within the notice rules below)"),
]


class AppointmentTypeForm(forms.ModelForm):
    duration_minutes = forms.IntegerField(
        label="Length (minutes)", min_value=5, max_value=480, widget=forms.NumberInput(attrs={"step": 5})
    )
    modality = forms.ChoiceField(choices=AppointmentType.Modality.choices, widget=forms.RadioSelect)
    patient_bookable = forms.TypedChoiceField(
        label="Who may book it",
        choices=BOOKABLE_CHOICES,
        coerce=lambda value: value == "true",
        widget=forms.RadioSelect,
    )
    min_notice_hours = forms.IntegerField(
        label="Minimum notice for online booking (hours)",
        min_value=0,
        max_value=720,
        help_text="A patient cannot book online later than this before the start.",
    )
    max_days_ahead = forms.IntegerField(label="Online booking open up to (days ahead)", min_value=1, max_value=365)
    cancel_window_hours = forms.IntegerField(
        label="Online cancelling and moving closes (hours before)",
        min_value=0,
        max_value=720,
        help_text="After that the patient is asked to phone instead; reminders leave out the cancel link.",
    )
    reminder_offsets_hours = forms.TypedMultipleChoiceField(
        label="Remind the patient",
        choices=[(hours, f"{label} before") for hours, label in REMINDER_OFFSETS],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="By email and text as the patient allows, and in the portal. A visit booked after "
        "every time ticked here gets one reminder at once if it is at least an hour away.",
    )

    class Meta:
        model = AppointmentType
        fields = [
            "name",
            "duration_minutes",
            "modality",
            "patient_bookable",
            "min_notice_hours",
            "max_days_ahead",
            "cancel_window_hours",
            "reminder_offsets_hours",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "name" not in self.fields:  # the Django admin's read-only form
            return
        self.fields["name"].help_text = "What patients and staff see, e.g. Follow-up (30 min)."
        # A new type starts from the model's defaults (the fields declared above do not carry them).
        for name in ("duration_minutes", "modality", "min_notice_hours", "max_days_ahead", "cancel_window_hours"):
            self.initial.setdefault(name, getattr(self.instance, name))
        offered = {hours for hours, _ in REMINDER_OFFSETS}
        saved = self.instance.reminder_offsets_hours or []  # a new type: the model's default
        # A time set before the list existed (typed in the admin then) is named, not dropped
        # silently: saving keeps only what is ticked.
        self.unlisted = sorted({float(h) for h in saved if _number(h) and float(h) not in offered}, reverse=True)
        if self.unlisted:
            names = ", ".join(offset_label(hours) for hours in self.unlisted)
            self.fields[
                "reminder_offsets_hours"
            ].help_text += (
                f" Also set before this list existed: {names} before. Saving keeps only the times ticked here."
            )
        self.initial["reminder_offsets_hours"] = [int(float(h)) for h in saved if _number(h) and float(h) in offered]
        self.initial["patient_bookable"] = "true" if self.instance.patient_bookable else "false"

    @cached_property
    def changed_data(self) -> list[str]:
        changed = super().changed_data
        # Saving drops a time set before the list, even with the ticks unchanged.
        if getattr(self, "unlisted", None) and "reminder_offsets_hours" not in changed:
            changed = [*changed, "reminder_offsets_hours"]
        return changed

    def clean_reminder_offsets_hours(self) -> list[int]:
        return sorted(set(self.cleaned_data["reminder_offsets_hours"]), reverse=True)

    def clean(self):
        cleaned = super().clean()
        notice, ahead = cleaned.get("min_notice_hours"), cleaned.get("max_days_ahead")
        if cleaned.get("patient_bookable") and notice is not None and ahead is not None and notice >= ahead * 24:
            self.add_error(
                "max_days_ahead",
                f"With {notice} hours' notice and booking open only {ahead} days ahead, patients could book "
                "no time at all. Open booking further ahead or ask for less notice.",
            )
        return cleaned

    @property
    def reminder_sentence(self) -> str:
        """The preview under the reminder times: what is ticked now (as typed, on a form with errors)."""
        chosen = self["reminder_offsets_hours"].value() or []
        return offsets_sentence([value for value in chosen if _number(value)])


def _number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
