"""The synthetic demo clinic. Every name here is invented; none is a real person.

Each demo patient also gets an invented clinical history (diagnoses, an initial evaluation,
prescriptions with titrations, tapers and dose changes, visit notes and side-effect reports),
written only through the domain functions the portal itself uses (patients.notes,
medications.prescribing, medications.side_effects), so it obeys the same rules as real data.
"""

from __future__ import annotations

import datetime
import math
import random
import re
from dataclasses import dataclass
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from appointments import booking, slots
from appointments.models import Appointment, AppointmentType, WeeklyAvailability, sync_note_signed
from clinic import audit
from clinic.first_run import DEMO_DOMAIN, DEMO_MRN_PREFIX
from clinic.models import AuditEvent, User
from medications import checklists, monitoring, outside, prescribing, side_effects
from medications import due as due_lists
from medications.models import (
    DOSES_PER_DAY,
    Allergy,
    ChangeReason,
    DosePlan,
    Frequency,
    Medication,
    OutsideMedication,
    Prescription,
    PrescriptionEvent,
    SideEffectReport,
)
from medications.prescribing import PlanStepInput
from patients import icd10, notes, questionnaires
from patients.models import Diagnosis, Evaluation, Patient, QuestionnaireResponse, RiskLevel, VisitNote

DEMO_PASSWORD = "Titrate-demo-2026"
# Published in the README so testers can generate codes; demo data only.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"


@dataclass(frozen=True)
class DemoUser:
    email: str
    role: str
    first_name: str
    last_name: str
    credentials: str = ""
    is_staff: bool = False


STAFF = [
    DemoUser("psychiatrist@demo.titrate.test", User.Role.PSYCHIATRIST, "Maya", "Okafor", "MD"),
    DemoUser("psychiatrist2@demo.titrate.test", User.Role.PSYCHIATRIST, "Daniel", "Reyes", "PMHNP-BC"),
    DemoUser("admin@demo.titrate.test", User.Role.CLINIC_ADMIN, "Priya", "Sandoval", is_staff=True),
]
PATIENT_USERS = [
    # (user, psychiatrist email, date of birth)
    (
        DemoUser("patient@demo.titrate.test", User.Role.PATIENT, "Jordan", "Ellis"),
        "psychiatrist@demo.titrate.test",
        datetime.date(1991, 4, 12),
    ),
    (
        DemoUser("patient2@demo.titrate.test", User.Role.PATIENT, "Sam", "Whitaker"),
        "psychiatrist2@demo.titrate.test",
        datetime.date(1984, 9, 30),
    ),
]
FIRST_NAMES = [
    "Avery", "Blake", "Casey", "Dana", "Emery", "Finley", "Harper", "Indigo", "Jules", "Kai",
    "Logan", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Riley", "Sage", "Taylor", "Val",
]  # fmt: skip
LAST_NAMES = [
    "Abernathy", "Bellweather", "Castellano", "Delacroix", "Everly", "Fairbanks", "Galloway",
    "Hollister", "Ingram", "Jansen", "Kowalczyk", "Lindqvist", "Marchetti", "Northcott", "Ostrowski",
]  # fmt: skip
EXTRA_PATIENTS = 30


def _upsert_user(spec: DemoUser) -> User:
    user, _ = User.objects.update_or_create(
        email=spec.email,
        defaults={
            "role": spec.role,
            "first_name": spec.first_name,
            "last_name": spec.last_name,
            "credentials": spec.credentials,
            "is_staff": spec.is_staff,
            "is_superuser": spec.is_staff,
            "is_active": True,
        },
    )
    user.set_password(DEMO_PASSWORD)
    user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(user=user, email=spec.email, defaults={"verified": True, "primary": True})
    if user.requires_mfa and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_TOTP_SECRET)
        RecoveryCodes.activate(user)
    return user


def _upsert_patient(mrn: str, **fields) -> Patient:
    patient, _ = Patient.objects.update_or_create(mrn=mrn, defaults=fields)
    return patient


# -- Clinical histories -------------------------------------------------------------------
#
# Every patient's history is a short script of dated clinical actions, run in date order
# through the domain functions. Dates are day offsets from today (0 = today, -30 = a month
# ago); nothing is ever dated in the future. The scripts are deterministic: the only
# variation comes from a random.Random seeded with the patient's MRN.

HISTORY_SEED = "titrate-demo-history-v1"
DEMO_DRUGS = [
    "aripiprazole", "atomoxetine", "bupropion", "buspirone", "clonazepam", "escitalopram", "fluoxetine",
    "hydroxyzine", "lamotrigine", "lithium", "methylphenidate", "mirtazapine", "prazosin", "quetiapine",
    "sertraline", "trazodone", "venlafaxine", "codeine", "haloperidol", "ibuprofen",
]  # fmt: skip
WHOLE_COUNTS = {Decimal(1), Decimal(2), Decimal(3), Decimal(4)}
HALF_COUNTS = {Decimal("0.5"), Decimal("1.5"), Decimal("2.5")}
UNSPLITTABLE = ("extended", "delayed", "disintegrating", "chewable")

LOW, MODERATE = RiskLevel.LOW, RiskLevel.MODERATE
BID, QHS, QAM, TID = Frequency.TWICE, Frequency.BEDTIME, Frequency.MORNING, Frequency.THREE
IN_PERSON, TELEHEALTH, PHONE = VisitNote.Modality.IN_PERSON, VisitNote.Modality.TELEHEALTH, VisitNote.Modality.PHONE
# The demo clinic sees its video patients at home in one state (a telehealth note records it).
DEMO_TELEHEALTH_STATE = "MA"

# Mild, expected side effects per drug (never a code the checklists mark urgent).
MILD_SYMPTOMS = {
    "sertraline": ["sweating", "yawning", "upset_stomach"],
    "escitalopram": ["yawning", "sweating", "upset_stomach"],
    "fluoxetine": ["jittery_early", "sweating"],
    "venlafaxine": ["sweating", "upset_stomach"],
    "bupropion": ["trouble_sleeping", "dry_mouth"],
    "mirtazapine": ["next_morning_grogginess", "weight_gain_appetite"],
    "trazodone": ["next_morning_grogginess", "dry_mouth"],
    "lamotrigine": ["headache", "dizziness"],
    "lithium": ["very_thirsty", "passing_lots_of_urine"],
    "quetiapine": ["daytime_sleepiness", "dry_mouth"],
    "aripiprazole": ["akathisia", "weight_gain_appetite"],
    "methylphenidate": ["weight_loss_appetite", "headache"],
    "atomoxetine": ["nausea", "tiredness"],
    "buspirone": ["dizziness", "headache"],
    "hydroxyzine": ["daytime_sleepiness", "dry_mouth"],
    "prazosin": ["dizzy_on_standing", "headache"],
    "clonazepam": ["daytime_sleepiness", "memory_slowed_thinking"],
}

MENTAL_STATUS = [
    "Casually dressed, good hygiene, calm and cooperative; good eye contact. Speech normal rate and volume. "
    "Mood 'tired'; affect mildly constricted, reactive. Thought process linear; no suicidal or homicidal "
    "ideation. No perceptual disturbance. Alert and oriented. Insight and judgement fair to good.",
    "Well groomed, pleasant, engaged. Speech fluent. Mood 'a bit better'; affect brighter than last time, full "
    "range. Thoughts goal-directed; denies suicidal ideation, intent or plan. No psychotic features. Cognition "
    "grossly intact. Insight good, judgement good.",
    "Appears stated age, mildly restless, fidgets with sleeve. Speech slightly rapid, interruptible. Mood "
    "'on edge'; affect anxious. Thought process logical; worries about work, no suicidal ideation. No "
    "hallucinations. Oriented x3. Insight good, judgement intact.",
    "Neatly dressed, soft-spoken, slowed but responsive. Mood 'flat'; affect constricted. Linear thought "
    "process; passive thoughts of not waking up in the past, none now; no plan or intent. No perceptual "
    "disturbance. Attention mildly reduced. Insight fair, judgement fair.",
]
RISK_RATIONALE = [
    "No current suicidal ideation, no past attempts, no access to firearms. Protective factors: supportive "
    "partner, stable housing, engaged in care, future-oriented. Violence: no history, no current ideation.",
    "Denies suicidal ideation; one remote episode of passive ideation years ago, never acted on. Lives with "
    "family, employed, reasons for living include pets and friends. No violence history. Safety plan reviewed.",
    "No suicidal or homicidal ideation. Risk factors limited to ongoing anxiety and sleep loss; protective "
    "factors include strong social network, help-seeking and no substance misuse. Knows crisis line number.",
]
RISK_RATIONALE_MODERATE = (
    "Passive death wishes during the worst weeks, no plan or intent now; one overdose attempt in early twenties. "
    "Chronic risk moderate, acute risk low today. Protective: close sibling, engaged in therapy, no firearms at "
    "home, agrees to safety plan. Violence: none."
)
MEDICAL_HISTORY = [
    "Mild asthma, uses an inhaler rarely. No seizures, no head injury.",
    "Hypothyroidism, stable on levothyroxine. No cardiac history.",
    "Migraine without aura. Appendectomy in childhood. No seizures.",
    "No significant medical history. Last physical exam six months ago was normal.",
    "Hypertension, diet-controlled. Seasonal allergies.",
]
OTHER_MEDICATIONS = [
    "Cetirizine 10 mg as needed. Vitamin D 1000 IU daily.",
    "Levothyroxine 50 mcg daily. No supplements.",
    "None. Occasional ibuprofen for headaches.",
    "Combined oral contraceptive. Magnesium supplement at night.",
    "None; no herbal products (asked specifically about St John's wort).",
]
STRESSORS = [
    "Demanding job with recent restructuring; caring for a parent with dementia at weekends.",
    "Relationship ended four months ago; moved to a smaller flat; finances tight.",
    "Started a graduate programme; exam pressure; lives alone in a new city.",
    "Workplace conflict with a new manager; long commute.",
    "New baby in the extended family; shift work disrupts routine.",
]
SUBSTANCE_USE = [
    "Alcohol 2-3 drinks a week. No cannabis or other drugs. Coffee 2 cups a day. Non-smoker.",
    "Alcohol rarely. Cannabis occasionally in college, none for years. Coffee 3-4 cups a day.",
    "Alcohol socially, at most 4 drinks on a night out, about twice a month. No other substances.",
    "No alcohol for five years. Vapes nicotine daily, wants to cut down. No other substances.",
]
FAMILY_HISTORY = [
    "Mother treated for depression; maternal uncle with alcohol use disorder. No known suicides.",
    "Father with anxiety, untreated. Sister with ADHD. No bipolar disorder or psychosis known.",
    "Paternal grandmother hospitalised for 'nervous breakdown', details unknown. Brother with depression.",
    "No known family psychiatric history (limited information about father's side).",
]
HOSPITALISATIONS = [
    "None.",
    "None. One emergency department visit for a panic attack, discharged the same night.",
]

# Initial evaluations: the parts that differ by clinical picture.
EVALUATIONS = {
    "jordan": {
        "presenting_symptoms": "Low mood most days, loss of interest in running and music, poor concentration at "
        "work, constant worry about performance and health, irritability, early waking.",
        "symptom_duration": "Current episode about 5 months; worry most of adult life",
        "functional_impact": "Two sick days a month, falling behind on projects; withdrawing from friends.",
        "psychiatric_history": "Depressive episode at university treated with counselling. No self-harm, "
        "no suicide attempts. Currently in weekly CBT with a community therapist.",
        "past_medication_trials": "Fluoxetine 20 mg, 2 months at age 21: jittery, stopped by self, no benefit noticed.",
        "sleep": "Falls asleep at midnight, wakes at 4-5 am unable to return to sleep; 5 hours most nights.",
        "diagnostic_formulation": "Recurrent major depressive disorder, current episode moderate (PHQ-9 17), with "
        "generalised anxiety disorder (GAD-7 14). Work stress a precipitant; good prior functioning.",
        "treatment_plan": "Start escitalopram 10 mg daily; trazodone 50 mg at bedtime for sleep. Continue CBT. "
        "Follow up by video in 4 weeks; PHQ-9 and GAD-7 each visit.",
        "patient_education": "Antidepressant takes 4-6 weeks for full effect; early nausea or jitteriness usually "
        "settles. Do not stop suddenly. Crisis line and clinic number given. Questions answered.",
    },
    "sam": {
        "presenting_symptoms": "Recurrent depressive episodes with weeks of low energy and oversleeping, plus "
        "past spells of 4-5 days with little sleep, fast speech and big plans. Currently low and anxious.",
        "symptom_duration": "Mood episodes for about 9 years; current low period 2 months",
        "functional_impact": "Freelance work has dried up during the low spell; debts from a past high period.",
        "psychiatric_history": "Diagnosed with depression at 27; sertraline triggered a 'wired' week. One "
        "overdose attempt at 22, medically treated, no admission since.",
        "past_medication_trials": "Sertraline 50 mg, 3 weeks: agitation and no sleep, stopped.\n"
        "Quetiapine 25 mg short course for sleep, helped.",
        "sleep": "Sleeping 10-11 hours, unrefreshed; irregular schedule.",
        "diagnostic_formulation": "Bipolar II disorder, current episode depressed, with generalised anxiety. "
        "History of hypomania on an SSRI. No psychotic features.",
        "treatment_plan": "Lamotrigine titration to 200 mg over six weeks. Quetiapine 50 mg at bedtime for sleep "
        "and anxiety, to be reviewed once mood is stable. Mood chart daily. Follow up in 4 weeks.",
        "patient_education": "Lamotrigine must be increased slowly; report any rash at once and do not restart "
        "after missing several days without calling. Signs of hypomania to watch for were reviewed.",
    },
    "mdd_anxiety": {
        "presenting_symptoms": "Persistent sadness, tearfulness, low energy and constant worry; trouble "
        "switching off at night; avoiding social plans.",
        "symptom_duration": "About 4 months; similar episode 5 years ago",
        "functional_impact": "Struggling to keep up at work, skipping meals, not exercising.",
        "psychiatric_history": "One prior depressive episode treated with therapy only. No self-harm.",
        "past_medication_trials": "None.",
        "sleep": "Takes an hour to fall asleep; wakes twice a night.",
        "diagnostic_formulation": "Major depressive disorder, recurrent, moderate, with generalised anxiety.",
        "treatment_plan": "Sertraline 25 mg for a week, then 50 mg. Hydroxyzine as needed for acute anxiety. "
        "Referral for CBT. Review in 4 weeks.",
        "patient_education": "Expected time course, common early side effects, not stopping abruptly, and what "
        "to do if mood worsens. Written information given.",
    },
    "bipolar2": {
        "presenting_symptoms": "Depressed for six weeks with low energy and hopelessness; past spells of "
        "decreased need for sleep, talkativeness and overspending lasting several days.",
        "symptom_duration": "Mood episodes for about 6 years",
        "functional_impact": "Missed deadlines, strain in relationship after last high period.",
        "psychiatric_history": "Previously treated for depression with an SSRI; became 'revved up'. No admissions.",
        "past_medication_trials": "Citalopram 20 mg, 6 weeks: restless, little sleep, stopped.",
        "sleep": "Sleeping 9-10 hours and napping.",
        "diagnostic_formulation": "Bipolar II disorder, current episode depressed. Nicotine dependence.",
        "treatment_plan": "Lamotrigine slow titration to 200 mg. Quetiapine 50 mg at bedtime for sleep for now. "
        "Mood chart. Smoking cessation discussed.",
        "patient_education": "Slow lamotrigine titration and rash warning explained; avoid antidepressant "
        "monotherapy; regular sleep schedule.",
    },
    "adhd": {
        "presenting_symptoms": "Lifelong inattention, losing things, procrastination, interrupting others; "
        "worry about falling behind at work.",
        "symptom_duration": "Since primary school",
        "functional_impact": "Late on projects, two warnings at work; household bills paid late.",
        "psychiatric_history": "Assessed for ADHD as a teenager but never treated. No self-harm.",
        "past_medication_trials": "None.",
        "sleep": "Goes to bed late scrolling; 6 hours.",
        "diagnostic_formulation": "ADHD, combined presentation (ASRS strongly positive, school reports reviewed), "
        "with generalised anxiety disorder.",
        "treatment_plan": "Atomoxetine 40 mg then 80 mg (non-stimulant first, patient preference). Buspirone "
        "7.5 mg twice daily for anxiety. Baseline blood pressure and pulse recorded.",
        "patient_education": "Atomoxetine takes several weeks; nausea common early; take with food.",
    },
    "ptsd": {
        "presenting_symptoms": "Nightmares several nights a week, intrusive memories, startle, avoiding driving "
        "after a road accident; irritability.",
        "symptom_duration": "Eighteen months since the accident",
        "functional_impact": "Stopped driving, relies on lifts; sleep loss affects work.",
        "psychiatric_history": "No prior treatment. Started trauma-focused therapy last month.",
        "past_medication_trials": "None.",
        "sleep": "Wakes from nightmares 3-4 nights a week, sweating; 4-5 hours.",
        "diagnostic_formulation": "Post-traumatic stress disorder, chronic, with trauma-related nightmares.",
        "treatment_plan": "Sertraline titrated to 150 mg. Prazosin titrated at bedtime for nightmares. Continue "
        "trauma-focused therapy.",
        "patient_education": "Prazosin can cause dizziness on standing, especially with the first doses.",
    },
    "panic": {
        "presenting_symptoms": "Sudden attacks of racing heart, breathlessness and fear of dying, several a "
        "week; avoids crowded shops and meetings; dreads speaking up at work.",
        "symptom_duration": "Panic attacks 3 months; social anxiety since adolescence",
        "functional_impact": "Working from home to avoid the commute; skipped a family event.",
        "psychiatric_history": "No prior psychiatric care. Cardiac work-up in the emergency department normal.",
        "past_medication_trials": "None.",
        "sleep": "Generally adequate, 7 hours, occasional night-time attack.",
        "diagnostic_formulation": "Panic disorder with social anxiety disorder.",
        "treatment_plan": "Escitalopram 5 mg, then 10 mg. Clonazepam 0.5 mg twice daily as a short bridge, "
        "with a planned taper in about a month. CBT referral.",
        "patient_education": "Clonazepam is short-term only; no alcohol with it; do not drive if drowsy.",
    },
    "trd": {
        "presenting_symptoms": "Severe low mood, no enjoyment, poor concentration and fatigue despite two "
        "previous antidepressants; anxious in the mornings.",
        "symptom_duration": "Current episode 10 months; third episode",
        "functional_impact": "On reduced hours at work; rarely leaves the house at weekends.",
        "psychiatric_history": "Three depressive episodes. Partial response to two SSRIs. No attempts.",
        "past_medication_trials": "Sertraline 150 mg, 3 months: partial response.\n"
        "Escitalopram 20 mg, 4 months: partial response, sexual side effects.",
        "sleep": "Broken sleep, early waking.",
        "diagnostic_formulation": "Major depressive disorder, recurrent, severe without psychotic features; "
        "inadequate response to two adequate SSRI trials.",
        "treatment_plan": "Venlafaxine XR titrated to 150 mg. Add bupropion XL 150 mg for energy. Review in 5 "
        "weeks; consider augmentation if partial response.",
        "patient_education": "Blood pressure checks on venlafaxine; do not miss doses (discontinuation symptoms).",
    },
    "bipolar1": {
        "presenting_symptoms": "Recovering from a manic episode treated by another service; now low, slowed and "
        "sleeping a lot.",
        "symptom_duration": "Bipolar disorder diagnosed 4 years ago; current low period 5 weeks",
        "functional_impact": "On sick leave; planning a graded return to work.",
        "psychiatric_history": "One manic episode with admission 4 years ago, another treated at home last year.",
        "past_medication_trials": "Olanzapine 10 mg, 1 year: effective, weight gain of 12 kg.",
        "sleep": "10 hours a night, hard to get up.",
        "diagnostic_formulation": "Bipolar I disorder, current episode depressed, moderate. Alcohol use "
        "reduced since last episode.",
        "treatment_plan": "Lithium, target level 0.6-0.8 mmol/L. Quetiapine 100 mg at bedtime, to taper once "
        "lithium is therapeutic. Baseline kidney, thyroid and calcium results normal.",
        "patient_education": "Lithium levels, hydration, sick-day rules and interacting medicines (NSAIDs).",
    },
    "ocd": {
        "presenting_symptoms": "Intrusive worries about contamination and harming others; washing and checking "
        "for up to three hours a day.",
        "symptom_duration": "Since teenage years, worse in the past year",
        "functional_impact": "Late for work most days because of checking; hands raw from washing.",
        "psychiatric_history": "Brief counselling at school. No self-harm.",
        "past_medication_trials": "None.",
        "sleep": "Delayed by checking rituals; 6 hours.",
        "diagnostic_formulation": "Obsessive-compulsive disorder, mixed obsessional thoughts and acts (Y-BOCS 26); "
        "insomnia.",
        "treatment_plan": "Fluoxetine titrated to 60 mg (higher doses usually needed in OCD). Mirtazapine 7.5 mg "
        "short-term for sleep. Referral for exposure and response prevention.",
        "patient_education": "OCD response takes 8-12 weeks at an adequate dose.",
    },
    "late_life": {
        "presenting_symptoms": "Low mood, poor appetite with weight loss of 4 kg, lying awake at night, feeling a "
        "burden after retirement.",
        "symptom_duration": "About 6 months",
        "functional_impact": "Stopped volunteering and seeing friends; family worried.",
        "psychiatric_history": "No previous treatment.",
        "past_medication_trials": "None.",
        "sleep": "Two hours to fall asleep; wakes at 4 am.",
        "diagnostic_formulation": "Depression with insomnia and weight loss. Cognitive screen normal (MoCA 28).",
        "treatment_plan": "Mirtazapine 7.5 mg then 15 mg at bedtime (sleep and appetite). Escitalopram 5 mg "
        "(lower start for age). Sodium check in 4 weeks.",
        "patient_education": "Falls risk at night; stand up slowly. Mood benefit takes several weeks.",
    },
}

# Short synthetic text for the most recent visit (today's, or the unsigned draft).
RECENT_VISIT = {
    "mdd_anxiety": ("Mood steady, worry down, back at the gym twice a week.", "Sustained response."),
    "bipolar2": ("Mood stable, no highs; sleeping 8 hours.", "Bipolar II in remission on lamotrigine."),
    "adhd": ("Focus better at work, finishing tasks; appetite lower at lunch.", "Good response to methylphenidate."),
    "ptsd": ("Nightmares once a week at most; driving short distances again.", "Improving PTSD."),
    "panic": ("No panic attacks this month; spoke up in two meetings.", "Panic disorder in remission."),
    "trd": ("Some enjoyment back; walking daily with a neighbour.", "Partial-to-good response."),
    "bipolar1": ("Back at work full time; mood even.", "Euthymic on lithium."),
    "ocd": ("Rituals about an hour a day; doing ERP homework.", "Improving OCD (Y-BOCS 15)."),
    "late_life": ("Eating better, back to volunteering one morning a week.", "Depression improving."),
}


@dataclass(frozen=True)
class _Variant:
    """What a demo patient's history includes beyond its clinical picture."""

    eval_offset: int  # day of the initial evaluation, as an offset from today (negative)
    today_visit: bool = False  # a signed visit today
    draft_visit: bool = False  # an unsigned visit note from two days ago
    open_report: bool = False  # a recent side-effect report nobody has acknowledged
    recent_start: bool = False  # an add-on started recently, its titration still in progress
    urgent: bool = False  # this patient's report is one of the clinic's urgent ones
    allergy: int | None = None


ALLERGIES = [
    # substance, formulary drug, reaction, severity
    ("Penicillin", None, "Hives", Allergy.Severity.MODERATE),
    ("Sulfa antibiotics", None, "Rash", Allergy.Severity.MILD),
    ("Codeine", "codeine", "Vomiting", Allergy.Severity.MILD),
    ("Haloperidol", "haloperidol", "Acute dystonia (neck spasm)", Allergy.Severity.SEVERE),
    ("Latex", None, "Itchy skin", Allergy.Severity.MILD),
    ("Ibuprofen", "ibuprofen", "Stomach bleeding", Allergy.Severity.SEVERE),
]


def _d(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


# What a visit note's score line says, e.g. "PHQ-9 14 (was 17). GAD-7 13." / "Lithium level 0.7 mmol/L".
SCORE_PATTERN = re.compile(r"\b(PHQ-9|GAD-7) (\d+)(?: \(was (\d+)\))?")
LITHIUM_PATTERN = re.compile(r"Lithium level (\d+(?:\.\d+)?) mmol/L")


def _backdate(obj, **fields) -> None:
    """Move a row's recorded timestamps back to when the scripted event happened.

    The domain functions stamp timezone.now(); without this a report from March would show
    as received today. Only timestamps are touched, never clinical content.
    """
    type(obj).objects.filter(pk=obj.pk).update(**fields)
    for name, value in fields.items():
        setattr(obj, name, value)


def _backdate_first_response(obj, when: datetime.datetime) -> None:
    """The first response a domain function just recorded (at the seed's now) moves back to
    ``when`` with the event; an earlier one already recorded stays (it is the first)."""
    type(obj).objects.filter(pk=obj.pk, first_response_at__gt=when).update(first_response_at=when)


class _Chart:
    """Writes one patient's scripted history through the domain functions."""

    def __init__(self, patient: Patient, psychiatrist: User, medications: dict[str, Medication], rng, today, now):
        self.patient = patient
        self.doc = psychiatrist
        self.meds = medications
        self.rng = rng
        self.today = today
        self.now = now
        # Patients with a portal login report for themselves; for the others, the
        # psychiatrist records what the patient said by phone.
        self.reporter = patient.user or psychiatrist
        self._to_sign: list[VisitNote] = []
        self._evaluated_at: datetime.datetime | None = None

    # -- dates

    def date(self, offset: int) -> datetime.date:
        if offset > 0:
            raise ValueError(f"Demo history is never in the future (offset {offset}).")
        return self.today + datetime.timedelta(days=offset)

    def at(self, offset: int, hour: int, minute: int = 0) -> datetime.datetime:
        moment = timezone.make_aware(datetime.datetime.combine(self.date(offset), datetime.time(hour, minute)))
        return min(moment, self.now)

    # -- chart

    def diagnose(self, code: str, onset_offset: int) -> Diagnosis:
        code = icd10.normalize(code)
        if not icd10.is_billable(code):
            raise ValueError(f"{code} is not a billable ICD-10-CM code.")
        diagnosis = Diagnosis(
            patient=self.patient,
            icd10_code=code,
            description=icd10.describe(code),
            onset_date=self.date(onset_offset),
            recorded_by=self.doc,
        )
        diagnosis.full_clean()
        diagnosis.save()
        audit.record(AuditEvent.Action.CREATE, actor=self.doc, patient=self.patient, obj=diagnosis)
        return diagnosis

    def allergy(self, index: int, offset: int) -> Allergy:
        substance, drug, reaction, severity = ALLERGIES[index % len(ALLERGIES)]
        allergy = Allergy.objects.create(
            patient=self.patient,
            medication=self.meds[drug] if drug else None,
            substance=substance,
            reaction=reaction,
            severity=severity,
            recorded_by=self.doc,
        )
        audit.record(AuditEvent.Action.CREATE, actor=self.doc, patient=self.patient, obj=allergy)
        _backdate(allergy, recorded_at=self.at(offset, 10))
        return allergy

    def outside(self, name: str, offset: int, *, dose: str = "", source: str = "", since: int | None = None):
        """A medicine from elsewhere, recorded at a visit: coded only if its name is a formulary drug."""
        row = outside.record(
            self.patient,
            OutsideMedication(
                name=name,
                dose_text=dose,
                source=source,
                start_date=self.date(since) if since is not None else None,
            ),
            by=self.doc,
        )
        _backdate(row, recorded_at=self.at(offset, 10))
        return row

    def evaluate(self, offset: int, picture: str, *, suicide_risk=LOW, rationale: str = "") -> Evaluation:
        rng = self.rng
        evaluation = Evaluation(
            patient=self.patient,
            evaluation_date=self.date(offset),
            hospitalisations=rng.choice(HOSPITALISATIONS),
            medical_history=rng.choice(MEDICAL_HISTORY),
            current_medications=rng.choice(OTHER_MEDICATIONS),
            stressors=rng.choice(STRESSORS),
            substance_use=rng.choice(SUBSTANCE_USE),
            family_history=rng.choice(FAMILY_HISTORY),
            mental_status_exam=rng.choice(MENTAL_STATUS),
            suicide_risk=suicide_risk,
            violence_risk=LOW,
            risk_rationale=rationale or rng.choice(RISK_RATIONALE),
            **EVALUATIONS[picture],
        )
        notes.save_draft(evaluation, actor=self.doc)
        notes.sign(evaluation, actor=self.doc)
        start = self.at(offset, 9)
        _backdate(evaluation, created_at=start, updated_at=start, signed_at=self.at(offset, 12))
        self._evaluated_at = start
        return evaluation

    def addendum(self, note, offset: int, text: str) -> None:
        addendum = notes.add_addendum(note, actor=self.doc, text=text)
        _backdate(addendum, created_at=self.at(offset, 16))

    def visit(
        self,
        offset: int,
        *,
        interval: str,
        assessment: str = "",
        plan: str = "",
        scores: str = "",
        side_effects_note: str = "",
        reviewed=(),
        modality=IN_PERSON,
        hour: int = 10,
        adherence=VisitNote.Adherence.AS_PRESCRIBED,
        adherence_note: str = "",
        follow_up: int | None = 6,
        sign: bool = True,
        suicide_risk=LOW,
    ) -> VisitNote:
        """A visit note, left as a draft until finish() signs the ones meant to be signed."""
        visit_at = self.at(offset, hour, 30 if offset == 0 else 0)
        visit = VisitNote(
            patient=self.patient,
            visit_at=visit_at,
            modality=modality,
            # A video visit records where the patient was (patients.notes.missing_for_signature).
            patient_location_state=DEMO_TELEHEALTH_STATE if modality == TELEHEALTH else "",
            interval_history=interval,
            adherence=adherence,
            adherence_note=adherence_note,
            side_effects_note=side_effects_note,
            symptom_scores=scores,
            assessment=assessment,
            plan=plan,
            next_follow_up_weeks=follow_up,
            mental_status_exam=self.rng.choice(MENTAL_STATUS[:3]),
            suicide_risk=suicide_risk,
            violence_risk=LOW,
            risk_rationale=self.rng.choice(RISK_RATIONALE),
        )
        notes.save_draft(visit, actor=self.doc)
        _backdate(visit, created_at=visit_at, updated_at=visit_at)
        if reviewed:
            visit.side_effects_reviewed.add(*reviewed)
        self._measures(visit, scores)
        if sign:
            self._to_sign.append(visit)
        return visit

    def _measures(self, visit: VisitNote, scores: str) -> None:
        """Store the PHQ-9/GAD-7 totals and lithium levels the note's score line names, so the
        chart's graphs and lab panel agree with what the notes say. "(was N)": the score at
        the last evaluation."""
        for code, total, before in SCORE_PATTERN.findall(scores):
            instrument = {"PHQ-9": "phq9", "GAD-7": "gad7"}[code]
            if before and self._evaluated_at is not None:
                self._score(instrument, int(before), self._evaluated_at, visit=None)
            self._score(instrument, int(total), visit.visit_at, visit=visit)
        for level in LITHIUM_PATTERN.findall(scores):
            (result,) = monitoring.record_result(
                patient=self.patient, test_code="LITHIUM", value=level, unit="mmol/L",
                collected_on=visit.visit_at.date() - datetime.timedelta(days=1), entered_by=self.doc,
            )  # fmt: skip
            _backdate(result, created_at=visit.visit_at)

    def _score(self, instrument: str, total: int, when: datetime.datetime, *, visit: VisitNote | None) -> None:
        # Item by item from the first, never the self-harm item: demo data raises no crisis alert.
        items = 8 if instrument == "phq9" else 7
        answers, left = {}, total
        for number in range(1, items + 1):
            answers[str(number)] = min(3, left)
            left -= answers[str(number)]
        if instrument == "phq9":
            answers["9"] = 0
        response = questionnaires.submit(
            patient=self.patient, instrument=instrument, answers=answers, completed_by=self.doc,
            context=QuestionnaireResponse.Context.VISIT, visit_note=visit,
        )  # fmt: skip
        _backdate(response, submitted_at=when)
        # What submit recorded as the patient's last measurement (the seed's now) moves back too.
        latest = QuestionnaireResponse.objects.filter(
            patient=self.patient, instrument__in=questionnaires.MEASUREMENT_INSTRUMENTS
        ).aggregate(at=Max("submitted_at"))["at"]
        Patient.objects.filter(pk=self.patient.pk).update(last_measured_at=latest)

    def finish(self) -> None:
        for visit in self._to_sign:
            notes.sign(visit, actor=self.doc)
            signed_at = min(visit.visit_at + datetime.timedelta(minutes=50), self.now)
            _backdate(visit, signed_at=signed_at, updated_at=signed_at)
        self._to_sign = []

    # -- prescriptions

    def _form(self, medication: Medication, form: str | None) -> dict:
        for spec in medication.forms:
            if (form is None and spec["route"] == "oral") or spec["form"] == form:
                return spec
        raise ValueError(f"{medication} has no form {form!r}.")

    def _strength(self, spec: dict, doses: list[Decimal]) -> Decimal:
        """The tablet strength that makes the doses whole (or half) tablets, preferring the first dose."""
        counts = WHOLE_COUNTS | (HALF_COUNTS if not any(word in spec["form"] for word in UNSPLITTABLE) else set())
        if "capsule" in spec["form"]:
            counts = WHOLE_COUNTS
        doses = [dose for dose in doses if dose > 0]

        def score(strength: Decimal):
            fits = [dose / strength in counts for dose in doses]
            return (fits[0], sum(fits), doses[0] == strength, strength)

        return max((_d(s) for s in spec["strengths_mg"]), key=score)

    def start(
        self,
        offset: int,
        drug: str,
        dose=None,
        *,
        steps=None,
        frequency=Frequency.DAILY,
        form: str | None = None,
        extra: str = "",
        indication: Diagnosis | None = None,
        visit: VisitNote | None = None,
        note: str = "",
    ) -> Prescription:
        medication = self.meds[drug]
        spec = self._form(medication, form)
        plan = [PlanStepInput(_d(step_dose), days) for step_dose, days in steps] if steps else None
        dose = plan[0].dose_mg if plan else _d(dose)
        strength = self._strength(spec, [step.dose_mg for step in plan] if plan else [dose])
        per_day = DOSES_PER_DAY[Frequency(frequency)]
        quantity = max(1, math.ceil(30 * per_day * dose / strength))
        refills = (
            0 if medication.dea_schedule in prescribing.NO_REFILL_SCHEDULES else 1 if medication.dea_schedule else 2
        )
        return prescribing.start_prescription(
            patient=self.patient,
            medication=medication,
            prescriber=self.doc,
            form=spec["form"],
            route=spec["route"],
            strength_mg=strength,
            dose_mg=dose,
            frequency=frequency,
            quantity=quantity,
            refills=refills,
            extra_instructions=extra,
            indication=indication,
            start_date=self.date(offset),
            note=note,
            titration_steps=plan,
            visit_note=visit,
        )

    def change(self, rx: Prescription, offset: int, dose, reason: str, note: str = "", *, frequency=None, visit=None):
        dose = _d(dose)
        spec = self._form(rx.medication, rx.form)
        return prescribing.change_dose(
            rx,
            actor=self.doc,
            dose_mg=dose,
            frequency=frequency,
            strength_mg=self._strength(spec, [dose]),
            reason=reason,
            note=note,
            effective_date=self.date(offset),
            visit_note=visit,
        )

    def _active_plan(self, rx: Prescription) -> DosePlan | None:
        return rx.plans.filter(status=DosePlan.Status.ACTIVE).first()

    def confirm(self, rx: Prescription, offset: int, *, visit=None) -> PrescriptionEvent:
        event = prescribing.confirm_next_step(
            self._active_plan(rx), actor=self.doc, effective_date=self.date(offset), visit_note=visit
        )
        rx.refresh_from_db()
        return event

    def confirm_due(self, rx: Prescription, until: int) -> None:
        """Confirm each plan step on the day it falls due, up to `until`."""
        while (plan := self._active_plan(rx)) is not None:
            due = plan.next_step_due
            if due is None or due > self.date(until):
                break
            prescribing.confirm_next_step(plan, actor=self.doc, effective_date=due)
        rx.refresh_from_db()

    def taper(self, rx: Prescription, offset: int, steps, reason: str, *, visit=None) -> PrescriptionEvent | None:
        """Start a taper; returns the first step's dose change, if it changed the dose."""
        prescribing.start_taper(
            rx,
            actor=self.doc,
            steps=[PlanStepInput(_d(dose), days) for dose, days in steps],
            stop_reason=reason,
            start_date=self.date(offset),
            visit_note=visit,
        )
        rx.refresh_from_db()
        return rx.events.filter(kind=PrescriptionEvent.Kind.DOSE_CHANGED, reason=ChangeReason.TAPER_STEP).last()

    def stop(self, rx: Prescription, offset: int, reason: str, note: str = "", *, justification="", visit=None):
        event = prescribing.discontinue(
            rx,
            actor=self.doc,
            reason=reason,
            note=note,
            effective_date=self.date(offset),
            abrupt_stop_justification=justification,
            visit_note=visit,
        )
        rx.refresh_from_db()
        return event

    # -- side-effect reports

    def report(
        self,
        rx: Prescription,
        offset: int,
        symptoms: list[str] | None = None,
        severity=SideEffectReport.Severity.MILD,
        *,
        other: str = "",
        onset_days_before: int = 2,
        ongoing: bool = True,
        urgent: bool = False,
    ) -> SideEffectReport:
        items = {item["code"]: item for item in checklists.items_for({rx.medication.drug_class})}
        if symptoms is None:
            wanted = [code for code in MILD_SYMPTOMS.get(rx.medication.generic_name, []) if code in items]
            calm = [code for code, item in items.items() if not item.get("urgent")]
            symptoms = [self.rng.choice(wanted or calm)]
        for code in symptoms:
            if code not in items:
                raise ValueError(f"{code} is not on the {rx.medication.drug_class} checklist.")
        if any(items[code].get("urgent") for code in symptoms) != urgent:
            raise ValueError(f"Symptoms {symptoms} do not match urgent={urgent}.")
        report = side_effects.submit_report(
            patient=self.patient,
            reporter=self.reporter,
            prescription=rx,
            symptoms=symptoms,
            other_symptoms=other,
            severity=severity,
            onset_date=max(self.date(offset - onset_days_before), rx.start_date),
            ongoing=ongoing,
        )
        _backdate(report, created_at=self.at(offset, 8 if urgent else 20, 15))
        return report

    def acknowledge(self, report: SideEffectReport, offset: int, hour: int = 9) -> None:
        side_effects.acknowledge(report, actor=self.doc)
        when = max(self.at(offset, hour), report.created_at)
        _backdate(report, acknowledged_at=when)
        _backdate_first_response(report, when)

    def reply(self, report: SideEffectReport, offset: int, text: str, *, event=None, hour: int = 12) -> None:
        first_look = report.acknowledged_at is None
        answer = side_effects.reply(report, actor=self.doc, text=text, resulting_event=event)
        when = max(self.at(offset, hour), report.created_at)
        # A queryset update: the reply's save() refuses changes, a seed's backdating is not one.
        _backdate(answer, created_at=when)
        _backdate(answer.thread, last_message_at=when)
        _backdate_first_response(answer.thread, when)
        _backdate_first_response(report, when)
        if first_look:
            _backdate(report, acknowledged_at=when)


# -- The two portal patients --------------------------------------------------------------


def _history_jordan(c: _Chart, v: _Variant) -> None:
    """patient@demo: depression and anxiety; escitalopram switched to a sertraline titration in progress."""
    day0 = v.eval_offset
    dep = c.diagnose("F33.1", day0 - 6 * 365)
    c.diagnose("F41.1", day0 - 3 * 365)
    c.allergy(0, day0)
    # Over the counter for headaches (coded: the checks pair it with the SSRI), and a supplement
    # the formulary does not know (uncoded: "not checked for interactions").
    c.outside("Advil", day0, dose="200-400 mg as needed for headaches", source="over the counter")
    c.outside("Ashwagandha", day0, dose="1 capsule daily", source="supplement, self-started", since=day0 - 60)
    evaluation = c.evaluate(day0, "jordan")
    c.addendum(
        evaluation,
        day0 + 2,
        "Collateral from partner by phone, with the patient's consent: confirms early waking and withdrawal "
        "over the past months; no concerns about safety at home.",
    )
    esc = c.start(day0, "escitalopram", 10, indication=dep)
    trz = c.start(day0, "trazodone", 50, frequency=QHS, indication=dep, extra="for sleep")

    v1 = c.visit(
        day0 + 28,
        modality=TELEHEALTH,
        interval="Sleeping better with trazodone. Mood slightly better, still low most afternoons; "
        "worry unchanged. Mild nausea in week one, settled.",
        scores="PHQ-9 14 (was 17). GAD-7 13.",
        assessment="Partial early response to escitalopram 10 mg.",
        plan="Increase escitalopram to 20 mg. Continue trazodone. Video follow-up in 6 weeks.",
    )
    c.change(esc, day0 + 28, 20, ChangeReason.INEFFECTIVE, "Partial response after 4 weeks at 10 mg.", visit=v1)
    sexual = c.report(esc, day0 + 40, ["sexual_problems"], other="Since the dose went up.", onset_days_before=5)
    c.acknowledge(sexual, day0 + 41)

    v2 = c.visit(
        day0 + 77,
        interval="Mood a little better at 20 mg but flat and unmotivated; sexual side effects bothering "
        "them and the relationship. Prefers to switch.",
        scores="PHQ-9 12. GAD-7 12.",
        side_effects_note="Reduced libido and delayed orgasm since escitalopram 20 mg (report reviewed).",
        reviewed=[sexual],
        assessment="Partial response with intolerable sexual side effects.",
        plan="Cross-taper: escitalopram 10 mg for a week then stop; start sertraline 25 mg and titrate to "
        "100 mg over about two months. Review in 4 weeks.",
    )
    taper_step = c.taper(esc, day0 + 77, [(10, 7), (0, None)], ChangeReason.SWITCHED, visit=v2)
    ser = c.start(
        day0 + 77,
        "sertraline",
        steps=[(25, 7), (50, 21), (75, 28), (100, None)],
        indication=dep,
        extra="with breakfast",
        visit=v2,
        note="Switch from escitalopram (sexual side effects, partial response).",
    )
    c.reply(
        sexual,
        day0 + 77,
        "Thanks for telling us about this. As we agreed today, we are lowering escitalopram to 10 mg for a week "
        "and then stopping it, while sertraline starts. Let us know how things go.",
        event=taper_step,
    )
    c.confirm(esc, day0 + 84)  # the 0 mg step: the taper completes
    c.confirm(ser, day0 + 84)  # 50 mg
    nausea = c.report(ser, day0 + 90, ["nausea", "upset_stomach"], onset_days_before=4, ongoing=False)
    c.reply(
        nausea,
        day0 + 91,
        "Nausea is common in the first week or two of sertraline and usually settles. Taking it after "
        "breakfast helps. Message us if it comes back or you cannot keep food down.",
    )
    v3 = c.visit(
        day0 + 105,
        interval="Nausea settled within a week. Mood improving; enjoying running again at weekends. "
        "Still worrying a lot at night.",
        scores="PHQ-9 9. GAD-7 10.",
        assessment="Improving on sertraline 50 mg; tolerating well.",
        plan="Next titration step to 75 mg today. Trazodone down to 25 mg (groggy mornings). Review in 4 weeks.",
    )
    c.confirm(ser, day0 + 105, visit=v3)  # 75 mg
    c.change(trz, day0 + 105, 25, ChangeReason.PATIENT_PREFERENCE, "Groggy mornings at 50 mg.", visit=v3)
    c.report(ser, -4, ["sweating"], other="Mostly at night.", onset_days_before=6)
    c.visit(
        0,
        hour=9,
        modality=TELEHEALTH,
        interval="Four weeks at 75 mg. Mood better most days; night sweats since the last increase.",
        scores="PHQ-9 7. GAD-7 8.",
        sign=False,
    )


def _history_sam(c: _Chart, v: _Variant) -> None:
    """patient2@demo: bipolar II; lamotrigine titrated, quetiapine tapered off, trazodone for sleep."""
    day0 = v.eval_offset
    bp = c.diagnose("F31.81", day0 - 9 * 365)
    anx = c.diagnose("F41.1", day0 - 4 * 365)
    c.allergy(2, day0)
    c.evaluate(day0, "sam", suicide_risk=MODERATE, rationale=RISK_RATIONALE_MODERATE)
    lam = c.start(day0, "lamotrigine", steps=[(25, 14), (50, 14), (100, 14), (200, None)], indication=bp)
    que = c.start(day0, "quetiapine", 50, frequency=QHS, indication=anx, extra="for sleep and anxiety")
    c.confirm_due(lam, day0 + 14)  # 50 mg
    v1 = c.visit(
        day0 + 28,
        modality=TELEHEALTH,
        interval="No rash. Mood still low but less hopeless. Still waking at 3 am despite quetiapine.",
        scores="PHQ-9 15. Mood chart: no elevated days.",
        assessment="Bipolar II depression, early in lamotrigine titration.",
        plan="Lamotrigine to 100 mg as planned. Quetiapine to 100 mg at bedtime. Review in 8 weeks.",
        follow_up=8,
        suicide_risk=MODERATE,
    )
    c.confirm(lam, day0 + 28, visit=v1)  # 100 mg
    c.change(que, day0 + 28, 100, ChangeReason.INEFFECTIVE, "Still waking at 3 am on 50 mg.", visit=v1)
    c.confirm_due(lam, day0 + 42)  # 200 mg: titration complete
    weight = c.report(
        que,
        day0 + 60,
        ["weight_gain_appetite", "daytime_sleepiness"],
        SideEffectReport.Severity.MODERATE,
        other="Up 3 kg in a month, snacking at night.",
        onset_days_before=14,
    )
    lower = c.change(que, day0 + 61, 50, ChangeReason.SIDE_EFFECT, "Weight gain and daytime sedation at 100 mg.")
    c.reply(
        weight,
        day0 + 61,
        "Thank you for the report. Please go back to quetiapine 50 mg at bedtime from tonight; your new "
        "prescription is at the pharmacy. We will plan to stop it once your mood has been steady for a while.",
        event=lower,
    )
    v2 = c.visit(
        day0 + 84,
        interval="Mood steady for six weeks, no highs. Weight stable since the lower quetiapine dose.",
        scores="PHQ-9 6. Mood chart: stable.",
        reviewed=[weight],
        side_effects_note="Weight gain on quetiapine 100 mg; stabilised at 50 mg.",
        assessment="Bipolar II depression remitting on lamotrigine 200 mg.",
        plan="Taper quetiapine off over two weeks. Trazodone if sleep worsens. Review in 8 weeks.",
        follow_up=8,
    )
    c.taper(que, day0 + 84, [(25, 14), (0, None)], ChangeReason.SIDE_EFFECT, visit=v2)
    c.confirm_due(que, day0 + 98)  # quetiapine stopped: taper complete
    trz = c.start(day0 + 99, "trazodone", 50, frequency=QHS, indication=anx, note="Sleep worse off quetiapine.")
    groggy = c.report(trz, day0 + 120, ["next_morning_grogginess"], onset_days_before=10)
    c.acknowledge(groggy, day0 + 121)
    c.visit(
        -30,
        interval="Sleeping 7-8 hours with trazodone; a bit groggy some mornings. Mood steady; working again.",
        scores="PHQ-9 4.",
        reviewed=[groggy],
        side_effects_note="Mild morning grogginess on trazodone; advised taking it an hour earlier.",
        assessment="Euthymic. Bipolar II disorder stable on lamotrigine.",
        plan="No changes. Follow up in 4 weeks.",
        follow_up=4,
    )
    c.visit(
        0,
        hour=11,
        interval="Routine follow-up. Mood stable, no highs or lows since last visit. Taking lamotrigine daily.",
        scores="PHQ-9 3.",
        sign=False,
    )


# -- Everyone else: a handful of clinical pictures ------------------------------------------


def _history_mdd_anxiety(c: _Chart, v: _Variant) -> dict:
    day0 = v.eval_offset
    dep = c.diagnose("F33.1", day0 - 5 * 365)
    anx = c.diagnose("F41.1", day0 - 2 * 365)
    c.evaluate(day0, "mdd_anxiety")
    ser = c.start(day0, "sertraline", steps=[(25, 7), (50, None)], indication=dep)
    hyd = c.start(day0, "hydroxyzine", 25, frequency=TID, form="tablet (hydrochloride)", extra="as needed for anxiety")
    c.confirm_due(ser, day0 + 7)
    v1 = c.visit(
        day0 + 28,
        interval="Less tearful; sleep a little better. Used hydroxyzine a few times, helpful but drowsy.",
        scores="PHQ-9 13 (was 16). GAD-7 12.",
        assessment="Partial response to sertraline 50 mg.",
        plan="Increase sertraline to 100 mg. Continue CBT.",
    )
    c.change(ser, day0 + 28, 100, ChangeReason.INEFFECTIVE, "PHQ-9 only down from 16 to 13 after 3 weeks.", visit=v1)
    report = c.report(ser, day0 + 38)
    c.acknowledge(report, day0 + 39)
    v2 = c.visit(
        day0 + 70,
        modality=TELEHEALTH,
        interval="Mood clearly better; hydroxyzine not needed for a month.",
        scores="PHQ-9 7. GAD-7 8.",
        reviewed=[report],
        side_effects_note="Mild side effect reported last month, now tolerable.",
        assessment="Responding to sertraline 100 mg.",
        plan="Stop hydroxyzine. Continue sertraline 100 mg. Review in 8 weeks.",
        follow_up=8,
    )
    c.stop(hyd, day0 + 70, ChangeReason.NO_LONGER_NEEDED, "Not used for a month.", visit=v2)
    c.reply(report, day0 + 70, "As discussed at today's visit, this often eases with time. Keep us posted.")
    return {"active": [ser], "addon": ("buspirone", [(7.5, 21), (15, None)], BID, anx)}


def _history_bipolar2(c: _Chart, v: _Variant) -> dict:
    day0 = v.eval_offset
    bp = c.diagnose("F31.81", day0 - 6 * 365)
    c.diagnose("F17.210", day0 - 10 * 365)
    c.evaluate(day0, "bipolar2")
    lam = c.start(day0, "lamotrigine", steps=[(25, 14), (50, 14), (100, 14), (200, None)], indication=bp)
    que = c.start(day0, "quetiapine", 50, frequency=QHS, indication=bp, extra="for sleep")
    c.confirm_due(lam, day0 + 16)
    report = c.report(que, day0 + 18, ["daytime_sleepiness"], onset_days_before=10)
    lower = c.change(que, day0 + 19, 25, ChangeReason.SIDE_EFFECT, "Sedated until midday on 50 mg.")
    c.reply(report, day0 + 19, "Please take 25 mg (half the dose) from tonight; new prescription sent.", event=lower)
    c.confirm_due(lam, day0 + 45)
    v1 = c.visit(
        day0 + 45,
        interval="No rash through the titration. Mood lifting; sleeping well even on the lower quetiapine dose.",
        scores="PHQ-9 9.",
        reviewed=[report],
        assessment="Bipolar II depression improving on lamotrigine 200 mg.",
        plan="Taper quetiapine off over two weeks. Continue lamotrigine. Review in 8 weeks.",
        follow_up=8,
    )
    c.taper(que, day0 + 45, [(25, 14), (0, None)], ChangeReason.NO_LONGER_NEEDED, visit=v1)
    c.confirm_due(que, day0 + 59)
    c.visit(
        day0 + 100,
        modality=TELEHEALTH,
        interval="Stable; no highs. Cut down to five cigarettes a day.",
        scores="PHQ-9 5.",
        assessment="Euthymic.",
        plan="Continue lamotrigine 200 mg. Review in 3 months.",
        follow_up=12,
    )
    return {"active": [lam], "addon": None}


def _history_adhd(c: _Chart, v: _Variant) -> dict:
    day0 = v.eval_offset
    adhd = c.diagnose("F90.2", day0 - 20 * 365)
    anx = c.diagnose("F41.1", day0 - 3 * 365)
    c.evaluate(day0, "adhd")
    ato = c.start(day0, "atomoxetine", steps=[(40, 14), (80, None)], frequency=QAM, indication=adhd)
    bus = c.start(day0, "buspirone", 7.5, frequency=BID, indication=anx)
    c.confirm_due(ato, day0 + 14)
    nausea = c.report(ato, day0 + 20, ["nausea"], onset_days_before=5)
    c.reply(nausea, day0 + 21, "Try taking atomoxetine with breakfast; nausea usually settles in a week or two.")
    v1 = c.visit(
        day0 + 42,
        interval="Nausea settled. Little change in focus or finishing tasks at 80 mg.",
        scores="ASRS part A: 5 of 6 positive (unchanged).",
        reviewed=[nausea],
        assessment="Inadequate response to atomoxetine after an adequate trial.",
        plan="Stop atomoxetine; start methylphenidate extended-release, titrating weekly-fortnightly. "
        "Blood pressure and pulse at next visit.",
    )
    c.stop(ato, day0 + 42, ChangeReason.INEFFECTIVE, "No meaningful benefit at 80 mg for 4 weeks.", visit=v1)
    mph = c.start(
        day0 + 42,
        "methylphenidate",
        steps=[(18, 7), (36, 14), (54, None)],
        frequency=QAM,
        form="extended-release tablet (OROS, e.g. Concerta)",
        indication=adhd,
        visit=v1,
    )
    c.confirm_due(mph, day0 + 70)
    appetite = c.report(mph, day0 + 72)
    c.acknowledge(appetite, day0 + 73)
    v2 = c.visit(
        day0 + 84,
        interval="Much better focus; finishing reports on time. Lunch appetite low. Still anxious before meetings.",
        scores="BP 122/78, pulse 84. GAD-7 11.",
        reviewed=[appetite],
        side_effects_note="Lower appetite at lunch; eating a larger breakfast and dinner. Weight stable.",
        assessment="Good response to methylphenidate 54 mg; residual anxiety.",
        plan="Buspirone to 15 mg twice daily. Continue methylphenidate.",
    )
    c.change(bus, day0 + 84, 15, ChangeReason.INEFFECTIVE, "Anxiety persists at 7.5 mg twice daily.", visit=v2)
    return {"active": [mph, bus], "addon": None}


def _history_ptsd(c: _Chart, v: _Variant) -> dict:
    day0 = v.eval_offset
    ptsd = c.diagnose("F43.12", day0 - 540)
    nightmares = c.diagnose("F51.5", day0 - 500)
    c.evaluate(day0, "ptsd")
    ser = c.start(day0, "sertraline", steps=[(50, 14), (100, 28), (150, None)], indication=ptsd)
    pra = c.start(
        day0, "prazosin", steps=[(1, 7), (2, 7), (4, None)], frequency=QHS, form="capsule", indication=nightmares
    )
    dizzy = c.report(pra, day0 + 5, ["dizzy_on_standing"], onset_days_before=3)
    c.reply(dizzy, day0 + 6, "Stand up slowly, especially at night, and sit on the bed edge first. Call if you faint.")
    c.confirm_due(pra, day0 + 14)
    c.confirm_due(ser, day0 + 30)
    v1 = c.visit(
        day0 + 30,
        interval="Nightmares down to twice a week. Light-headed for the first few nights on prazosin only. "
        "Panicky in crowded shops.",
        scores="PCL-5 48 (was 58).",
        reviewed=[dizzy],
        assessment="PTSD improving; nightmares responding to prazosin.",
        plan="Continue titration. Hydroxyzine as needed for acute anxiety.",
    )
    hyd = c.start(
        day0 + 30, "hydroxyzine", 25, frequency=TID, form="tablet (hydrochloride)", extra="as needed", visit=v1
    )
    c.confirm_due(ser, day0 + 45)
    sweats = c.report(ser, day0 + 62, ["sweating"], SideEffectReport.Severity.MODERATE, onset_days_before=12)
    c.acknowledge(sweats, day0 + 63)
    v2 = c.visit(
        day0 + 75,
        interval="Intrusions much less; drove to work twice. Drenching sweats since 150 mg. Hydroxyzine unused.",
        scores="PCL-5 31.",
        reviewed=[sweats],
        side_effects_note="Heavy sweating on sertraline 150 mg.",
        assessment="Good response; dose-related sweating.",
        plan="Sertraline back to 100 mg. Stop hydroxyzine.",
    )
    back = c.change(ser, day0 + 75, 100, ChangeReason.SIDE_EFFECT, "Heavy sweating at 150 mg.", visit=v2)
    c.reply(
        sweats,
        day0 + 75,
        "As agreed today: sertraline 100 mg from tomorrow. Tell us how the sweating goes.",
        event=back,
    )
    c.stop(hyd, day0 + 75, ChangeReason.NO_LONGER_NEEDED, "Not used since it was started.", visit=v2)
    return {"active": [ser, pra], "addon": None}


def _history_panic(c: _Chart, v: _Variant) -> dict:
    day0 = v.eval_offset
    panic = c.diagnose("F41.0", day0 - 100)
    social = c.diagnose("F40.10", day0 - 15 * 365)
    c.evaluate(day0, "panic")
    esc = c.start(day0, "escitalopram", steps=[(5, 7), (10, None)], indication=panic)
    clz = c.start(day0, "clonazepam", 0.5, frequency=BID, indication=panic, note="Short-term bridge; taper planned.")
    c.confirm_due(esc, day0 + 7)
    v1 = c.visit(
        day0 + 35,
        interval="Panic attacks down from five a week to one. Some yawning. Using clonazepam twice daily.",
        scores="PDSS 9 (was 17).",
        assessment="Panic disorder responding to escitalopram.",
        plan="Taper clonazepam off over four weeks as planned. Continue escitalopram 10 mg.",
    )
    c.taper(clz, day0 + 35, [(0.25, 14), (0, None)], ChangeReason.NO_LONGER_NEEDED, visit=v1)
    c.confirm_due(clz, day0 + 49)
    report = c.report(esc, day0 + 56)
    c.acknowledge(report, day0 + 57)
    v2 = c.visit(
        day0 + 90,
        modality=TELEHEALTH,
        interval="Off clonazepam without problems. No panic for a month; still avoids speaking in meetings.",
        scores="PDSS 3. LSAS 72.",
        reviewed=[report],
        assessment="Panic disorder remitted; social anxiety persists.",
        plan="Escitalopram to 20 mg for social anxiety. Continue CBT.",
    )
    c.change(esc, day0 + 90, 20, ChangeReason.INEFFECTIVE, "Social anxiety persists at 10 mg.", visit=v2)
    return {"active": [esc], "addon": ("buspirone", [(7.5, 21), (15, None)], BID, social)}


def _history_trd(c: _Chart, v: _Variant) -> dict:
    day0 = v.eval_offset
    dep = c.diagnose("F33.2", day0 - 12 * 365)
    c.diagnose("F41.1", day0 - 6 * 365)
    c.evaluate(day0, "trd")
    ven = c.start(
        day0, "venlafaxine", steps=[(37.5, 7), (75, 21), (150, None)], form="extended-release capsule", indication=dep
    )
    bup = c.start(day0, "bupropion", 150, frequency=QAM, form="extended-release tablet (24-hour, XL)", indication=dep)
    c.confirm_due(ven, day0 + 30)
    insomnia = c.report(bup, day0 + 20, ["trouble_sleeping", "anxious_agitated"], onset_days_before=10)
    c.acknowledge(insomnia, day0 + 21)
    v1 = c.visit(
        day0 + 35,
        interval="Energy a little better. Sleeping badly and jittery since starting bupropion.",
        scores="PHQ-9 18 (was 22).",
        reviewed=[insomnia],
        assessment="Partial response; bupropion not tolerated.",
        plan="Stop bupropion. Add aripiprazole 2 mg, to 5 mg after two weeks. Review in 8 weeks.",
        follow_up=8,
        suicide_risk=MODERATE,
    )
    c.stop(bup, day0 + 35, ChangeReason.SIDE_EFFECT, "Insomnia and jitteriness.", visit=v1)
    c.reply(insomnia, day0 + 35, "We stopped bupropion today as discussed; sleep should settle within a week.")
    ari = c.start(day0 + 35, "aripiprazole", steps=[(2, 14), (5, None)], indication=dep, visit=v1, note="Augmentation.")
    c.confirm_due(ari, day0 + 49)
    if v.urgent:
        restless = c.report(
            ari,
            day0 + 52,
            ["severe_restlessness_agitation"],
            SideEffectReport.Severity.SEVERE,
            other="Can't sit still, pacing at night since the increase.",
            onset_days_before=2,
            urgent=True,
        )
        c.acknowledge(restless, day0 + 52, hour=8)
        lower = c.change(ari, day0 + 52, 2, ChangeReason.SIDE_EFFECT, "Severe akathisia at 5 mg; phoned same morning.")
        c.reply(
            restless,
            day0 + 52,
            "Thank you for letting us know. As we discussed on the phone this morning, go back to 2 mg from today. "
            "If the restlessness gets worse or you feel unsafe, call the clinic or 988 at once.",
            event=lower,
            hour=9,
        )
    else:
        restless = c.report(ari, day0 + 60, ["akathisia"], onset_days_before=5)
        lower = c.change(ari, day0 + 61, 2, ChangeReason.SIDE_EFFECT, "Restless on 5 mg.")
        c.reply(restless, day0 + 61, "Please go back to 2 mg from today; new prescription sent.", event=lower)
    c.visit(
        day0 + 90,
        interval="Restlessness gone at 2 mg. Mood clearly better; reading again.",
        scores="PHQ-9 9.",
        reviewed=[restless],
        side_effects_note="Akathisia at 5 mg, resolved on 2 mg.",
        assessment="Good response to venlafaxine with low-dose aripiprazole.",
        plan="Continue. Blood pressure 128/80. Review in 8 weeks.",
        follow_up=8,
    )
    return {"active": [ven, ari], "addon": None}


def _history_bipolar1(c: _Chart, v: _Variant) -> dict:
    day0 = v.eval_offset
    bp = c.diagnose("F31.32", day0 - 4 * 365)
    c.evaluate(day0, "bipolar1")
    li = c.start(
        day0,
        "lithium",
        steps=[(300, 7), (450, None)],
        frequency=BID,
        form="capsule (carbonate)",
        indication=bp,
        note="Baseline kidney, thyroid and calcium results normal.",
    )
    que = c.start(day0, "quetiapine", 100, frequency=QHS, indication=bp)
    c.confirm_due(li, day0 + 7)
    thirst = c.report(li, day0 + 18, ["very_thirsty", "passing_lots_of_urine"], onset_days_before=7)
    c.reply(thirst, day0 + 19, "Common with lithium. Keep drinking to thirst; we'll check your level and kidneys.")
    v1 = c.visit(
        day0 + 30,
        interval="Mood lifting. Thirsty, up once at night to pass urine.",
        scores="Lithium level 0.7 mmol/L (12-hour). Creatinine normal.",
        reviewed=[thirst],
        assessment="Therapeutic lithium level; depression improving.",
        plan="Taper quetiapine off over a week. Continue lithium.",
    )
    c.taper(que, day0 + 30, [(50, 7), (0, None)], ChangeReason.NO_LONGER_NEEDED, visit=v1)
    c.confirm_due(que, day0 + 37)
    v2 = c.visit(
        day0 + 100,
        interval="Back at work. Forgets the morning lithium dose on busy days.",
        scores="Lithium level 0.6 mmol/L. TSH normal.",
        adherence=VisitNote.Adherence.MISSED_DOSES,
        adherence_note="Misses the morning dose about twice a week.",
        assessment="Euthymic; adherence better with one daily dose.",
        plan="Lithium 900 mg once at bedtime. Level in 5-7 days.",
    )
    c.change(
        li,
        day0 + 100,
        900,
        ChangeReason.PATIENT_PREFERENCE,
        "Once-nightly dosing for adherence.",
        frequency=QHS,
        visit=v2,
    )
    return {"active": [li], "addon": None}


def _history_ocd(c: _Chart, v: _Variant) -> dict:
    day0 = v.eval_offset
    ocd = c.diagnose("F42.2", day0 - 14 * 365)
    insomnia = c.diagnose("F51.01", day0 - 365)
    c.evaluate(day0, "ocd")
    flu = c.start(day0, "fluoxetine", steps=[(20, 28), (40, 28), (60, None)], form="capsule", indication=ocd)
    mir = c.start(day0, "mirtazapine", 7.5, frequency=QHS, form="tablet", indication=insomnia)
    jittery = c.report(flu, day0 + 10, ["jittery_early"], onset_days_before=7)
    c.reply(jittery, day0 + 11, "This often settles in the first few weeks. Take fluoxetine in the morning.")
    v1 = c.visit(
        day0 + 42,
        interval="Jitteriness gone. Sleeping well; washing slightly less.",
        scores="Y-BOCS 23 (was 26).",
        reviewed=[jittery],
        assessment="Early response to fluoxetine.",
        plan="Stop mirtazapine. Continue fluoxetine titration.",
    )
    c.stop(
        mir,
        day0 + 42,
        ChangeReason.NO_LONGER_NEEDED,
        visit=v1,
        justification="Lowest dose (7.5 mg) for six weeks only; a taper is not needed. Warned of brief rebound "
        "insomnia.",
    )
    c.confirm_due(flu, day0 + 60)
    v2 = c.visit(
        day0 + 90,
        interval="Rituals down to about 90 minutes a day; doing ERP homework.",
        scores="Y-BOCS 19.",
        assessment="Partial response at fluoxetine 60 mg.",
        plan="Add aripiprazole 2 mg; consider 5 mg in 3 weeks.",
    )
    ari = c.start(day0 + 90, "aripiprazole", 2, indication=ocd, visit=v2, note="Augmentation for partial response.")
    c.change(ari, day0 + 111, 5, ChangeReason.INEFFECTIVE, "No change at 2 mg after 3 weeks.")
    return {"active": [flu, ari], "addon": None}


def _history_late_life(c: _Chart, v: _Variant) -> dict:
    day0 = v.eval_offset
    dep = c.diagnose("F32.A", day0 - 180)
    insomnia = c.diagnose("F51.01", day0 - 150)
    c.evaluate(day0, "late_life")
    mir = c.start(day0, "mirtazapine", steps=[(7.5, 14), (15, None)], frequency=QHS, indication=insomnia)
    esc = c.start(day0, "escitalopram", 5, indication=dep)
    c.confirm_due(mir, day0 + 14)
    v1 = c.visit(
        day0 + 30,
        interval="Sleeping 6 hours; appetite back. Mood slightly brighter. Sodium normal.",
        scores="GDS-15 9 (was 12).",
        assessment="Partial response.",
        plan="Escitalopram to 10 mg. Continue mirtazapine 15 mg.",
    )
    c.change(esc, day0 + 30, 10, ChangeReason.INEFFECTIVE, "Partial response at 5 mg.", visit=v1)
    weight = c.report(mir, day0 + 60, ["weight_gain_appetite"], onset_days_before=20)
    lower = c.change(mir, day0 + 62, 7.5, ChangeReason.SIDE_EFFECT, "Gained 5 kg; appetite now excessive.")
    c.reply(weight, day0 + 62, "Let's go back to 7.5 mg at bedtime; sleep should stay good.", event=lower)
    c.visit(
        day0 + 95,
        modality=PHONE,
        interval="Weight steady on the lower dose. Enjoying grandchildren's visits again.",
        scores="GDS-15 5.",
        reviewed=[weight],
        assessment="Depression improving.",
        plan="Continue. Review in 8 weeks.",
        follow_up=8,
    )
    return {"active": [esc, mir], "addon": None}


PICTURES = {
    "mdd_anxiety": _history_mdd_anxiety,
    "bipolar2": _history_bipolar2,
    "adhd": _history_adhd,
    "ptsd": _history_ptsd,
    "panic": _history_panic,
    "trd": _history_trd,
    "bipolar1": _history_bipolar1,
    "ocd": _history_ocd,
    "late_life": _history_late_life,
}
PICTURE_ORDER = list(PICTURES)
ON_ANTIPSYCHOTICS = {"bipolar2", "trd", "bipolar1", "ocd"}
# Indexes into the 30 non-portal patients (even: Dr Okafor's, odd: Dr Reyes's). The clinic's
# two urgent reports: one Dr Okafor has handled ("trd"), one waiting in Dr Reyes's inbox ("adhd").
URGENT_HANDLED = 14
URGENT_OPEN = 11
TODAY_VISITS = {0, 1, 4, 7}
DRAFT_VISITS = {2, 3}
OPEN_REPORTS = {1, 4, 6, 9, 15, 20}


def _recent(c: _Chart, v: _Variant, picture: str, story: dict) -> None:
    """The last few weeks: an add-on still being titrated, a new report, and today's visit or a draft."""
    if v.recent_start and story["addon"]:
        drug, steps, frequency, indication = story["addon"]
        c.start(-c.rng.randint(10, 16), drug, steps=steps, frequency=frequency, indication=indication)
    if v.urgent and picture == "adhd":
        (stimulant,) = [rx for rx in story["active"] if rx.medication.generic_name == "methylphenidate"]
        c.report(
            stimulant,
            -1,
            ["fainting_palpitations"],
            SideEffectReport.Severity.MODERATE,
            other="Heart racing and nearly fainted at work yesterday afternoon.",
            onset_days_before=1,
            urgent=True,
        )
    elif v.open_report:
        c.report(story["active"][0], -c.rng.randint(1, 5))
    interval, assessment = RECENT_VISIT[picture]
    if v.today_visit:
        c.visit(0, hour=c.rng.choice([8, 9, 10]), interval=interval, assessment=assessment, plan="No changes.")
    elif v.draft_visit:
        c.visit(-2, hour=15, interval=interval, assessment=assessment, sign=False)


def _variant(index: int, rng: random.Random) -> _Variant:
    """Which extras each demo patient's history gets (index counts the non-portal patients)."""
    return _Variant(
        eval_offset=-rng.randint(150, 350),
        today_visit=index in TODAY_VISITS,
        draft_visit=index in DRAFT_VISITS,
        open_report=index in OPEN_REPORTS,
        recent_start=index % 2 == 0,
        urgent=index in (URGENT_HANDLED, URGENT_OPEN),
        allergy=(index // 2) % len(ALLERGIES) if index % 2 == 0 else None,
    )


def _build_history(patient: Patient, number: int, medications: dict[str, Medication], today, now) -> None:
    rng = random.Random(f"{HISTORY_SEED}-{patient.mrn}")
    chart = _Chart(patient, patient.primary_psychiatrist, medications, rng, today, now)
    if number == 1:
        _history_jordan(chart, _Variant(eval_offset=-130))
    elif number == 2:
        _history_sam(chart, _Variant(eval_offset=-210))
    else:
        index = number - len(PATIENT_USERS) - 1
        picture = PICTURE_ORDER[index % len(PICTURE_ORDER)]
        variant = _variant(index, rng)
        # No haloperidol reaction on file for patients the script puts on an antipsychotic.
        if variant.allergy is not None and not (
            picture in ON_ANTIPSYCHOTICS and ALLERGIES[variant.allergy][1] == "haloperidol"
        ):
            chart.allergy(variant.allergy, variant.eval_offset)
        story = PICTURES[picture](chart, variant)
        _recent(chart, variant, picture, story)
    chart.finish()
    _keep_up_monitoring(chart)


# Unremarkable results for the monitoring the demo keeps up with (units: each test's canonical one).
TYPICAL_RESULTS = {
    "LITHIUM": "0.7", "ANC": "3200", "WBC": "6.4", "PLATELETS": "240", "VALPROATE": "80", "CARBAMAZEPINE": "8",
    "NORTRIPTYLINE": "100", "CREATININE": "0.9", "EGFR": "95", "BUN": "14", "SODIUM": "140", "POTASSIUM": "4.2",
    "CALCIUM": "9.4", "TSH": "1.8", "ALT": "22", "AST": "20", "GLUCOSE_FASTING": "88", "HBA1C": "5.2",
    "CHOLESTEROL_TOTAL": "178", "LDL_C": "98", "HDL_C": "56", "TRIGLYCERIDES": "110", "WEIGHT": "72",
    "BMI": "23.5", "WAIST": "84", "BP": "118/76", "HR": "74", "QTC": "418",
}  # fmt: skip
# Monitoring that fell due in the last five weeks is left open, so the due lists have something real.
MONITORING_LEFT_OPEN_DAYS = 35


def _keep_up_monitoring(chart: _Chart) -> None:
    """Take each monitoring test when it falls due, week by week over the patient's history."""
    patient, today = chart.patient, chart.today
    first_start = patient.prescriptions.order_by("start_date").values_list("start_date", flat=True).first()
    if first_start is None:
        return
    day = first_start
    while day <= today - datetime.timedelta(days=MONITORING_LEFT_OPEN_DAYS):
        for due in monitoring.due_items(patient, today=day):
            code = due.item.test if due.item.test not in ("SBP", "DBP") else "BP"
            if not due.is_open or code not in TYPICAL_RESULTS:
                continue
            test = monitoring.rules().tests.get(code)
            unit = test.unit if test is not None else "mmHg"
            results = monitoring.record_result(
                patient=patient, test_code=code, value=TYPICAL_RESULTS[code], unit=unit, collected_on=day,
                entered_by=chart.doc,
            )  # fmt: skip
            for result in results:
                _backdate(result, created_at=chart.at((day - today).days, 11))
        day += datetime.timedelta(days=7)


def seed_histories(patients: list[Patient]) -> int:
    """Give each demo patient without an evaluation yet a synthetic history. Returns how many."""
    medications = {m.generic_name: m for m in Medication.objects.filter(generic_name__in=DEMO_DRUGS)}
    missing = set(DEMO_DRUGS) - set(medications)
    if missing:
        raise RuntimeError(f"The formulary is missing {sorted(missing)}; run the migrations first.")
    today, now = timezone.localdate(), timezone.now()
    built = 0
    for patient in patients:
        if patient.evaluations.exists() or patient.primary_psychiatrist is None:
            continue
        number = int(patient.mrn.removeprefix(DEMO_MRN_PREFIX))
        _build_history(patient, number, medications, today, now)
        built += 1
    return built


@transaction.atomic
def seed() -> dict[str, int]:
    staff = {spec.email: _upsert_user(spec) for spec in STAFF}
    psychiatrists = [u for u in staff.values() if u.role == User.Role.PSYCHIATRIST]
    patients = []
    for number, (spec, psychiatrist_email, dob) in enumerate(PATIENT_USERS, start=1):
        user = _upsert_user(spec)
        patients.append(
            _upsert_patient(
                f"{DEMO_MRN_PREFIX}{number:04d}",
                user=user,
                legal_first_name=spec.first_name,
                legal_last_name=spec.last_name,
                date_of_birth=dob,
                email=spec.email,
                primary_psychiatrist=staff[psychiatrist_email],
            )
        )
    for index in range(EXTRA_PATIENTS):
        number = len(PATIENT_USERS) + index + 1
        patients.append(
            _upsert_patient(
                f"{DEMO_MRN_PREFIX}{number:04d}",
                legal_first_name=FIRST_NAMES[index % len(FIRST_NAMES)],
                legal_last_name=LAST_NAMES[(index * 7) % len(LAST_NAMES)],
                date_of_birth=datetime.date(1950 + (index * 3) % 55, 1 + index % 12, 1 + (index * 5) % 28),
                primary_psychiatrist=psychiatrists[index % len(psychiatrists)],
            )
        )
    histories = seed_histories(patients)
    appointments = seed_schedule(psychiatrists, patients, staff["admin@demo.titrate.test"])
    # The psychiatrist home's due lists: _backdate moves dates with update(), which sends no signal.
    due_lists.rebuild()
    sync_note_signed()
    return {
        "users": User.objects.filter(email__endswith=f"@{DEMO_DOMAIN}").count(),
        "patients": Patient.objects.filter(mrn__startswith=DEMO_MRN_PREFIX).count(),
        "histories": histories,
        "appointments": appointments,
    }


def seed_schedule(psychiatrists: list[User], patients: list[Patient], booked_by: User) -> int:
    """Weekday hours for the demo psychiatrists and an upcoming follow-up for each patient.

    Future visits go through the booking module (so their reminders are planned); one visit
    already held this morning is recorded directly as completed with its note still to write.
    """
    if Appointment.objects.filter(psychiatrist__in=psychiatrists).exists():
        return 0
    for psychiatrist in psychiatrists:
        for weekday in range(5):
            WeeklyAvailability.objects.get_or_create(
                psychiatrist=psychiatrist,
                weekday=weekday,
                start_time=datetime.time(9),
                end_time=datetime.time(17),
            )
    follow_up, _ = AppointmentType.objects.get_or_create(
        name="Follow-up visit",
        defaults={"duration_minutes": 30, "patient_bookable": True, "reminder_offsets_hours": [48, 2]},
    )
    today = timezone.localdate()
    booked = 0
    for index, patient in enumerate(patients):
        psychiatrist = patient.primary_psychiatrist
        first_day = today + datetime.timedelta(days=2 + index % 18)
        free = slots.free_slots(
            psychiatrist, follow_up, first_day, first_day + datetime.timedelta(days=7), patient=patient
        )
        if free:
            booking.book(
                patient=patient,
                psychiatrist=psychiatrist,
                appointment_type=follow_up,
                start=free[(index * 3) % len(free)][0],
                booked_by=booked_by,
            )
            booked += 1
    for psychiatrist in psychiatrists:
        patient = next(p for p in patients if p.primary_psychiatrist_id == psychiatrist.pk and p.user_id is None)
        tz = psychiatrist.zone
        start = datetime.datetime.combine(today - datetime.timedelta(days=1), datetime.time(9), tzinfo=tz)
        Appointment.objects.create(
            patient=patient,
            psychiatrist=psychiatrist,
            appointment_type=follow_up,
            start=start,
            end=start + follow_up.duration,
            status=Appointment.Status.COMPLETED,
            booked_by=booked_by,
        )
    return booked
