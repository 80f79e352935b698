from __future__ import annotations

from django import forms
from django.utils import timezone

from appointments.models import Appointment, AppointmentType, TimeOff, WeeklyAvailability
from clinic.date_forms import ClinicalDateTimeField, PlannedDateTimeField
from clinic.models import User
from patients.models import Patient

TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class AvailabilityForm(forms.ModelForm):
    class Meta:
        model = WeeklyAvailability
        fields = ["weekday", "start_time", "end_time"]
        widgets = {"start_time": TIME_INPUT, "end_time": TIME_INPUT}

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_time"), cleaned.get("end_time")
        if start and end and start >= end:
            self.add_error("end_time", "The end must be after the start.")
        return cleaned


class TimeOffForm(forms.ModelForm):
    class Meta:
        model = TimeOff
        fields = ["start", "end", "reason"]
        # Bounded by the date policy (clinic.dates): near year 9999 adding a length overflows.
        field_classes = {"start": PlannedDateTimeField, "end": PlannedDateTimeField}

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start >= end:
            self.add_error("end", "The end must be after the start.")
        return cleaned


class PsychiatristChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.display_name


class PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.legal_last_name}, {obj.legal_first_name} ({obj.mrn})"


class BookingForm(forms.Form):
    patient = PatientChoiceField(queryset=Patient.objects.none())
    psychiatrist = PsychiatristChoiceField(queryset=User.objects.none())
    appointment_type = forms.ModelChoiceField(queryset=AppointmentType.objects.filter(is_active=True))
    start = ClinicalDateTimeField(plan=True, help_text="In your time zone.")
    telehealth_url = forms.URLField(
        required=False,
        max_length=Appointment._meta.get_field("telehealth_url").max_length,
        label="Video link (telehealth)",
        assume_scheme="https",
        help_text="Leave empty: a video visit gets its link from the clinic's Telehealth settings.",
    )
    repeat_every_weeks = forms.IntegerField(
        required=False, min_value=1, max_value=26, label="Repeat every (weeks)", help_text="Leave empty for one visit."
    )
    repeat_count = forms.IntegerField(required=False, min_value=2, max_value=26, label="Number of visits")

    def __init__(self, *args, patients, psychiatrists, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = patients
        self.fields["psychiatrist"].queryset = psychiatrists

    def clean(self):
        cleaned = super().clean()
        every, count = cleaned.get("repeat_every_weeks"), cleaned.get("repeat_count")
        if bool(every) != bool(count):
            raise forms.ValidationError("For a recurring follow-up give both how often and how many visits.")
        start = cleaned.get("start")
        if start and start <= timezone.now():
            self.add_error("start", "That time is in the past. Choose a future time.")
        return cleaned


class MoveForm(forms.Form):
    start = ClinicalDateTimeField(plan=True, label="New start", help_text="In your time zone.")


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=200, label="Reason for cancelling")
