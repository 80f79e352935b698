from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from patients import icd10, instruments

# Patient columns kept by the writes they summarise (see the fields), never by Patient.save.
RECORDED_AT_WRITE_TIME = ("last_measured_at", "lab_overdue_from", "review_overdue_from")


class PatientQuerySet(models.QuerySet["Patient"]):
    def active(self):
        return self.filter(is_active=True)


class Patient(models.Model):
    """A person in the clinic's care. Demographics here (and the dates the metrics count, below);
    clinical data hangs off it."""

    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        INTERSEX = "intersex", "Intersex"
        UNKNOWN = "unknown", "Not recorded"

    class PregnancyStatus(models.TextChoices):
        NOT_PREGNANT = "not_pregnant", "Not pregnant"
        PREGNANT = "pregnant", "Pregnant"
        POSTPARTUM = "postpartum", "Postpartum or breastfeeding"

    # The patient's own login, if they have activated portal access.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="patient_record",
        limit_choices_to={"role": "patient"},
    )
    legal_first_name = models.CharField(max_length=100)
    legal_last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    pronouns = models.CharField(max_length=40, blank=True, help_text="e.g. she/her, they/them")
    date_of_birth = models.DateField()
    sex = models.CharField("sex assigned at birth", max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    # Read by the prescribing checks (pregnancy flags); clinicians keep it current.
    pregnancy_status = models.CharField(max_length=12, choices=PregnancyStatus.choices, blank=True)
    email = models.EmailField(blank=True)
    phone = PhoneNumberField(blank=True, help_text="Include the country code for numbers outside the US.")
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state / region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, default="US", help_text="Two-letter country code.")
    # What the patient reads the portal and their messages in (issue 22): clinic.languages keeps the
    # linked account's User.language the same.
    preferred_language = models.CharField(max_length=5, choices=settings.LANGUAGES, default="en")
    emergency_contact_name = models.CharField(max_length=150, blank=True)
    emergency_contact_relationship = models.CharField(max_length=60, blank=True)
    emergency_contact_phone = PhoneNumberField(blank=True)
    time_zone = models.CharField(max_length=64, default=settings.TITRATE_DEFAULT_TIME_ZONE)
    primary_psychiatrist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="primary_patients",
        limit_choices_to={"role": "psychiatrist"},
    )
    # Other psychiatrists who share this patient's care (covering, consulting).
    care_team = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="shared_patients",
        limit_choices_to={"role": "psychiatrist"},
    )
    # Medical record number: the identifier staff read out, never a database id.
    mrn = models.CharField("MRN", max_length=20, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Three dates the clinic metrics' caseload counts (clinic.metrics.caseload, docs/metrics.md),
    # recorded at write time so the figure is one pass over the patients, never a stored copy:
    # when the last PHQ-9 or GAD-7 was submitted (patients.questionnaires.submit, in its
    # transaction), and from which day the first lab or check, and the first prescription review,
    # of the patient's work list is overdue (medications.due.refresh, in the transaction that writes
    # the DueEntry rows they are taken from).
    last_measured_at = models.DateTimeField(null=True, blank=True, editable=False)
    lab_overdue_from = models.DateField(null=True, blank=True, editable=False)
    review_overdue_from = models.DateField(null=True, blank=True, editable=False)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["legal_last_name", "legal_first_name", "id"]
        indexes = [
            # A psychiatrist's patient list (clinic.access.patients_for).
            models.Index(fields=["primary_psychiatrist", "legal_last_name"], name="patient_psych_name"),
            # Clinic metrics' caseload (clinic.metrics.caseload): the active patients' recorded dates,
            # an index-only scan for the whole clinic and a range for one psychiatrist.
            models.Index(
                fields=["primary_psychiatrist"],
                include=["last_measured_at", "lab_overdue_from", "review_overdue_from"],
                condition=models.Q(is_active=True),
                name="patient_active_caseload",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(date_of_birth__gt="1900-01-01"), name="patient_dob_plausible"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.mrn})"

    def save(self, *args, **kwargs):
        # The dates recorded at write time are written only by the functions that record them (a
        # queryset UPDATE): a full save of an instance loaded earlier (the demographics form) must
        # not put back the value it was loaded with.
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name not in RECORDED_AT_WRITE_TIME
            ]
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.legal_first_name
        return f"{first} {self.legal_last_name}"

    def age_on(self, day: datetime.date) -> int:
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


class CareContact(models.Model):
    """Someone outside the clinic who shares care: a therapist, counsellor or primary care doctor.

    They get a minimum-necessary summary (sent only with the patient's consent), never the chart.
    """

    class Kind(models.TextChoices):
        THERAPIST = "therapist", "Therapist / counsellor"
        PRIMARY_CARE = "primary_care", "Primary care clinician"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="care_contacts")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.THERAPIST)
    name = models.CharField(max_length=150)
    organisation = models.CharField(max_length=150, blank=True)
    phone = PhoneNumberField(blank=True)
    email = models.EmailField(blank=True)
    consent_to_share = models.BooleanField("patient consents to sharing a summary", default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class DiagnosisQuerySet(models.QuerySet["Diagnosis"]):
    def active(self):
        return self.filter(status=Diagnosis.Status.ACTIVE)


class Diagnosis(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RESOLVED = "resolved", "Resolved"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="diagnoses")
    icd10_code = models.CharField("ICD-10-CM code", max_length=10)
    description = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    onset_date = models.DateField(null=True, blank=True)
    resolved_date = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = DiagnosisQuerySet.as_manager()

    class Meta:
        ordering = ["status", "icd10_code"]
        verbose_name_plural = "diagnoses"
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "icd10_code"],
                condition=models.Q(status="active"),
                name="one_active_diagnosis_per_code",
            ),
            models.CheckConstraint(
                condition=models.Q(resolved_date__isnull=True)
                | models.Q(onset_date__isnull=True)
                | models.Q(resolved_date__gte=models.F("onset_date")),
                name="diagnosis_resolved_after_onset",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.icd10_code} {self.description}"

    def clean(self) -> None:
        code = icd10.normalize(self.icd10_code)
        if not icd10.is_billable(code):
            raise ValidationError(
                {"icd10_code": f"“{self.icd10_code}” is not a billable ICD-10-CM code. Search by code or words."}
            )
        self.icd10_code = code
        self.description = icd10.describe(code)


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"
    IMMINENT = "imminent", "Imminent"


# Every free-text field has a limit in the model: a TextField's max_length becomes its form field's
# (checked on submit, and the textarea's maxlength), and the form says it (tests/test_text_limits.py
# walks every form). Ten thousand characters is about four typed pages: a long evaluation section
# fits, a pasted document does not.
NOTE_MAX_LENGTH = 10_000

# Where a telehealth patient is at the start of the visit (the psychiatrist must be licensed there).
US_STATES = [
    ("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"), ("CA", "California"),
    ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"), ("DC", "District of Columbia"),
    ("FL", "Florida"), ("GA", "Georgia"), ("HI", "Hawaii"), ("ID", "Idaho"), ("IL", "Illinois"),
    ("IN", "Indiana"), ("IA", "Iowa"), ("KS", "Kansas"), ("KY", "Kentucky"), ("LA", "Louisiana"),
    ("ME", "Maine"), ("MD", "Maryland"), ("MA", "Massachusetts"), ("MI", "Michigan"), ("MN", "Minnesota"),
    ("MS", "Mississippi"), ("MO", "Missouri"), ("MT", "Montana"), ("NE", "Nebraska"), ("NV", "Nevada"),
    ("NH", "New Hampshire"), ("NJ", "New Jersey"), ("NM", "New Mexico"), ("NY", "New York"),
    ("NC", "North Carolina"), ("ND", "North Dakota"), ("OH", "Ohio"), ("OK", "Oklahoma"), ("OR", "Oregon"),
    ("PA", "Pennsylvania"), ("RI", "Rhode Island"), ("SC", "South Carolina"), ("SD", "South Dakota"),
    ("TN", "Tennessee"), ("TX", "Texas"), ("UT", "Utah"), ("VT", "Vermont"), ("VA", "Virginia"),
    ("WA", "Washington"), ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"),
    ("AS", "American Samoa"), ("GU", "Guam"), ("MP", "Northern Mariana Islands"), ("PR", "Puerto Rico"),
    ("VI", "U.S. Virgin Islands"),
]  # fmt: skip


class NoteLockedError(Exception):
    """A signed clinical note was about to be changed. Corrections are addenda."""


class ClinicalNote(models.Model):
    """Draft → signed. A signed note is locked: saving it again raises NoteLockedError."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    signed_at = models.DateTimeField(null=True, blank=True, editable=False)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    # Mental status and risk are part of every psychiatric note.
    mental_status_exam = models.TextField(
        blank=True,
        help_text="Appearance, behaviour, speech, mood and affect, thought process and content, "
        "perception, cognition, insight and judgement.",
        max_length=NOTE_MAX_LENGTH,
    )
    suicide_risk = models.CharField(max_length=10, choices=RiskLevel.choices, blank=True)
    violence_risk = models.CharField(max_length=10, choices=RiskLevel.choices, blank=True)
    risk_rationale = models.TextField(
        blank=True, help_text="Risk and protective factors, and why you chose these levels.", max_length=NOTE_MAX_LENGTH
    )

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding and type(self).objects.filter(pk=self.pk, status=self.Status.SIGNED).exists():
            raise NoteLockedError(f"{self._meta.verbose_name} {self.pk} is signed and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise NoteLockedError("Clinical notes are never deleted.")

    @property
    def is_signed(self) -> bool:
        return self.status == self.Status.SIGNED


class Evaluation(ClinicalNote):
    """The initial comprehensive psychiatric evaluation."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="evaluations")
    evaluation_date = models.DateField(default=timezone.localdate)
    presenting_symptoms = models.TextField("presenting symptoms", max_length=NOTE_MAX_LENGTH)
    symptom_duration = models.CharField("how long", max_length=200, blank=True)
    functional_impact = models.TextField(
        "impact on daily life",
        blank=True,
        help_text="Work or school, relationships, self-care, daily routine.",
        max_length=NOTE_MAX_LENGTH,
    )
    psychiatric_history = models.TextField(
        blank=True,
        help_text="Past diagnoses, treatment, therapy, self-harm or suicide attempts.",
        max_length=NOTE_MAX_LENGTH,
    )
    hospitalisations = models.TextField("psychiatric hospitalisations", blank=True, max_length=NOTE_MAX_LENGTH)
    past_medication_trials = models.TextField(
        blank=True,
        help_text="One per line: medicine, dose, how long, response, reason stopped.",
        max_length=NOTE_MAX_LENGTH,
    )
    medical_history = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    current_medications = models.TextField(
        "current medications and supplements",
        blank=True,
        help_text="Include over-the-counter medicines, herbal products (e.g. St John's wort) and supplements.",
        max_length=NOTE_MAX_LENGTH,
    )
    sleep = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    stressors = models.TextField("stress and stressors", blank=True, max_length=NOTE_MAX_LENGTH)
    substance_use = models.TextField(
        blank=True, help_text="Alcohol, cannabis, nicotine, caffeine, other substances.", max_length=NOTE_MAX_LENGTH
    )
    family_history = models.TextField("family psychiatric history", blank=True, max_length=NOTE_MAX_LENGTH)
    diagnostic_formulation = models.TextField(
        "diagnoses and formulation",
        blank=True,
        help_text="Code diagnoses in the chart's diagnosis list.",
        max_length=NOTE_MAX_LENGTH,
    )
    treatment_plan = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    patient_education = models.TextField(
        "explained to the patient",
        blank=True,
        help_text="Options discussed, expected benefits, side effects, a realistic timeline.",
        max_length=NOTE_MAX_LENGTH,
    )

    class Meta:
        ordering = ["-evaluation_date", "-id"]

    def __str__(self) -> str:
        return f"Evaluation {self.evaluation_date:%Y-%m-%d}"


# Sent with the ids of visit notes that became signed (``note_ids``). The schedule keeps a flag per
# appointment (appointments.models.sync_note_signed, connected in AppointmentsConfig.ready()): the
# record sits below the schedule, does not import it and does not know which visit a note was
# written for (Appointment.visit_note points here).
visit_notes_signed = Signal()


class VisitNoteQuerySet(models.QuerySet["VisitNote"]):
    def update(self, **kwargs):
        # patients.notes.sign signs with a conditional update (no save): tell the schedule.
        if kwargs.get("status") != VisitNote.Status.SIGNED:
            return super().update(**kwargs)
        # Read before: the update can change which rows the filter matches (status=draft).
        note_ids = list(self.values_list("pk", flat=True))
        count = super().update(**kwargs)
        if count and note_ids:
            visit_notes_signed.send(sender=VisitNote, note_ids=note_ids)
        return count


class VisitNote(ClinicalNote):
    """A follow-up visit note, beside the evaluation and the addenda that correct both. Medication
    changes made in the visit are PrescriptionEvents pointing here (``medication_events``); the
    booked visit a note was written for points here (``Appointment.visit_note``, reverse
    ``appointment``), so the record does not know the schedule."""

    class Modality(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        TELEHEALTH = "telehealth", "Telehealth (video)"
        PHONE = "phone", "Phone"

    class Adherence(models.TextChoices):
        AS_PRESCRIBED = "as_prescribed", "Taking as prescribed"
        MISSED_DOSES = "missed_doses", "Missing some doses"
        STOPPED = "stopped", "Stopped one or more medicines"
        NOT_APPLICABLE = "not_applicable", "Not on medication"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="visit_notes")
    visit_at = models.DateTimeField(default=timezone.now)
    modality = models.CharField(max_length=12, choices=Modality.choices, default=Modality.IN_PERSON)
    # Required to sign a telehealth note (patients.notes.missing_for_signature): the state the
    # patient was in at the start of the visit, a US telehealth licensing requirement.
    patient_location_state = models.CharField(
        "patient's location at the start (state)", max_length=2, choices=US_STATES, blank=True
    )
    interval_history = models.TextField(
        "interval history", help_text="What has happened since the last visit.", max_length=NOTE_MAX_LENGTH
    )
    adherence = models.CharField(max_length=20, choices=Adherence.choices, default=Adherence.AS_PRESCRIBED)
    adherence_note = models.TextField(
        blank=True, help_text="Which doses were missed or stopped, and why.", max_length=NOTE_MAX_LENGTH
    )
    # The medicine cabinet was gone through with the patient (prescriptions, outside medicines,
    # supplements, patient-reported entries): the visit's medication reconciliation step.
    medications_reconciled = models.BooleanField(
        "medication reconciliation done",
        default=False,
        help_text="Went through every medicine and supplement on the list with the patient, and updated it.",
    )
    side_effects_note = models.TextField("side effects discussed", blank=True, max_length=NOTE_MAX_LENGTH)
    symptom_scores = models.TextField(
        blank=True, help_text="Scores entered or reviewed (PHQ-9, GAD-7, …).", max_length=NOTE_MAX_LENGTH
    )
    assessment = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    plan = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    # The one line of "why" the patient reads in their after-visit summary (appointments.after_visit):
    # the assessment and plan are written for clinicians, this for the patient.
    reason_for_patient = models.CharField(
        "why, for the patient",
        max_length=200,
        blank=True,
        help_text="One plain sentence for the patient's after-visit summary, e.g. “To help with sleep.”",
    )
    next_follow_up_weeks = models.PositiveSmallIntegerField("next follow-up in (weeks)", null=True, blank=True)

    objects = VisitNoteQuerySet.as_manager()

    class Meta:
        # Moved from the appointments app (patients/migrations/0006): the table keeps its name.
        db_table = "appointments_visitnote"
        ordering = ["-visit_at", "-id"]
        indexes = [
            # Psychiatrist home: today's visits and unsigned notes by author.
            models.Index(fields=["author", "status", "visit_at"], name="visit_author_status_time"),
            # "The patient's last visit" (medications.reassessment.prescriptions_due_for_review, a subquery per
            # prescription on the psychiatrist home): the newest note per patient is the first index entry.
            models.Index(fields=["patient", "-visit_at"], name="visit_patient_latest"),
        ]

    def __str__(self) -> str:
        return f"Visit {timezone.localtime(self.visit_at):%Y-%m-%d}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        if self.status == self.Status.SIGNED:
            visit_notes_signed.send(sender=VisitNote, note_ids=[self.pk])


class Addendum(models.Model):
    """A correction or addition to a signed note: never an edit of it."""

    evaluation = models.ForeignKey(Evaluation, null=True, blank=True, on_delete=models.PROTECT, related_name="addenda")
    visit_note = models.ForeignKey(VisitNote, null=True, blank=True, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(max_length=NOTE_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "addenda"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(evaluation__isnull=False, visit_note__isnull=True)
                | models.Q(evaluation__isnull=True, visit_note__isnull=False),
                name="addendum_to_exactly_one_note",
            ),
        ]

    def __str__(self) -> str:
        return f"Addendum by {self.author_id} at {timezone.localtime(self.created_at):%Y-%m-%d %H:%M}"


# -- Questionnaires (measurement-based care) ------------------------------------------------
# Instrument definitions and scoring live in patients/instruments.py; submitting, assigning and
# triage in patients/questionnaires.py; the reassessment planner in medications/reassessment.py.


class QuestionnaireAssignmentQuerySet(models.QuerySet["QuestionnaireAssignment"]):
    def open(self):
        return self.filter(status=QuestionnaireAssignment.Status.OPEN)


class QuestionnaireAssignment(models.Model):
    """A questionnaire the patient is asked to fill in, by a date. The planner makes most of them."""

    class Reason(models.TextChoices):
        SCHEDULE = "schedule", _("Regular check-in")
        DOSE_CHANGE = "dose_change", _("After a medication change")
        MANUAL = "manual", _("Asked for by your psychiatrist")
        SCREEN = "screen", _("Follow-up to a short screen")

    class Status(models.TextChoices):
        OPEN = "open", "To fill in"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="questionnaire_assignments")
    instrument = models.CharField(max_length=10, choices=instruments.CHOICES)
    due_on = models.DateField()
    reason = models.CharField(max_length=12, choices=Reason.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # None: made by the reassessment planner.
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The start or dose change a "dose_change" assignment follows: medications.QuestionnaireAfterChange.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = QuestionnaireAssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            # One thing to fill in per questionnaire: a second planner run (or a manual request
            # racing it) cannot pile up copies.
            models.UniqueConstraint(
                fields=["patient", "instrument"],
                condition=models.Q(status="open"),
                name="one_open_questionnaire_per_instrument",
            ),
        ]
        indexes = [
            # The patient's to-do list and the planner's "is one open?" look-up.
            models.Index(fields=["patient", "status"], name="qa_patient_status"),
        ]

    def __str__(self) -> str:
        return f"{self.get_instrument_display()} due {self.due_on:%Y-%m-%d} ({self.status})"

    @property
    def definition(self) -> instruments.Instrument:
        return instruments.get(self.instrument)


class QuestionnaireResponse(models.Model):
    """One filled-in questionnaire with its item answers and score. Append-only."""

    class Context(models.TextChoices):
        PORTAL = "portal", "Patient portal"
        VISIT = "visit", "During a visit"

    class Triage(models.TextChoices):
        EMERGENCY = "emergency", "Emergency"
        URGENT = "urgent", "Urgent"
        ROUTINE = "routine", "Routine"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="questionnaire_responses")
    instrument = models.CharField(max_length=10, choices=instruments.CHOICES)
    # Keyed by item ("1" … "9", "difficulty"), values as the instrument's options define them.
    answers = models.JSONField()
    total = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=30)
    triage_level = models.CharField(max_length=10, choices=Triage.choices, default=Triage.ROUTINE)
    triage_reasons = models.JSONField(default=list, blank=True)
    # Compared with the patient's previous score of the same questionnaire at submission.
    previous_total = models.PositiveSmallIntegerField(null=True, blank=True)
    worsened = models.BooleanField(default=False)
    worsening_reason = models.CharField(max_length=200, blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    context = models.CharField(max_length=10, choices=Context.choices)
    # The language the patient read the questions in (issue 22): the validated Spanish version
    # (patients.instruments.TRANSLATIONS) or English. Same keys and points in both.
    language = models.CharField(max_length=5, choices=settings.LANGUAGES, default="en")
    visit_note = models.ForeignKey(
        VisitNote,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="questionnaire_responses",
    )
    assignment = models.OneToOneField(
        QuestionnaireAssignment, null=True, blank=True, on_delete=models.PROTECT, related_name="response"
    )
    submitted_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [
            # The chart's score series, and "the previous score" at submission.
            models.Index(fields=["patient", "instrument", "submitted_at"], name="qr_patient_instr_time"),
            # The psychiatrist home's "scores that worsened" (medications.reassessment.worsened_responses):
            # only the few worsened responses of the caseload, not every response it ever filed.
            models.Index(
                fields=["patient", "submitted_at"], name="qr_worsened_patient", condition=models.Q(worsened=True)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(context="visit") | models.Q(visit_note__isnull=True),
                name="qr_visit_note_only_in_visit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_instrument_display()} {self.total} ({timezone.localtime(self.submitted_at):%Y-%m-%d})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Questionnaire responses are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Questionnaire responses are append-only.")

    @property
    def definition(self) -> instruments.Instrument:
        return instruments.get(self.instrument)

    @property
    def band_label(self) -> str:
        band = self.definition.band(self.band)
        return band.label if band else self.band

    @property
    def is_emergency(self) -> bool:
        return self.triage_level == self.Triage.EMERGENCY

    def get_staff_url(self) -> str:
        """Where an alert raised by this response links (patients.alerts.source_url)."""
        from django.urls import reverse

        return reverse("patients:questionnaire_detail", args=[self.patient_id, self.pk])

    def item_rows(self) -> list[tuple[instruments.Item, str]]:
        """(item, chosen answer's label) in the instrument's order, for read-only display."""
        rows = []
        for item in self.definition.items:
            if item.key in self.answers:
                option = item.option(self.answers[item.key])
                rows.append((item, option.label if option else str(self.answers[item.key])))
        return rows

    @property
    def given_definition(self) -> instruments.Instrument:
        """The instrument in the language it was answered in."""
        return instruments.localised(self.instrument, self.language)

    def given_rows(self) -> list[tuple[instruments.Item, str, instruments.Item, str]]:
        """(item, answer) as the patient read them beside the English (item, answer), for the
        psychiatrist's view of an answer given in another language."""
        given = {item.key: item for item in self.given_definition.items}
        rows = []
        for item, label in self.item_rows():
            shown = given.get(item.key, item)
            option = shown.option(self.answers[item.key])
            rows.append((shown, option.label if option else label, item, label))
        return rows


class SafetyPlan(models.Model):
    """One version of a patient's safety and relapse-prevention plan (the Stanley–Brown safety
    plan, plus relapse signs and what to do about the medicines). Each save is a new row with the
    next version number (patients.safety_plans.save_version); the newest is the plan in force and
    the older ones are its history, never changed."""

    SECTIONS = [
        ("warning_signs", _("Warning signs that a crisis may be developing")),
        ("coping_strategies", _("Things I can do on my own to take my mind off my problems")),
        ("distractions", _("People and social places that can help distract me")),
        ("people_to_ask", _("People I can ask for help")),
        ("professionals", _("Professionals and agencies I can contact in a crisis")),
        ("safe_environment", _("Making my environment safe")),
        ("relapse_signs", _("Early signs that my illness may be coming back")),
        ("medication_plan", _("What to do about my medicines if it does")),
    ]

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="safety_plans")
    version = models.PositiveIntegerField()
    warning_signs = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    coping_strategies = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    distractions = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    people_to_ask = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    professionals = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    safe_environment = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    relapse_signs = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    medication_plan = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-version"]
        constraints = [
            # Two saves at once cannot both become version n: the second is refused and retried.
            models.UniqueConstraint(fields=["patient", "version"], name="safety_plan_one_per_version"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="safety_plan_version_positive"),
        ]

    def __str__(self) -> str:
        return f"Safety plan v{self.version}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("A safety plan version is never changed: save a new version.")
        super().save(*args, **kwargs)

    def sections(self) -> list[tuple[str, str, str]]:
        """(field, heading, text) in the plan's order, for the pages that show it."""
        return [(name, heading, getattr(self, name)) for name, heading in self.SECTIONS]


class SummaryShare(models.Model):
    """A summary sent to a patient's outside care contact (a therapist): a single-use link that
    expires. The link is the share's id and a random nonce, signed with the secret key
    (patients.sharing.link_token); the email carries the link, never the content."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="summary_shares")
    care_contact = models.ForeignKey(CareContact, on_delete=models.PROTECT, related_name="shares")
    nonce = models.CharField(max_length=32, editable=False)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # "Changes since the last share": the contact's previous share, newest first.
            models.Index(fields=["care_contact", "-created_at"], name="share_contact_latest"),
        ]

    def __str__(self) -> str:
        return f"Summary share {self.pk}"
