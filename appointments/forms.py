from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from clinic import dates
from clinic.date_forms import ClinicalDateTimeField, PatientDatesMixin
from medications.models import SideEffectReport
from patients.models import VisitNote

ID_RANGE = range(-(2**63), 2**63)  # a 64-bit key: what every database can bind


class ReportsField(forms.ModelMultipleChoiceField):
    """An id no database key can hold is an invalid choice. Django passes it to the query, and
    SQLite cannot bind it (OverflowError: a 500, found by the form fuzzer)."""

    def _check_values(self, value):
        for pk in value:
            try:
                in_range = int(pk) in ID_RANGE
            except (TypeError, ValueError):
                continue  # not a number: Django's own check names it
            if not in_range:
                raise ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice", params={"value": pk}
                )
        return super()._check_values(value)


class VisitNoteForm(PatientDatesMixin, forms.ModelForm):
    # The browser's min/max are advice; 0 or 53+ weeks is a typo, refused here (form fuzzing).
    next_follow_up_weeks = forms.IntegerField(
        label="Next follow-up in (weeks)", required=False, min_value=1, max_value=52
    )
    # The link is declared on SideEffectReport (reviewed_in), so the form names it and saves it.
    side_effects_reviewed = ReportsField(
        queryset=SideEffectReport.objects.none(),
        required=False,
        label="Side effects reviewed",
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = VisitNote
        fields = [
            "visit_at", "modality", "patient_location_state", "interval_history", "adherence", "adherence_note",
            "medications_reconciled",
            "side_effects_reviewed", "side_effects_note", "symptom_scores", "mental_status_exam", "suicide_risk",
            "violence_risk", "risk_rationale", "assessment", "plan", "reason_for_patient", "next_follow_up_weeks",
        ]  # fmt: skip
        field_classes = {"visit_at": ClinicalDateTimeField}  # an event: not ahead, not before birth
        widgets = {
            **{name: forms.Textarea(attrs={"rows": 3}) for name in [
                "interval_history", "adherence_note", "side_effects_note", "symptom_scores", "mental_status_exam",
                "risk_rationale", "assessment", "plan",
            ]},
        }  # fmt: skip

    def __init__(self, *args, patient=None, **kwargs):
        super().__init__(*args, patient=patient, **kwargs)
        reports = SideEffectReport.objects.filter(patient=patient)
        recent = reports.order_by("-created_at").values("pk")[:20]
        self.fields["side_effects_reviewed"].queryset = (
            reports.filter(pk__in=recent).select_related("prescription__medication").order_by("-created_at")
        )
        self.fields["side_effects_reviewed"].label_from_instance = lambda r: (
            f"{dates.day(r.created_at)}: {r.get_severity_display().split(' —')[0]}"
            f" — {r.prescription.medication.generic_name if r.prescription else 'medicine not sure'}"
        )
        if self.instance.pk is not None:
            self.initial.setdefault(
                "side_effects_reviewed", list(self.instance.side_effects_reviewed.values_list("pk", flat=True))
            )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("modality") == VisitNote.Modality.TELEHEALTH and not cleaned.get("patient_location_state"):
            self.add_error(
                "patient_location_state", "Ask the patient where they are now: a video visit records their state."
            )
        return cleaned

    def _save_m2m(self):
        super()._save_m2m()
        self.instance.side_effects_reviewed.set(self.cleaned_data["side_effects_reviewed"])
