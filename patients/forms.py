from __future__ import annotations

from django import forms

from clinic.date_forms import ClinicalDateField, PatientDatesMixin
from medications.models import Allergy, Medication
from patients import icd10
from patients.models import NOTE_MAX_LENGTH, CareContact, Diagnosis, Evaluation, Patient

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# A search box takes a name, an MRN or a few words: bounded, so a pasted document cannot become a
# query with thousands of terms (issue 18).
SEARCH_MAX_LENGTH = 100


class PatientSearchForm(forms.Form):
    """Find a patient (psychiatrists) and the registry's search (front desk)."""

    q = forms.CharField(label="Name or MRN", max_length=SEARCH_MAX_LENGTH, required=False)


class PatientDemographicsForm(forms.ModelForm):
    """What the front desk registers and edits: demographics only, nothing clinical."""

    class Meta:
        model = Patient
        fields = [
            "legal_first_name", "legal_last_name", "preferred_name", "pronouns", "date_of_birth", "sex",
            "email", "phone", "address_line1", "address_line2", "city", "region", "postal_code", "country",
            "preferred_language", "time_zone", "emergency_contact_name", "emergency_contact_relationship",
            "emergency_contact_phone", "primary_psychiatrist",
        ]  # fmt: skip
        widgets = {"date_of_birth": DATE_INPUT}

    def __init__(self, *args, ask_different_person: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if ask_different_person:
            # Asked only when a patient with the same name and date of birth is registered.
            self.fields["different_person"] = forms.BooleanField(
                required=False,
                label="This is a different person: register a new patient",
                help_text="Leave it unticked if the patient above is this person, and open their record instead.",
            )

    def clean_date_of_birth(self):
        from django.utils import timezone

        dob = self.cleaned_data["date_of_birth"]
        if dob > timezone.localdate():
            raise forms.ValidationError("The date of birth cannot be in the future.")
        if dob.year < 1900:
            raise forms.ValidationError("Check the year of birth.")
        return dob

    def clean_time_zone(self):
        import zoneinfo

        value = self.cleaned_data["time_zone"]
        if value not in zoneinfo.available_timezones():
            raise forms.ValidationError("Use a time zone name such as America/New_York.")
        return value

    def clean_country(self):
        return self.cleaned_data["country"].upper()


class EvaluationForm(PatientDatesMixin, forms.ModelForm):
    class Meta:
        model = Evaluation
        fields = [
            "evaluation_date", "presenting_symptoms", "symptom_duration", "functional_impact",
            "psychiatric_history", "hospitalisations", "past_medication_trials", "medical_history",
            "current_medications", "sleep", "stressors", "substance_use", "family_history", "mental_status_exam",
            "suicide_risk", "violence_risk", "risk_rationale", "diagnostic_formulation", "treatment_plan",
            "patient_education",
        ]  # fmt: skip
        field_classes = {"evaluation_date": ClinicalDateField}
        widgets = {
            **{name: forms.Textarea(attrs={"rows": 3}) for name in [
                "presenting_symptoms", "functional_impact", "psychiatric_history", "hospitalisations",
                "past_medication_trials", "medical_history", "current_medications", "sleep", "stressors",
                "substance_use", "family_history", "mental_status_exam", "risk_rationale",
                "diagnostic_formulation", "treatment_plan", "patient_education",
            ]},
        }  # fmt: skip


class AddendumForm(forms.Form):
    text = forms.CharField(label="Addendum", max_length=NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3}))


class DiagnosisForm(PatientDatesMixin, forms.ModelForm):
    search = forms.CharField(
        label="Find a code",
        required=False,
        max_length=SEARCH_MAX_LENGTH,
        help_text="Type a code (F32) or words (major depressive recurrent).",
    )

    class Meta:
        model = Diagnosis
        fields = ["icd10_code", "onset_date"]
        field_classes = {"onset_date": ClinicalDateField}
        labels = {"icd10_code": "ICD-10-CM code"}

    def __init__(self, *args, patient=None, **kwargs):
        super().__init__(*args, patient=patient, **kwargs)
        self.fields["icd10_code"].required = False

    def clean_icd10_code(self):
        code = self.cleaned_data["icd10_code"].strip()
        if not code:
            return code
        normalized = icd10.normalize(code)
        if not icd10.is_billable(normalized):
            raise forms.ValidationError(
                f"“{code}” is not a billable ICD-10-CM code. Use the search to find the full code."
            )
        if self.patient and self.patient.diagnoses.active().filter(icd10_code=normalized).exists():
            raise forms.ValidationError(f"{normalized} is already an active diagnosis for this patient.")
        return normalized

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("icd10_code") and not self.errors and not cleaned.get("search"):
            self.add_error("icd10_code", "Enter a code, or search for one.")
        return cleaned


class AllergyForm(forms.ModelForm):
    class Meta:
        model = Allergy
        fields = ["substance", "medication", "drug_class", "reaction", "severity"]
        labels = {"medication": "Matching formulary drug (if any)"}
        help_texts = {"medication": "Link the drug so prescribing checks catch it."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        classes = sorted(set(Medication.objects.values_list("drug_class", flat=True)))
        self.fields["drug_class"] = forms.ChoiceField(
            label="Whole drug class (if the allergy is to a class)",
            required=False,
            choices=[("", "—")] + [(c, c.replace("_", " ")) for c in classes],
        )


class CareContactForm(forms.ModelForm):
    class Meta:
        model = CareContact
        # Consent to share is the patient's own choice, made in the portal (patients.sharing).
        fields = ["kind", "name", "organisation", "phone", "email"]
