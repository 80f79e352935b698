"""What the patient chart reads: one named selector per part, so the view checks access, calls
these and renders. 8 queries on PostgreSQL whatever the history, one more with an active plan
(tests/patients/test_chart.py).

The patient comes through ``clinic.access.get_patient_for`` with ``with_lists`` as its ``read``:
the scope check and the patient's lists are one query. Every other selector takes that patient.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from clinic.models import User
from medications.models import (
    AdherenceAnswer,
    AdherenceCheckIn,
    Allergy,
    DosePlan,
    DosePlanStep,
    LabResult,
    Medication,
    OutsideMedication,
    Prescription,
    PrescriptionEvent,
    SideEffectReport,
)
from patients.models import (
    CareContact,
    Diagnosis,
    Evaluation,
    Patient,
    QuestionnaireAssignment,
    QuestionnaireResponse,
    VisitNote,
)
from patients.rows import attach, instances, json_rows

# What the chart reads of each list it takes as JSON (timeline, header, care team, scores panel,
# regimen checks); tests/patients/test_chart.py fills every panel and pins the query count, so a
# field read but missing here (a deferred load per row) fails it.
NAME = ["first_name", "last_name", "email", "credentials"]  # User.display_name
EVALUATION = ["patient_id", "author_id", "status", "evaluation_date", "created_at", "presenting_symptoms"]
VISIT = ["patient_id", "author_id", "status", "visit_at", "modality", "assessment", "interval_history"]
DIAGNOSIS = ["patient_id", "icd10_code", "description", "status", "onset_date", "resolved_date", "recorded_at"]
CONTACT = ["patient_id", "kind", "name", "organisation", "consent_to_share"]
REQUEST = ["patient_id", "instrument", "due_on", "reason", "status"]
ADHERENCE = ["check_in_id", "prescription_id", "missed_days", "reasons"]
RESPONSE = [
    "patient_id", "instrument", "total", "band", "triage_level", "previous_total", "worsened",
    "worsening_reason", "submitted_at",
]  # fmt: skip


# The record's medication lists are read whole (every column): the regimen checks, the due
# monitoring, the score charts and the timeline each read different fields of them.
def _all(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if not f.primary_key]


PRESCRIPTION, PLAN, EVENT, REPORT, LAB, ALLERGY, OUTSIDE, MEDICATION = (
    _all(model)
    for model in (
        Prescription, DosePlan, PrescriptionEvent, SideEffectReport, LabResult, Allergy, OutsideMedication, Medication
    )
)  # fmt: skip


def with_lists(scope: QuerySet[Patient]) -> QuerySet[Patient]:
    """The scoped patients with their psychiatrist and fifteen lists as JSON array columns
    (patients.rows): care team, evaluations, visits, diagnoses, active contacts, open
    questionnaires, scores, prescriptions, active plans, prescription events, side-effect reports,
    lab results, active allergies, active outside medications and adherence answers. Six of them
    were a query each (~1-1.7 ms of ORM work apiece on the bench data, the prescriptions with their
    medicine and prescriber ~2.5 ms, issue 15); as columns of the patient's row they cost
    ~0.2-0.8 ms each to rebuild."""
    return scope.select_related("primary_psychiatrist").annotate(
        care_team_rows=json_rows("chart.care_team", Patient.care_team.through.objects, [], user=NAME),
        evaluation_rows=json_rows("chart.evaluations", Evaluation.objects, EVALUATION, author=NAME),
        visit_rows=json_rows("chart.visits", VisitNote.objects, VISIT, author=NAME),
        diagnosis_rows=json_rows("chart.diagnoses", Diagnosis.objects, DIAGNOSIS),
        contact_rows=json_rows("chart.contacts", CareContact.objects.filter(is_active=True), CONTACT),
        request_rows=json_rows("chart.requests", QuestionnaireAssignment.objects.open(), REQUEST),
        response_rows=json_rows("chart.responses", QuestionnaireResponse.objects, RESPONSE),
        prescription_rows=json_rows(
            "chart.prescriptions", Prescription.objects, PRESCRIPTION, medication=MEDICATION, prescriber=NAME
        ),
        plan_rows=json_rows(
            "chart.plans",
            DosePlan.objects.filter(status=DosePlan.Status.ACTIVE),
            PLAN,
            patient="prescription__patient",
        ),
        event_rows=json_rows(
            "chart.events", PrescriptionEvent.objects, EVENT, patient="prescription__patient", actor=NAME
        ),
        report_rows=json_rows("chart.reports", SideEffectReport.objects, REPORT),
        lab_rows=json_rows("chart.labs", LabResult.objects, LAB),
        allergy_rows=json_rows(
            "chart.allergies", Allergy.objects.filter(is_active=True), ALLERGY, medication=MEDICATION
        ),
        outside_rows=json_rows(
            "chart.outside", OutsideMedication.objects.filter(stopped_on__isnull=True), OUTSIDE, medication=MEDICATION
        ),
        # Patient-reported adherence (issue 20): a few answers a week, for the chart's trend.
        adherence_rows=json_rows(
            "chart.adherence",
            AdherenceAnswer.objects,
            ADHERENCE,
            patient="check_in__patient",
            check_in=["submitted_at", "days"],
        ),
    )


def prescriptions(patient: Patient) -> list[Prescription]:
    """From ``with_lists``: every prescription (active first, by medicine, newest start first,
    as Prescription orders them) with its medicine, prescriber and active plans
    (``active_plans``); the plans' steps, in order, are one query when there is an active plan."""
    rows = instances(Prescription, patient.prescription_rows, medication=Medication, prescriber=User)
    rows.sort(key=lambda rx: (rx.status, rx.medication.generic_name, -rx.start_date.toordinal()))
    plans = instances(DosePlan, patient.plan_rows)
    if plans:
        prefetch_related_objects(plans, Prefetch("steps", queryset=DosePlanStep.objects.order_by("position")))
    plans.sort(key=lambda plan: (plan.created_at, plan.pk), reverse=True)
    attach(plans, "prescription", rows)
    for rx in rows:
        rx.active_plans = [plan for plan in plans if plan.prescription_id == rx.pk]
    return rows


def prescription_events(patient: Patient) -> list[PrescriptionEvent]:
    """From ``with_lists``: in PrescriptionEvent's ordering, with their actor's name."""
    events = instances(PrescriptionEvent, patient.event_rows, actor=User)
    events.sort(key=lambda e: (e.effective_date, e.created_at, e.pk))
    return events


def side_effect_reports(patient: Patient) -> list[SideEffectReport]:
    """From ``with_lists``: newest first, as SideEffectReport orders them."""
    reports = instances(SideEffectReport, patient.report_rows)
    reports.sort(key=lambda r: (r.created_at, r.pk), reverse=True)
    return reports


def lab_results(patient: Patient) -> list[LabResult]:
    """From ``with_lists``: newest first, as LabResult orders them."""
    results = instances(LabResult, patient.lab_rows)
    results.sort(key=lambda r: (r.collected_on, r.created_at, r.pk), reverse=True)
    return results


def allergies(patient: Patient) -> list[Allergy]:
    """From ``with_lists``: the active ones by substance (codepoint order), with their medicine."""
    return sorted(instances(Allergy, patient.allergy_rows, medication=Medication), key=lambda a: (a.substance, a.pk))


def outside_medications(patient: Patient) -> list[OutsideMedication]:
    """From ``with_lists``: the active ones by name (codepoint order), with their medicine if coded."""
    rows = instances(OutsideMedication, patient.outside_rows, medication=Medication)
    return sorted(rows, key=lambda o: (o.name, o.pk))


def adherence_answers(patient: Patient, prescriptions: list[Prescription]) -> list[AdherenceAnswer]:
    """From ``with_lists``: the patient-reported adherence answers, oldest check-in first, each
    with its check-in and its prescription (from ``prescriptions``, with their medicine)."""
    answers = instances(AdherenceAnswer, patient.adherence_rows, check_in=AdherenceCheckIn)
    attach(answers, "prescription", prescriptions)
    answers.sort(key=lambda a: (a.check_in.submitted_at, a.check_in_id, a.pk))
    return answers
