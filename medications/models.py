from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# -- Formulary ------------------------------------------------------------------------------


class MedicationQuerySet(models.QuerySet["Medication"]):
    def psychotropic(self):
        return self.filter(is_psychotropic=True)


class Medication(models.Model):
    """A formulary entry, loaded from medications/data/formulary.json (each row cites its source)."""

    generic_name = models.CharField(max_length=100, unique=True)
    brand_names = models.JSONField(default=list, blank=True)
    drug_class = models.CharField(max_length=40)
    # Class sets the interaction rules are written on (SEROTONERGIC, QT_KNOWN_RISK, ...).
    tags = models.JSONField(default=list, blank=True)
    is_psychotropic = models.BooleanField(default=True)
    rxnorm_cui = models.CharField("RxNorm ingredient CUI", max_length=20, blank=True)
    rxnorm_verified = models.BooleanField(default=False)
    forms = models.JSONField(default=list, blank=True)
    usual_start_mg_per_day = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    usual_start_text = models.CharField(max_length=300, blank=True)
    max_mg_per_day = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    max_text = models.CharField(max_length=300, blank=True)
    # The most accepted in one dose or one day: above it a dose is refused as an input error, not
    # offered as an override (prescribing.check_hard_limit). Rule and source: hard_max_basis.
    hard_max_mg = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    hard_max_basis = models.CharField(max_length=300, blank=True)
    dea_schedule = models.CharField(max_length=4, blank=True)
    boxed_warning = models.TextField(blank=True, max_length=2000)
    monitoring_profiles = models.JSONField(default=list, blank=True)
    taper_required = models.BooleanField(default=False)
    taper_note = models.TextField(blank=True, max_length=2000)
    safety_flags = models.TextField(blank=True, max_length=2000)
    education_purpose = models.TextField(blank=True, max_length=2000)
    education_onset = models.TextField(blank=True, max_length=2000)
    education_common_side_effects = models.TextField(blank=True, max_length=2000)
    education_report_at_once = models.TextField(blank=True, max_length=2000)
    education_stopping = models.TextField(blank=True, max_length=2000)
    source = models.TextField(
        help_text="Where each value comes from, with the reference's certainty marks.", max_length=2000
    )

    objects = MedicationQuerySet.as_manager()

    class Meta:
        ordering = ["generic_name"]

    def __str__(self) -> str:
        return self.generic_name

    @property
    def display_name(self) -> str:
        brands = ", ".join(self.brand_names[:2])
        return f"{self.generic_name} ({brands})" if brands else self.generic_name

    @property
    def is_controlled(self) -> bool:
        return bool(self.dea_schedule)


# -- Prescriptions --------------------------------------------------------------------------


class Frequency(models.TextChoices):
    DAILY = "qd", "once daily"
    MORNING = "qam", "once daily in the morning"
    BEDTIME = "qhs", "once daily at bedtime"
    TWICE = "bid", "twice daily"
    THREE = "tid", "three times daily"
    FOUR = "qid", "four times daily"
    ALTERNATE = "qod", "every other day"
    WEEKLY = "qwk", "once a week"
    TWO_WEEKLY = "q2wk", "every 2 weeks"
    FOUR_WEEKLY = "q4wk", "every 4 weeks"


DOSES_PER_DAY = {
    Frequency.DAILY: Decimal(1),
    Frequency.MORNING: Decimal(1),
    Frequency.BEDTIME: Decimal(1),
    Frequency.TWICE: Decimal(2),
    Frequency.THREE: Decimal(3),
    Frequency.FOUR: Decimal(4),
    Frequency.ALTERNATE: Decimal("0.5"),
    Frequency.WEEKLY: Decimal(1) / 7,
    Frequency.TWO_WEEKLY: Decimal(1) / 14,
    Frequency.FOUR_WEEKLY: Decimal(1) / 28,
}


class Route(models.TextChoices):
    ORAL = "oral", "by mouth"
    SUBLINGUAL = "sublingual", "under the tongue"
    TRANSDERMAL = "transdermal", "on the skin (patch)"
    INTRAMUSCULAR = "intramuscular", "by injection into a muscle"
    SUBCUTANEOUS = "subcutaneous", "by injection under the skin"
    INTRANASAL = "intranasal", "in the nose"


def _mg(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def dose_text(dose_mg: Decimal | None) -> str:
    """A dose or a plan step as people read it: '12.5 mg'; a step to 0 mg is a stop, not a dose."""
    if dose_mg is None:
        return ""
    return "stop" if dose_mg == 0 else f"{_mg(dose_mg)} mg"


def dose_change_text(from_mg: Decimal | None, to_mg: Decimal | None) -> str:
    """'25 → 50 mg'; '12.5 mg → stop'; a start: '25 mg'. Every page words a change with this."""
    if from_mg is None:
        return dose_text(to_mg)
    if not to_mg:
        return f"{_mg(from_mg)} mg → stop"
    return f"{_mg(from_mg)} → {_mg(to_mg)} mg"


def planned_change_text(drug: str, dose_mg: Decimal, frequency_label: str) -> str:
    """What a plan step will do, for the patient: 'stop trazodone' or 'change sertraline to 100 mg once daily'."""
    if dose_mg == 0:
        return f"stop {drug}"
    return f"change {drug} to {_mg(dose_mg)} mg {frequency_label}".rstrip()


class ChangeReason(models.TextChoices):
    NEW_START = "new_start", "New treatment"
    TITRATION_STEP = "titration_step", "Titration step"
    TAPER_STEP = "taper_step", "Taper step"
    INEFFECTIVE = "ineffective", "Not effective enough"
    SIDE_EFFECT = "side_effect", "Side effect"
    PATIENT_PREFERENCE = "patient_preference", "Patient preference"
    STABLE = "stable", "Stable / maintenance"
    INTERACTION = "interaction", "Interaction"
    COST = "cost", "Cost or coverage"
    SWITCHED = "switched", "Switched to another medicine"
    NO_LONGER_NEEDED = "no_longer_needed", "No longer needed"
    PREGNANCY = "pregnancy", "Pregnancy or planning pregnancy"
    OTHER = "other", "Other"


class Allergy(models.Model):
    """A drug (or other) allergy in the patient's record. It lives with the formulary it names and
    the prescribing checks that read it (medications.safety); moved from the patients app
    (medications/migrations/0012): the table keeps its name."""

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"
        ANAPHYLAXIS = "anaphylaxis", "Anaphylaxis"

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="allergies")
    # A formulary drug when known (safety checks match it and its class); free text otherwise.
    medication = models.ForeignKey(Medication, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    drug_class = models.CharField(
        max_length=40, blank=True, help_text="Allergy to a whole class, e.g. 'ssri' or 'nsaid'."
    )
    substance = models.CharField(max_length=150, help_text="As the patient describes it.")
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=20, choices=Severity.choices, default=Severity.MODERATE)
    is_active = models.BooleanField(default=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "patients_allergy"
        ordering = ["substance"]
        verbose_name_plural = "allergies"

    def __str__(self) -> str:
        return self.substance


class OutsideMedicationQuerySet(models.QuerySet["OutsideMedication"]):
    def active(self):
        return self.filter(stopped_on__isnull=True)


class OutsideMedication(models.Model):
    """A medicine the patient takes that this clinic did not prescribe: from another prescriber, over
    the counter or a supplement, recorded by a clinician (medications.outside). Coded when its name
    is exactly a formulary drug (generic, brand, salt or alias), so the prescribing checks see it;
    uncoded otherwise, and then every check result says it was not checked. Stopped, never deleted."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="outside_medications")
    name = models.CharField(max_length=150, help_text="As the patient or the source names it.")
    # The formulary drug this name is, when it is exactly one (or the clinician picked one).
    medication = models.ForeignKey(Medication, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    dose_text = models.CharField("dose and how often", max_length=100, blank=True)
    source = models.CharField("prescriber or source", max_length=150, blank=True)
    start_date = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    stopped_on = models.DateField(null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Added by the patient ("something I take"): shown as patient-reported until a clinician confirms
    # it. Coded or not, it is in the checks from the start (an unconfirmed drug is still taken).
    patient_reported = models.BooleanField(default=False)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)

    objects = OutsideMedicationQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stopped_on__isnull=True) | models.Q(stopped_by__isnull=False),
                name="outside_medication_stop_has_actor",
            ),
            models.CheckConstraint(
                condition=models.Q(confirmed_at__isnull=True, confirmed_by__isnull=True)
                | models.Q(patient_reported=True, confirmed_at__isnull=False, confirmed_by__isnull=False),
                name="outside_medication_confirmed_patient_report",
            ),
        ]
        indexes = [
            # The chart's and the checks' active outside medications of one patient.
            models.Index(fields=["patient", "stopped_on"], name="outside_med_patient_stopped"),
        ]

    def __str__(self) -> str:
        return self.name

    def delete(self, *args, **kwargs):
        raise ValueError("Outside medications are stopped (medications.outside.stop), never deleted.")

    @property
    def is_active(self) -> bool:
        return self.stopped_on is None

    @property
    def is_coded(self) -> bool:
        return self.medication_id is not None

    @property
    def awaiting_confirmation(self) -> bool:
        return self.patient_reported and self.confirmed_at is None

    @property
    def display_name(self) -> str:
        """The name as typed, with the formulary drug it was coded to when that reads differently."""
        if self.medication is None or self.medication.generic_name.lower() == self.name.strip().lower():
            return self.name
        return f"{self.name} ({self.medication.generic_name})"


class PrescriptionQuerySet(models.QuerySet["Prescription"]):
    def active(self):
        return self.filter(status=Prescription.Status.ACTIVE)


class Prescription(models.Model):
    """One course of one drug for one patient. Never deleted; changes are PrescriptionEvents."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISCONTINUED = "discontinued", "Discontinued"

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="prescriptions")
    medication = models.ForeignKey(Medication, on_delete=models.PROTECT, related_name="prescriptions")
    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    form = models.CharField(max_length=60)
    route = models.CharField(max_length=20, choices=Route.choices, default=Route.ORAL)
    strength_mg = models.DecimalField(max_digits=9, decimal_places=3)
    dose_mg = models.DecimalField("dose (mg each time)", max_digits=9, decimal_places=3)
    frequency = models.CharField(max_length=5, choices=Frequency.choices, default=Frequency.DAILY)
    extra_instructions = models.CharField(max_length=200, blank=True, help_text="e.g. “with food”")
    sig = models.CharField("instructions", max_length=300)
    quantity = models.PositiveIntegerField()
    refills = models.PositiveSmallIntegerField(default=0)
    indication = models.ForeignKey(
        "patients.Diagnosis", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    start_date = models.DateField(default=timezone.localdate)
    end_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.ACTIVE)
    discontinue_reason = models.CharField(max_length=20, choices=ChangeReason.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = PrescriptionQuerySet.as_manager()

    class Meta:
        ordering = ["status", "medication__generic_name", "-start_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "medication"],
                condition=models.Q(status="active"),
                name="one_active_prescription_per_drug",
                violation_error_message="This patient already has an active prescription for this medicine.",
            ),
            models.CheckConstraint(condition=models.Q(dose_mg__gt=0), name="prescription_dose_positive"),
            models.CheckConstraint(condition=models.Q(strength_mg__gt=0), name="prescription_strength_positive"),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1, quantity__lte=1000), name="prescription_quantity_sane"
            ),
            models.CheckConstraint(condition=models.Q(refills__lte=11), name="prescription_refills_max_11"),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="prescription_ends_after_start",
            ),
        ]
        indexes = [
            # The chart's and the patient home's active medication lists.
            models.Index(fields=["patient", "status"], name="rx_patient_status"),
        ]

    def __str__(self) -> str:
        return f"{self.medication} {self.dose_mg.normalize():f} mg {self.get_frequency_display()}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def daily_dose_mg(self) -> Decimal:
        return (self.dose_mg * DOSES_PER_DAY[Frequency(self.frequency)]).quantize(Decimal("0.001"))


class PrescriptionEvent(models.Model):
    """Every start, dose change and stop: from, to, when, who, and a coded why."""

    class Kind(models.TextChoices):
        STARTED = "started", "Started"
        DOSE_CHANGED = "dose_changed", "Dose changed"
        DISCONTINUED = "discontinued", "Discontinued"
        PLAN_CREATED = "plan_created", "Plan created"
        # A refill the psychiatrist approved (medications.refills): the dose is unchanged; the
        # supply authorised is in quantity and refills.
        REFILL_APPROVED = "refill_approved", "Refill approved"

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=15, choices=Kind.choices)
    from_dose_mg = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    to_dose_mg = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    from_frequency = models.CharField(max_length=5, choices=Frequency.choices, blank=True)
    to_frequency = models.CharField(max_length=5, choices=Frequency.choices, blank=True)
    effective_date = models.DateField()
    reason = models.CharField(max_length=20, choices=ChangeReason.choices)
    note = models.TextField(blank=True, max_length=2000)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    visit_note = models.ForeignKey(
        "patients.VisitNote", null=True, blank=True, on_delete=models.PROTECT, related_name="medication_events"
    )
    # What the prescribing checks (medications.safety) said about the regimen this event made,
    # and why the prescriber went ahead despite a contraindicated or major alert.
    safety_alerts = models.JSONField(default=list, blank=True)
    # The regimen's drugs the checks could not see (uncoded outside medications), as the
    # prescriber was told: [{"name", "why"}].
    not_checked = models.JSONField(default=list, blank=True)
    override_reason = models.TextField(blank=True, max_length=1000)
    # A refill's authorised supply (REFILL_APPROVED only).
    quantity = models.PositiveIntegerField(null=True, blank=True)
    refills = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["effective_date", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="refill_approved", quantity__gte=1, quantity__lte=1000, refills__lte=11)
                | (~models.Q(kind="refill_approved") & models.Q(quantity__isnull=True, refills__isnull=True)),
                name="rx_event_refill_supply",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.effective_date:%Y-%m-%d}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Prescription history is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Prescription history is append-only.")


class RefillRequestQuerySet(models.QuerySet["RefillRequest"]):
    def pending(self):
        return self.filter(status=RefillRequest.Status.PENDING)


# The longest "days of medicine left" a request may say: a request months ahead is not a refill.
REFILL_DAYS_LEFT_MAX = 90


class RefillRequest(models.Model):
    """A patient's request for more of an active prescription (medications.refills). The
    psychiatrist approves it — a PrescriptionEvent (REFILL_APPROVED) with the quantity and
    refills — or declines it with a reason the patient reads. Never deleted or edited after the
    decision: the prescription's refill log."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for your psychiatrist")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="refill_requests")
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="refill_requests")
    pharmacy = models.CharField("pharmacy", max_length=150)
    days_left = models.PositiveSmallIntegerField("days of medicine left")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # Shown to the patient as written.
    decline_reason = models.TextField(blank=True, max_length=1000)
    event = models.OneToOneField(
        PrescriptionEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="refill_request"
    )

    objects = RefillRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # Also medications.refills' friendly check: one open request per prescription.
            models.UniqueConstraint(
                fields=["prescription"], condition=models.Q(status="pending"), name="one_pending_refill_per_rx"
            ),
            models.CheckConstraint(
                condition=models.Q(days_left__lte=REFILL_DAYS_LEFT_MAX), name="refill_days_left_max"
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending", decided_at__isnull=True, event__isnull=True)
                | models.Q(status="approved", decided_at__isnull=False, event__isnull=False)
                | (
                    models.Q(status="declined", decided_at__isnull=False, event__isnull=True)
                    & ~models.Q(decline_reason="")
                ),
                name="refill_decision_complete",
            ),
        ]
        indexes = [
            # The psychiatrist's refill queue: the pending requests of a caseload (a few rows).
            models.Index(fields=["patient"], condition=models.Q(status="pending"), name="refill_pending_patient"),
        ]

    def __str__(self) -> str:
        return f"Refill request {self.pk} ({self.status})"

    def delete(self, *args, **kwargs):
        raise PermissionError("Refill requests are kept: they are the prescription's refill log.")


class AdherenceReason(models.TextChoices):
    FORGOT = "forgot", _("I forgot")
    SIDE_EFFECTS = "side_effects", _("Side effects")
    # The cost concern of ChangeReason.COST ("Cost or coverage"): the chart links it there.
    COST = "cost", _("Cost")
    FELT_BETTER = "felt_better", _("I felt better")
    RAN_OUT = "ran_out", _("I ran out")


class AdherenceCheckIn(models.Model):
    """One patient-reported adherence check-in (medications.adherence): "in the last N days, how
    many days did you miss a dose of …?" per active medicine. Append-only."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="adherence_check_ins")
    # The look-back window asked about (TITRATE_ADHERENCE_DAYS when it was sent, 7 by default).
    days = models.PositiveSmallIntegerField(default=7)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(days__gte=1, days__lte=31), name="adherence_days_sane"),
        ]
        indexes = [
            # The chart's trend and the "already checked in" look-up: a patient's newest check-ins.
            models.Index(fields=["patient", "submitted_at"], name="adherence_patient_time"),
        ]

    def __str__(self) -> str:
        return f"Adherence check-in {self.pk}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Adherence check-ins are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Adherence check-ins are append-only.")


class AdherenceAnswer(models.Model):
    check_in = models.ForeignKey(AdherenceCheckIn, on_delete=models.PROTECT, related_name="answers", db_index=False)
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="+")
    missed_days = models.PositiveSmallIntegerField()
    # AdherenceReason values; empty when no dose was missed or no reason given.
    reasons = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["check_in", "id"]
        constraints = [
            # Also the check-in's answers, in order (leading column).
            models.UniqueConstraint(fields=["check_in", "prescription"], name="one_adherence_answer_per_rx"),
            models.CheckConstraint(condition=models.Q(missed_days__lte=31), name="adherence_missed_days_sane"),
        ]

    def __str__(self) -> str:
        return f"Missed {self.missed_days} day(s)"

    @property
    def reason_labels(self) -> list[str]:
        return [str(AdherenceReason(r).label) for r in self.reasons if r in AdherenceReason.values]

    @property
    def cost_concern(self) -> bool:
        return AdherenceReason.COST in self.reasons


class QuestionnaireAfterChange(models.Model):
    """A questionnaire the reassessment planner (medications.reassessment) asked because of a
    start or a dose change. The link lives here, above the record: the assignment does not know
    the prescriptions."""

    event = models.ForeignKey(PrescriptionEvent, on_delete=models.PROTECT, related_name="questionnaires_asked")
    assignment = models.OneToOneField(
        "patients.QuestionnaireAssignment", on_delete=models.PROTECT, related_name="asked_after"
    )

    def __str__(self) -> str:
        return f"Questionnaire {self.assignment_id} after event {self.event_id}"


class DosePlan(models.Model):
    """A structured titration (up) or taper (down): steps of a dose held for some days.

    The current step is the last confirmed one; the next step falls due when the current
    step's days have passed, and the psychiatrist confirms it (confirmation applies it).
    """

    class Kind(models.TextChoices):
        TITRATION = "titration", "Titration"
        TAPER = "taper", "Taper"

    class Status(models.TextChoices):
        ACTIVE = "active", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="plans")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # For a taper: the reason recorded when the last (0 mg) step stops the prescription.
    stop_reason = models.CharField(max_length=20, choices=ChangeReason.choices, blank=True)
    # Why a plan was cancelled before its last step (a manual dose change off the plan, a stop, a new taper).
    ended_note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["prescription"], condition=models.Q(status="active"), name="one_active_plan_per_prescription"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} plan for {self.prescription_id}"

    @property
    def ordered_steps(self) -> list[DosePlanStep]:
        return sorted(self.steps.all(), key=lambda step: step.position)

    @property
    def current_step(self) -> DosePlanStep | None:
        confirmed = [s for s in self.ordered_steps if s.started_on is not None]
        return confirmed[-1] if confirmed else None

    @property
    def next_step(self) -> DosePlanStep | None:
        pending = [s for s in self.ordered_steps if s.started_on is None]
        return pending[0] if pending else None

    @property
    def next_step_due(self) -> datetime.date | None:
        current, upcoming = self.current_step, self.next_step
        if current is None or upcoming is None or current.duration_days is None:
            return None
        return current.started_on + datetime.timedelta(days=current.duration_days)


class DosePlanStep(models.Model):
    plan = models.ForeignKey(DosePlan, on_delete=models.PROTECT, related_name="steps")
    position = models.PositiveSmallIntegerField()
    dose_mg = models.DecimalField(max_digits=9, decimal_places=3)
    # None on the last step: hold this dose.
    duration_days = models.PositiveSmallIntegerField(null=True, blank=True)
    started_on = models.DateField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["plan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "position"], name="unique_plan_step_position"),
            models.CheckConstraint(condition=models.Q(dose_mg__gte=0), name="plan_step_dose_not_negative"),
        ]

    def __str__(self) -> str:
        days = f" × {self.duration_days} days" if self.duration_days else ""
        return f"{dose_text(self.dose_mg)}{days}"

    @property
    def is_stop(self) -> bool:
        return self.dose_mg == 0


# -- Side-effect reports --------------------------------------------------------------------


class SideEffectReportQuerySet(models.QuerySet["SideEffectReport"]):
    def unacknowledged(self):
        return self.filter(acknowledged_at__isnull=True)

    def inbox_order(self):
        # Emergency, then urgent (same-day), then unacknowledged, most severe, newest. is_urgent
        # still ranks reports triaged before triage levels were stored.
        level_rank = models.Case(
            models.When(triage_level="emergency", then=0),
            models.When(triage_level="urgent", then=1),
            default=2,
        )
        severity_rank = models.Case(
            models.When(severity="severe", then=0),
            models.When(severity="moderate", then=1),
            default=2,
        )
        return self.order_by(
            level_rank, "-is_urgent", models.F("acknowledged_at").asc(nulls_first=True), severity_rank, "-created_at"
        )


class TriageLevel(models.TextChoices):
    EMERGENCY = "emergency", "Emergency"
    URGENT = "urgent", "Urgent"
    ROUTINE = "routine", "Routine"


# The languages medications.language.detect tells apart (detected from the words, never chosen).
REPORT_LANGUAGES = (("en", "English"), ("es", "Spanish"))


class SideEffectReport(models.Model):
    class Severity(models.TextChoices):
        MILD = "mild", _("Mild — noticeable but not in the way")
        MODERATE = "moderate", _("Moderate — gets in the way of daily life")
        SEVERE = "severe", _("Severe — hard to cope with")

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="side_effect_reports")
    # None: the patient is not sure which medicine causes it.
    prescription = models.ForeignKey(
        Prescription, null=True, blank=True, on_delete=models.PROTECT, related_name="side_effect_reports"
    )
    symptoms = models.JSONField(default=list, blank=True)
    other_symptoms = models.TextField(blank=True, max_length=2000)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    onset_date = models.DateField()
    ongoing = models.BooleanField("still happening", default=True)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Set by medications.triage when the report signals danger.
    is_urgent = models.BooleanField(default=False)
    urgent_reasons = models.JSONField(default=list, blank=True)
    # medications.triage's verdict: emergency / urgent / routine (is_urgent: not routine).
    triage_level = models.CharField(max_length=10, choices=TriageLevel.choices, default=TriageLevel.ROUTINE)
    # The language the patient wrote in (medications.language.detect): it picks the language of
    # the crisis resources they see and marks the report for staff. Triage never depends on it.
    language = models.CharField(max_length=2, choices=REPORT_LANGUAGES, default="en")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The care team's first response: the earlier of the acknowledgement and the first care-team
    # message in the report's thread. Recorded in the transaction of that write
    # (medications.side_effects.acknowledge, medications.threads.post), only ever moved earlier, so
    # the clinic metrics read one column instead of probing 40,000 threads (docs/metrics.md).
    first_response_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Replies are the messages of the report's thread (report.thread, medications.threads): what the
    # patient was told is never edited.
    # The dose change this report led to, if any.
    # The visit notes that discussed this report (``VisitNote.side_effects_reviewed``). Declared here
    # so the record (patients) does not point up at prescriptions; the link table is the one the
    # field had on VisitNote, with the same columns (medications/migrations/0010).
    reviewed_in = models.ManyToManyField(
        "patients.VisitNote",
        blank=True,
        related_name="side_effects_reviewed",
        db_table="appointments_visitnote_side_effects_reviewed",
    )
    resulting_event = models.ForeignKey(
        PrescriptionEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = SideEffectReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The psychiatrist's inbox: unacknowledged reports of their patients.
            models.Index(fields=["patient", "acknowledged_at"], name="ser_patient_ack"),
            # The inbox and the psychiatrist home's "unacknowledged reports" (SideEffectReportQuerySet.
            # unacknowledged over patients_for): a small partial index, so the planner reads the few open
            # reports instead of scanning every report ever filed (seq scan on 500k rows at 20k patients).
            models.Index(
                fields=["patient"], condition=models.Q(acknowledged_at__isnull=True), name="ser_unack_patient"
            ),
            # Clinic metrics for the whole clinic (clinic.metrics.responses): the reports filed in the
            # range and their first responses, an index-only scan instead of reading every report.
            models.Index(fields=["created_at"], include=["first_response_at"], name="ser_created_response"),
        ]

    def __str__(self) -> str:
        return f"Side-effect report {self.pk} ({self.severity})"

    @property
    def triage(self) -> str:
        """The triage level to show; reports triaged before levels were stored have only is_urgent."""
        if self.triage_level == TriageLevel.ROUTINE and self.is_urgent:
            return TriageLevel.URGENT
        return self.triage_level

    @property
    def reported_on_behalf(self) -> bool:
        return self.reported_by_id != self.patient.user_id

    @property
    def replies(self) -> models.QuerySet[Message]:
        """The care team's replies: their messages in the report's thread, oldest first."""
        return Message.objects.filter(thread__side_effect_report=self, from_patient=False)


# -- Messages (medications.threads, medications.messaging) ----------------------------------


REPLY_MAX_LENGTH = 4000
# One limit for every message, patient's or staff's (side-effect replies had it before they
# became messages, so every stored reply fits).
MESSAGE_MAX_LENGTH = REPLY_MAX_LENGTH


class MessageThreadQuerySet(models.QuerySet["MessageThread"]):
    def open(self):
        return self.filter(done_at__isnull=True)

    def inbox_order(self):
        # Emergency, then urgent, then threads waiting for the care team, newest first.
        level_rank = models.Case(
            models.When(triage_level="emergency", then=0), models.When(triage_level="urgent", then=1), default=2
        )
        return self.order_by(level_rank, "-last_from_patient", "-last_message_at", "-id")


class MessageThread(models.Model):
    """A conversation about one patient: between the patient and their care team (PATIENT), or
    among the care team about the patient (STAFF: the patient never sees it). A side-effect
    report's replies are the thread whose ``side_effect_report`` is that report."""

    class Kind(models.TextChoices):
        PATIENT = "patient", "Patient and care team"
        STAFF = "staff", "Care team only"

    class Category(models.TextChoices):
        MEDICATION = "medication", _("Question about a medication")
        SIDE_EFFECT = "side_effect", _("Side effect")
        REFILL = "refill", _("Refill")
        SCHEDULING = "scheduling", _("Scheduling")
        OTHER = "other", _("Other")

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="message_threads")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PATIENT)
    category = models.CharField(max_length=12, choices=Category.choices)
    subject = models.CharField(max_length=120)
    side_effect_report = models.OneToOneField(
        SideEffectReport, null=True, blank=True, on_delete=models.PROTECT, related_name="thread"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Kept by medications.threads.post with each message, so lists and unread counts read one row.
    last_message_at = models.DateTimeField(default=timezone.now)
    last_author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    last_from_patient = models.BooleanField(default=False)
    # The most serious triage level of the patient's messages since the thread was last done.
    triage_level = models.CharField(max_length=10, choices=TriageLevel.choices, default=TriageLevel.ROUTINE)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # When the care team first wrote in a PATIENT thread (its first message with from_patient False),
    # recorded by medications.threads.post in the transaction of that message, only ever moved
    # earlier: the clinic metrics' time to first response reads it (docs/metrics.md).
    first_response_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = MessageThreadQuerySet.as_manager()

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [
            # A patient's own list of threads, newest first (the patient's Messages page, nav count).
            models.Index(fields=["patient", "-last_message_at"], name="thread_patient_last"),
            # The psychiatrist's inbox and nav count: the open threads of their caseload, a small
            # partial index like ser_unack_patient (most threads are done). It carries the inbox's
            # sort keys, so the page's ids are picked without reading a thread row.
            models.Index(
                fields=["patient"],
                condition=models.Q(done_at__isnull=True),
                include=["triage_level", "last_from_patient", "last_message_at"],
                name="thread_open_patient",
            ),
            # Clinic metrics for the whole clinic (clinic.metrics.responses): the conversations patients
            # started in the range and their first responses. Partial: a report's thread is not timed.
            models.Index(
                fields=["created_at"],
                condition=models.Q(kind="patient", side_effect_report__isnull=True),
                include=["created_by", "first_response_at"],
                name="thread_started_response",
            ),
        ]

    def __str__(self) -> str:
        return f"Message thread {self.pk} ({self.category})"

    @property
    def is_clinical(self) -> bool:
        return self.kind == self.Kind.STAFF or self.category != self.Category.SCHEDULING


class Message(models.Model):
    """One message, as sent. Immutable: a correction is a new message, so what each side read
    stays on record, dated."""

    thread = models.ForeignKey(MessageThread, on_delete=models.PROTECT, related_name="messages", db_index=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_patient = models.BooleanField(default=False)
    text = models.TextField(max_length=MESSAGE_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # medications.triage's verdict on a patient's message (staff messages stay routine).
    triage_level = models.CharField(max_length=10, choices=TriageLevel.choices, default=TriageLevel.ROUTINE)
    urgent_reasons = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=2, choices=REPORT_LANGUAGES, default="en")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # A thread's messages, oldest first (the thread pages; the patient home's report replies).
            models.Index(fields=["thread", "created_at"], name="message_thread_created"),
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} in thread {self.thread_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Messages are immutable once sent; send a correction as a new message.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Messages are immutable once sent.")

    def get_staff_url(self) -> str:
        """Where an alert raised by this message sends the care team (patients.alerts.source_url)."""
        return reverse("medications:thread_detail", args=[self.thread_id])


class ThreadRead(models.Model):
    """How far one user has read a thread: the unread counts, and the read receipts staff see."""

    thread = models.ForeignKey(MessageThread, on_delete=models.CASCADE, related_name="reads", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["thread", "user"], name="thread_read_once")]

    def __str__(self) -> str:
        return f"Thread {self.thread_id} read by {self.user_id}"


# -- Lab and measure monitoring (medications.monitoring) ------------------------------------


class LabResult(models.Model):
    """One lab value or measurement (lithium level, ANC, weight, BP…), as entered and in the test's
    canonical unit, flagged against medications/data/monitoring_profiles.json when it was entered.

    Append-only like PrescriptionEvent: a wrong entry is corrected by a new result with a note.
    """

    class Flag(models.TextChoices):
        NORMAL = "normal", "Normal"
        LOW = "low", "Low"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"
        NONE = "none", "Not flagged"

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="lab_results")
    # A code from monitoring_profiles.json "tests" (LITHIUM, ANC, WEIGHT, SBP…).
    test_code = models.CharField(max_length=30)
    value = models.DecimalField("value as entered", max_digits=12, decimal_places=4)
    unit = models.CharField("unit as entered", max_length=20)
    canonical_value = models.DecimalField(max_digits=14, decimal_places=4)
    canonical_unit = models.CharField(max_length=20)
    collected_on = models.DateField()
    flag = models.CharField(max_length=10, choices=Flag.choices)
    # Alerting level of the flag: urgent/emergency results raise a patients.alerts alert.
    level = models.CharField(max_length=10, choices=TriageLevel.choices, default=TriageLevel.ROUTINE)
    flag_reason = models.CharField(max_length=300, blank=True)
    note = models.TextField(blank=True, max_length=1000)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-collected_on", "-created_at", "-id"]
        verbose_name = "lab result"
        indexes = [
            # The chart's history per test and the "latest result per test" look-up of
            # monitoring.due_items / due_for_psychiatrist.
            models.Index(fields=["patient", "test_code", "collected_on"], name="lab_patient_test_date"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(flag__in=["normal", "low", "high", "critical", "none"]), name="lab_flag_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.test_code} {self.value.normalize():f} {self.unit} ({self.collected_on:%Y-%m-%d})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Lab results are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Lab results are append-only.")

    def get_staff_url(self) -> str:
        from django.urls import reverse

        return reverse("medications:lab_result_detail", args=[self.patient_id, self.pk])

    @property
    def is_alerting(self) -> bool:
        return self.level != TriageLevel.ROUTINE


# -- What is due, precomputed per patient ------------------------------------------------------


class DueEntry(models.Model):
    """One item of a patient's work list, as computed by medications.due from the live rules
    (medications.monitoring for labs, medications.reassessment for prescription reviews), so that the
    psychiatrist home reads a caseload's due items with one indexed query instead of recomputing
    every prescription and lab of the caseload per request.

    Dates, not flags: an entry stores when it is shown, due and overdue, so it stays right as days
    pass. Rebuilt per patient on commit of any input (medications.due.touch) and in full by the
    hourly lab-reminder planner, which bounds staleness to an hour.
    """

    class Kind(models.TextChoices):
        LAB = "lab", "Lab or check"
        REVIEW = "review", "Prescription review"

    # No index of its own: due_patient_show leads with it. With both, PostgreSQL read the home's
    # caseload through this one and fetched every future entry only to filter it out (twice the pages).
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Lab: the monitoring test code (LITHIUM, ANC…); review: the medicine's generic name, so the
    # page prints it without joining prescriptions and the formulary.
    code = models.CharField(max_length=100, blank=True)
    prescription = models.ForeignKey(Prescription, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # Lab: the item's label ("Lithium level"); review: why it is due.
    label = models.CharField(max_length=200)
    due_on = models.DateField()
    # First day it is listed (lab: due_on; review: when a rule's condition starts to hold).
    show_from = models.DateField()
    # First day it is overdue (lab: the day after the item's grace; review: after the review window).
    overdue_from = models.DateField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "due item"
        verbose_name_plural = "due items"
        indexes = [
            # medications.due.home_panels: a caseload's entries shown by today (patient IN scope,
            # show_from <= today), and the per-patient delete of medications.due.refresh.
            models.Index(fields=["patient", "show_from"], name="due_patient_show"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.code or self.prescription_id} due {self.due_on:%Y-%m-%d}"


class ReviewDigest(models.Model):
    """One "N prescriptions are due for review" notice to a prescriber (medications.reviews): the
    outbox row is about it (its subject), so the message can say how many without naming any."""

    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    count = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.count} prescription(s) due for review"


class ReviewNudge(models.Model):
    """A prescription counted in a digest: each is told at most once per 30-day window, and the
    unique constraint makes two planners running at once tell it once."""

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="+")
    window = models.PositiveIntegerField()
    digest = models.ForeignKey(ReviewDigest, on_delete=models.PROTECT, related_name="nudges")

    class Meta:
        constraints = [
            # Also the planner's look-up of the prescriptions already told in a window (leading column).
            models.UniqueConstraint(fields=["prescription", "window"], name="one_review_nudge_per_window"),
        ]

    def __str__(self) -> str:
        return f"Review nudge for prescription {self.prescription_id} (window {self.window})"
