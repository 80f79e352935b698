"""What the patient chart reads: one named selector per part, so the view checks access, calls
these and renders. 15 queries on PostgreSQL whatever the history (tests/patients/test_chart.py).

The patient comes through ``clinic.access.get_patient_for`` with ``with_lists`` as its ``read``:
the scope check and the seven short lists are one query. Every other selector takes that patient.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from medications.models import DosePlan, DosePlanStep, LabResult, Prescription, PrescriptionEvent, SideEffectReport
from patients.models import (
    Allergy,
    CareContact,
    Diagnosis,
    Evaluation,
    Patient,
    QuestionnaireAssignment,
    QuestionnaireResponse,
    VisitNote,
)
from patients.rows import json_rows

# What the chart reads of each list it takes as JSON (timeline, header, care team, scores panel,
# regimen checks); tests/patients/test_chart.py fills every panel and pins the query count, so a
# field read but missing here (a deferred load per row) fails it.
NAME = ["first_name", "last_name", "email", "credentials"]  # User.display_name
EVALUATION = ["patient_id", "author_id", "status", "evaluation_date", "created_at", "presenting_symptoms"]
VISIT = ["patient_id", "author_id", "status", "visit_at", "modality", "assessment", "interval_history"]
DIAGNOSIS = ["patient_id", "icd10_code", "description", "status", "onset_date", "resolved_date", "recorded_at"]
CONTACT = ["patient_id", "kind", "name", "organisation", "consent_to_share"]
REQUEST = ["patient_id", "instrument", "due_on", "reason", "status"]
RESPONSE = [
    "patient_id", "instrument", "total", "band", "triage_level", "previous_total", "worsened",
    "worsening_reason", "submitted_at",
]  # fmt: skip


def with_lists(scope: QuerySet[Patient]) -> QuerySet[Patient]:
    """The scoped patients with their psychiatrist and seven short lists as JSON array columns
    (patients.rows): care team, evaluations, visits, diagnoses, active contacts, open
    questionnaires and scores."""
    return scope.select_related("primary_psychiatrist").annotate(
        care_team_rows=json_rows("chart.care_team", Patient.care_team.through.objects, [], user=NAME),
        evaluation_rows=json_rows("chart.evaluations", Evaluation.objects, EVALUATION, author=NAME),
        visit_rows=json_rows("chart.visits", VisitNote.objects, VISIT, author=NAME),
        diagnosis_rows=json_rows("chart.diagnoses", Diagnosis.objects, DIAGNOSIS),
        contact_rows=json_rows("chart.contacts", CareContact.objects.filter(is_active=True), CONTACT),
        request_rows=json_rows("chart.requests", QuestionnaireAssignment.objects.open(), REQUEST),
        response_rows=json_rows("chart.responses", QuestionnaireResponse.objects, RESPONSE),
    )


def prescriptions(patient: Patient) -> list[Prescription]:
    """Every prescription (active first, by medicine, newest start first) with its medicine,
    prescriber, active plans (``active_plans``) and their steps in order: three queries."""
    steps = Prefetch("steps", queryset=DosePlanStep.objects.order_by("position"))
    active_plans = DosePlan.objects.filter(status=DosePlan.Status.ACTIVE).prefetch_related(steps)
    return list(
        Prescription.objects.filter(patient=patient)
        .select_related("medication", "prescriber")
        .prefetch_related(Prefetch("plans", queryset=active_plans, to_attr="active_plans"))
        .order_by("status", "medication__generic_name", "-start_date")
    )


def prescription_events(patient: Patient) -> list[PrescriptionEvent]:
    return list(PrescriptionEvent.objects.filter(prescription__patient=patient).select_related("actor"))


def side_effect_reports(patient: Patient) -> list[SideEffectReport]:
    return list(SideEffectReport.objects.filter(patient=patient))


def lab_results(patient: Patient) -> list[LabResult]:
    return list(LabResult.objects.filter(patient=patient))


def allergies(patient: Patient) -> list[Allergy]:
    return list(Allergy.objects.filter(patient=patient, is_active=True).select_related("medication"))
