from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from clinic import dates
from clinic.date_forms import ClinicalDateField, PatientDatesMixin
from medications import checklists, outside
from medications.models import (
    REFILL_DAYS_LEFT_MAX,
    REPLY_MAX_LENGTH,
    AdherenceReason,
    ChangeReason,
    Frequency,
    Medication,
    OutsideMedication,
    Prescription,
    PrescriptionEvent,
    RefillRequest,
    Route,
    SideEffectReport,
)
from medications.prescribing import PlanStepInput, SafetyReview, sig_for_language
from patients.models import Diagnosis, Patient

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# A prescription event's note holds the typed note and, on an abrupt stop, the justification
# (medications.prescribing.discontinue): together within the column's limit.
NOTE_LENGTH = 1000
JUSTIFICATION_LENGTH = PrescriptionEvent._meta.get_field("note").max_length - NOTE_LENGTH - 100
DOSE_FIELD = {"max_digits": 9, "decimal_places": 3, "min_value": Decimal("0.001")}

FORM_CHOICES = [
    (f, f)
    for f in [
        "tablet", "capsule", "extended-release tablet", "extended-release capsule", "orally disintegrating tablet",
        "sublingual tablet", "oral solution", "transdermal patch", "injection", "nasal spray", "film",
    ]
]  # fmt: skip
CHANGE_REASONS = [(c.value, c.label) for c in ChangeReason if c not in (ChangeReason.NEW_START,)]
STOP_REASONS = [
    (c.value, c.label)
    for c in ChangeReason
    if c not in (ChangeReason.NEW_START, ChangeReason.TITRATION_STEP, ChangeReason.TAPER_STEP, ChangeReason.STABLE)
]


class FiniteDecimalField(forms.DecimalField):
    """NaN and Infinity are refused while parsing, not only in validate(): a formset compares the
    parsed value with its initial one, and Decimal("sNaN") != 25 raised InvalidOperation (a 500
    found by the form fuzzing, tests/fuzz/)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and not value.is_finite():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return value


class MedicationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Medication) -> str:
        return obj.display_name


class PrescriptionStartForm(PatientDatesMixin, forms.Form):
    medication = MedicationChoiceField(queryset=Medication.objects.order_by("-is_psychotropic", "generic_name"))
    form = forms.ChoiceField(label="Dosage form", choices=FORM_CHOICES)
    route = forms.ChoiceField(choices=Route.choices)
    strength_mg = FiniteDecimalField(label="Strength (mg per unit)", **DOSE_FIELD)
    dose_mg = FiniteDecimalField(label="Dose (mg each time)", **DOSE_FIELD)
    frequency = forms.ChoiceField(choices=Frequency.choices)
    extra_instructions = forms.CharField(required=False, max_length=200, help_text="e.g. “with food”")
    quantity = forms.IntegerField(min_value=1, max_value=1000)
    refills = forms.IntegerField(min_value=0, max_value=11, initial=0)
    indication = forms.ModelChoiceField(queryset=None, required=False, label="Indication (diagnosis)")
    # Plans: a start or an end may be ahead (up to the policy's horizon), or in the past when a
    # prescription from elsewhere is recorded.
    start_date = ClinicalDateField(plan=True)
    end_date = ClinicalDateField(plan=True, required=False)
    note = forms.CharField(
        required=False, max_length=NOTE_LENGTH, widget=forms.Textarea(attrs={"rows": 2}), label="Note (for the chart)"
    )

    def __init__(self, *args, patient=None, **kwargs):
        super().__init__(*args, patient=patient, **kwargs)
        self.fields["indication"].queryset = patient.diagnoses.active() if patient else Diagnosis.objects.none()

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The end date cannot be before the start date.")
        return cleaned


class PlanStepForm(forms.Form):
    dose_mg = FiniteDecimalField(
        label="Dose (mg each time)", required=False, max_digits=9, decimal_places=3, min_value=Decimal(0)
    )
    duration_days = forms.IntegerField(label="For (days)", required=False, min_value=1, max_value=365)


class BasePlanStepFormSet(forms.BaseFormSet):
    def steps(self) -> list[PlanStepInput]:
        return [
            PlanStepInput(dose_mg=form.cleaned_data["dose_mg"], duration_days=form.cleaned_data.get("duration_days"))
            for form in self.forms
            if form.cleaned_data.get("dose_mg") is not None
        ]


PlanStepFormSet = forms.formset_factory(PlanStepForm, formset=BasePlanStepFormSet, extra=5, max_num=12)


class ChangeDoseForm(PatientDatesMixin, forms.Form):
    dose_mg = FiniteDecimalField(label="New dose (mg each time)", max_digits=9, decimal_places=3)
    frequency = forms.ChoiceField(choices=Frequency.choices)
    strength_mg = FiniteDecimalField(label="Strength (mg per unit)", required=False, **DOSE_FIELD)
    reason = forms.ChoiceField(choices=[("", "—")] + CHANGE_REASONS)
    note = forms.CharField(required=False, max_length=NOTE_LENGTH, widget=forms.Textarea(attrs={"rows": 2}))
    effective_date = ClinicalDateField(plan=True)

    def clean_dose_mg(self):
        dose = self.cleaned_data["dose_mg"]
        if dose <= 0:
            raise forms.ValidationError("The new dose must be more than 0 mg. To stop, use Discontinue.")
        return dose


class SafetyReviewForm(forms.Form):
    """The prescriber's answer to the safety alerts shown on a start or dose-change form.

    ``safety_ack`` carries the fingerprint of the alerts that were on screen (set by the page, not
    typed); the domain function compares it with the alerts it finds when saving.
    """

    safety_ack = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    override_reason = forms.CharField(
        label="Override reason (required)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required for contraindicated and major alerts: why this is right for this patient, and the plan "
        "(monitoring, levels, ECG, naloxone…). Stored with the prescription.",
    )

    def review(self) -> SafetyReview:
        return SafetyReview(
            acknowledged=self.cleaned_data.get("safety_ack") or "",
            override_reason=self.cleaned_data.get("override_reason") or "",
        )


class PregnancyStatusForm(forms.Form):
    pregnancy_status = forms.ChoiceField(
        label="Pregnancy status",
        required=False,
        choices=[("", "Not recorded")] + list(Patient.PregnancyStatus.choices),
        help_text="Read by the prescribing checks (pregnancy flags). Keep it current.",
    )


class DiscontinueForm(PatientDatesMixin, forms.Form):
    TAPER, STOP_NOW = "taper", "stop_now"
    how = forms.ChoiceField(
        label="How to stop",
        choices=[(TAPER, "Taper down over the steps below"), (STOP_NOW, "Stop now")],
        widget=forms.RadioSelect,
    )
    reason = forms.ChoiceField(choices=[("", "—")] + STOP_REASONS)
    note = forms.CharField(required=False, max_length=NOTE_LENGTH, widget=forms.Textarea(attrs={"rows": 2}))
    abrupt_stop_justification = forms.CharField(
        label="Why stop without a taper?",
        required=False,
        max_length=JUSTIFICATION_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required for medicines that should not be stopped abruptly.",
    )
    effective_date = ClinicalDateField(plan=True)


class SideEffectReportForm(PatientDatesMixin, forms.Form):
    NOT_SURE = "not_sure"
    prescription = forms.ChoiceField(label=_("Which medicine do you think causes it?"))
    symptoms = forms.MultipleChoiceField(
        label=_("What are you noticing?"), required=False, widget=forms.CheckboxSelectMultiple
    )
    other_symptoms = forms.CharField(
        label=_("Anything else, in your own words"),
        required=False,
        max_length=SideEffectReport._meta.get_field("other_symptoms").max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    severity = forms.ChoiceField(
        label=_("How bad is it?"), choices=SideEffectReport.Severity.choices, widget=forms.RadioSelect
    )
    onset_date = ClinicalDateField(label=_("When did it start?"))
    ongoing = forms.TypedChoiceField(
        label=_("Is it still happening?"),
        choices=[("yes", _("Yes")), ("no", _("No, it has stopped"))],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
        initial="yes",
    )

    def __init__(self, *args, prescriptions: list[Prescription], **kwargs):
        super().__init__(*args, **kwargs)
        self.prescriptions = {str(rx.pk): rx for rx in prescriptions}
        self.fields["prescription"].choices = [
            (str(rx.pk), f"{rx.medication.generic_name} {rx.dose_mg.normalize():f} mg") for rx in prescriptions
        ] + [(self.NOT_SURE, _("I'm not sure"))]
        classes = {rx.medication.drug_class for rx in prescriptions}
        self.checklist = checklists.localised(checklists.items_for(classes), get_language())
        self.fields["symptoms"].choices = [(item["code"], item["label"]) for item in self.checklist]

    def symptom_groups(self) -> list[tuple[str, str, list[dict]]]:
        """Everyday effects first; the serious ones apart, so they are not lost in a long list."""
        chosen = set(self["symptoms"].value() or [])
        rows = [{**item, "checked": item["code"] in chosen} for item in self.checklist]
        return [
            ("common", _("Common side effects"), [r for r in rows if not r.get("urgent")]),
            (
                "serious",
                _("Serious — tell us at once (and get help now if it is happening)"),
                [r for r in rows if r.get("urgent")],
            ),
        ]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("symptoms") and not (cleaned.get("other_symptoms") or "").strip():
            raise forms.ValidationError(_("Tick at least one symptom or describe what is happening."))
        return cleaned

    def chosen_prescription(self) -> Prescription | None:
        return self.prescriptions.get(self.cleaned_data["prescription"])


class ReplyForm(forms.Form):
    reply = forms.CharField(
        label="Add a reply to the patient",
        max_length=REPLY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"The patient reads every reply in their portal, dated. A reply cannot be changed once sent: "
        f"to correct one, add another. At most {REPLY_MAX_LENGTH} characters.",
        error_messages={"max_length": "A reply can be at most %(limit_value)d characters (it has %(show_value)d)."},
    )
    resulting_event = forms.ModelChoiceField(
        queryset=PrescriptionEvent.objects.none(), required=False, label="Linked medication change (optional)"
    )

    def __init__(self, *args, patient=None, **kwargs):
        super().__init__(*args, **kwargs)
        if patient is not None:
            events = PrescriptionEvent.objects.filter(
                prescription__patient=patient,
                kind__in=[PrescriptionEvent.Kind.DOSE_CHANGED, PrescriptionEvent.Kind.DISCONTINUED],
            )
            # The 20 most recent, without slicing the field's queryset (validation filters it).
            recent = events.order_by("-effective_date", "-id").values("pk")[:20]
            self.fields["resulting_event"].queryset = (
                events.filter(pk__in=recent)
                .select_related("prescription__medication")
                .order_by("-effective_date", "-id")
            )
            self.fields["resulting_event"].label_from_instance = lambda e: (
                f"{dates.day(e.effective_date)}: {e.prescription.medication.generic_name} "
                f"{e.get_kind_display().lower()} ({e.get_reason_display()})"
            )


UNCODED = "uncoded"


class OutsideMedicationForm(PatientDatesMixin, forms.ModelForm):
    """An outside medication as typed. A name that is exactly a formulary drug is coded to it; any
    other name needs the clinician's answer in ``coding``: one of the close formulary names offered
    for what is typed now, or "keep as typed" (uncoded: not checked for interactions)."""

    start_date = ClinicalDateField(required=False, label="Started (if known)")
    coding = forms.ChoiceField(
        label="Which drug is this?",
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "The name changed: pick again among the names offered for it now."},
    )

    class Meta:
        model = OutsideMedication
        fields = ["name", "dose_text", "source", "start_date"]
        labels = {"name": "Medicine", "source": "Prescriber or source"}
        help_texts = {
            "name": "As the patient or the bottle names it: generic or brand, e.g. “metformin” or “Advil”.",
            "dose_text": "As written, e.g. “500 mg twice daily”.",
            "source": "e.g. “PCP Dr Rivera”, “over the counter”, “supplement”.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        typed = self.data.get(self.add_prefix("name"), "").strip() if self.is_bound else ""
        self.match = outside.match_name(typed) if typed else None
        self.needs_coding = self.match is not None and self.match.generic_name is None
        if self.needs_coding:
            # Offered for the name typed now: a pick made for an earlier name is not among them.
            self.fields["coding"].choices = [
                *((s.generic_name, s.label) for s in self.match.suggestions),
                (UNCODED, f"None of these: keep “{typed}” as typed (not checked for interactions)"),
            ]
        else:
            del self.fields["coding"]

    def clean(self):
        cleaned = super().clean()
        if self.needs_coding and not cleaned.get("coding") and "coding" not in self.errors:
            self.add_error(
                "coding",
                "This name is not a formulary drug. Pick the drug it is, or keep it as typed "
                "(it is then recorded as not checked for interactions).",
            )
        return cleaned

    def outside_medication(self) -> OutsideMedication:
        """The unsaved row: coded to the exact match, or to the drug picked, or uncoded."""
        row = self.save(commit=False)
        picked = self.cleaned_data.get("coding")
        generic = self.match.generic_name if self.match else None
        generic = generic or (picked if picked and picked != UNCODED else None)
        row.medication = outside.formulary_row(generic)
        return row


# -- Refill requests (medications.refills) ------------------------------------------------------


class RefillRequestForm(forms.Form):
    """The patient's request: which of their current medicines, which pharmacy, days left."""

    prescription = forms.ModelChoiceField(
        queryset=Prescription.objects.none(),
        label=_("Medicine"),
        empty_label=_("Choose a medicine"),
        error_messages={"invalid_choice": _("Choose one of your current medicines.")},
    )
    pharmacy = forms.CharField(
        label=_("Pharmacy"),
        max_length=RefillRequest._meta.get_field("pharmacy").max_length,
        help_text=_("Its name and town, e.g. “Main Street Pharmacy, Springfield”."),
    )
    days_left = forms.IntegerField(
        label=_("How many days of medicine do you have left?"),
        min_value=0,
        max_value=REFILL_DAYS_LEFT_MAX,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(self, *args, prescriptions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["prescription"].queryset = prescriptions
        self.fields["prescription"].label_from_instance = lambda rx: (
            f"{rx.medication.generic_name} — {sig_for_language(rx)}"
        )


class RefillApproveForm(forms.Form):
    quantity = forms.IntegerField(label="Quantity", min_value=1, max_value=1000)
    refills = forms.IntegerField(label="Refills", min_value=0, max_value=11)
    note = forms.CharField(
        label="Note (staff only)", required=False, max_length=NOTE_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )


class RefillDeclineForm(forms.Form):
    reason = forms.CharField(
        label="Reason (the patient reads this)",
        max_length=RefillRequest._meta.get_field("decline_reason").max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="e.g. “Please have your lithium level checked first; the lab order is at the front desk.”",
    )


class PatientOutsideMedicationForm(forms.ModelForm):
    """ "Add something I take": a patient's words, coded only when the name is exactly a formulary
    drug (medications.outside.record_from_patient)."""

    class Meta:
        model = OutsideMedication
        fields = ["name", "dose_text", "source"]
        labels = {
            "name": _("What do you take?"),
            "dose_text": _("How much and how often (if you know)"),
            "source": _("Who prescribed it, or where you get it"),
        }
        help_texts = {
            "name": _("As it says on the bottle, e.g. “St John's wort”, “melatonin”, “ibuprofen”, “CBD oil”."),
            "dose_text": _("e.g. “300 mg twice a day”."),
            "source": _("e.g. “my family doctor”, “over the counter”, “health food store”."),
        }


class AdherenceCheckInForm(forms.Form):
    """One question per active medicine — days missed in the window — with optional reasons."""

    def __init__(self, *args, prescriptions, days: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.prescriptions = list(prescriptions)
        self.days = days
        for rx in self.prescriptions:
            self.fields[f"missed_{rx.pk}"] = forms.TypedChoiceField(
                label=gettext("In the last %(days)d days, how many days did you miss a dose of %(drug)s?")
                % {"days": days, "drug": rx.medication.generic_name},
                choices=[(n, str(n)) for n in range(days + 1)],
                coerce=int,
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
                error_messages={"required": _("Choose a number (0 if you missed none).")},
            )
            self.fields[f"reasons_{rx.pk}"] = forms.MultipleChoiceField(
                label=_("If you missed any, why? (optional)"),
                choices=AdherenceReason.choices,
                required=False,
                widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
            )

    def rows(self):
        """(prescription, missed field, reasons field) for the template."""
        return [(rx, self[f"missed_{rx.pk}"], self[f"reasons_{rx.pk}"]) for rx in self.prescriptions]

    def clean(self):
        cleaned = super().clean()
        for rx in self.prescriptions:
            if cleaned.get(f"missed_{rx.pk}") == 0 and cleaned.get(f"reasons_{rx.pk}"):
                self.add_error(
                    f"reasons_{rx.pk}",
                    _("You said you missed no doses: leave the reasons empty, or change the number."),
                )
        return cleaned

    def answers(self) -> dict[int, tuple[int, list[str]]]:
        return {
            rx.pk: (self.cleaned_data[f"missed_{rx.pk}"], self.cleaned_data.get(f"reasons_{rx.pk}") or [])
            for rx in self.prescriptions
        }
