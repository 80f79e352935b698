"""The demo clinic `manage.py seed_demo` builds: seeded once for this module (conftest's demo_clinic),
since every test here only reads it or changes it inside its own rolled-back transaction. Its
refusal of a database holding real users is in test_seed_demo_refusal.py, on an empty database."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clinic.models import User
from demo.seed import DEMO_PASSWORD
from medications.models import (
    Allergy,
    DosePlan,
    DosePlanStep,
    OutsideMedication,
    Prescription,
    PrescriptionEvent,
    SideEffectReport,
)
from patients import icd10
from patients.models import Addendum, Diagnosis, Evaluation, Patient, VisitNote
from tests.helpers import caseload_facts_against_the_records, first_responses_against_the_messages
from tests.totp import totp_code

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_clinic")]

HISTORY_MODELS = (
    Evaluation,
    VisitNote,
    Prescription,
    PrescriptionEvent,
    DosePlan,
    DosePlanStep,
    SideEffectReport,
    Diagnosis,
    Allergy,
    Addendum,
    OutsideMedication,
)
DEMO_PSYCHIATRISTS = ("psychiatrist@demo.titrate.test", "psychiatrist2@demo.titrate.test")


def counts():
    return (User.objects.count(), Patient.objects.count(), Authenticator.objects.count())


def test_seed_creates_the_published_logins():
    assert counts()[:2] == (5, 32)
    roles = dict(User.objects.values_list("email", "role"))
    assert roles == {
        "psychiatrist@demo.titrate.test": "psychiatrist",
        "psychiatrist2@demo.titrate.test": "psychiatrist",
        "admin@demo.titrate.test": "clinic_admin",
        "patient@demo.titrate.test": "patient",
        "patient2@demo.titrate.test": "patient",
    }
    one = Patient.objects.get(user__email="patient@demo.titrate.test")
    two = Patient.objects.get(user__email="patient2@demo.titrate.test")
    assert one.primary_psychiatrist != two.primary_psychiatrist
    assert Patient.objects.filter(user=None).count() == 30


def test_demo_psychiatrist_logs_in_with_the_readme_totp_secret(client):
    client.post(reverse("account_login"), {"login": "psychiatrist@demo.titrate.test", "password": DEMO_PASSWORD})
    client.post(reverse("mfa_authenticate"), {"code": totp_code("JBSWY3DPEHPK3PXP")})

    assert client.get(reverse("psychiatrist_home")).status_code == 200


# -- Clinical histories -----------------------------------------------------------------


def history_counts():
    return {model.__name__: model.objects.count() for model in HISTORY_MODELS}


def test_seeding_again_duplicates_nothing():
    first = (counts(), history_counts())
    call_command("seed_demo", stdout=StringIO())

    assert (counts(), history_counts()) == first
    assert first[1]["Evaluation"] == 32


def test_every_demo_patient_has_a_clinical_history():
    today = timezone.localdate()
    for patient in Patient.objects.all():
        evaluations = patient.evaluations.all()
        assert any(e.is_signed for e in evaluations), patient
        assert all(90 <= (today - e.evaluation_date).days <= 366 for e in evaluations), patient
        assert 1 <= patient.diagnoses.active().count() <= 3, patient
        assert 2 <= patient.prescriptions.count() <= 4, patient
        assert patient.prescriptions.active().exists(), patient
        events = PrescriptionEvent.objects.filter(prescription__patient=patient)
        assert events.filter(kind=PrescriptionEvent.Kind.DOSE_CHANGED).exists(), patient
        assert DosePlan.objects.filter(prescription__patient=patient, kind=DosePlan.Kind.TITRATION).exists(), patient
        assert not events.filter(effective_date__gt=today).exists(), patient
        assert 1 <= patient.visit_notes.count() <= 4, patient
        assert patient.side_effect_reports.count() <= 3, patient

    assert all(icd10.is_billable(code) for code in Diagnosis.objects.values_list("icd10_code", flat=True))
    assert Prescription.objects.filter(status=Prescription.Status.DISCONTINUED).exists()
    assert DosePlan.objects.filter(kind=DosePlan.Kind.TAPER, status=DosePlan.Status.COMPLETED).exists()
    assert PrescriptionEvent.objects.filter(kind=PrescriptionEvent.Kind.DOSE_CHANGED, visit_note__isnull=False).exists()
    assert 1 <= SideEffectReport.objects.filter(is_urgent=True).count() <= 2
    assert SideEffectReport.objects.filter(resulting_event__kind=PrescriptionEvent.Kind.DOSE_CHANGED).exists()


def test_portal_patient_is_partway_through_a_sertraline_titration(client):
    patient = Patient.objects.get(user__email="patient@demo.titrate.test")
    sertraline = patient.prescriptions.active().get(medication__generic_name="sertraline")
    plan = sertraline.plans.get(status=DosePlan.Status.ACTIVE, kind=DosePlan.Kind.TITRATION)
    steps = plan.ordered_steps

    assert (steps[0].dose_mg, steps[-1].dose_mg) == (25, 100)
    assert plan.current_step.dose_mg == sertraline.dose_mg < 100
    assert plan.next_step is not None and plan.next_step.started_on is None
    reports = list(patient.side_effect_reports.all())
    assert any(r.replies.exists() for r in reports) and any(not r.replies.exists() for r in reports)

    client.post(reverse("account_login"), {"login": "patient@demo.titrate.test", "password": DEMO_PASSWORD})
    assert client.get(reverse("patient_home")).status_code == 200


def test_side_effect_reports_with_and_without_replies():
    # Replies are the care team's messages in the report's thread (issue 20).
    assert SideEffectReport.objects.filter(thread__messages__from_patient=False).exists()
    assert SideEffectReport.objects.filter(thread__isnull=True).exists()
    assert SideEffectReport.objects.filter(acknowledged_at__isnull=True).exists()


def test_the_metrics_facts_are_those_of_the_backdated_history():
    """The seed moves what the domain functions stamp back to when the scripted events happened:
    the facts they record for the clinic metrics (first responses, last measured, first overdue
    days) must move with them, or the demo's metrics would count every reply as made today."""
    assert SideEffectReport.objects.filter(first_response_at__isnull=False).exists()
    assert first_responses_against_the_messages() == ({}, {})
    assert caseload_facts_against_the_records() == {}


def test_each_demo_psychiatrist_has_an_unsigned_note_and_a_visit_today():
    day_start = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time.min))
    for email in DEMO_PSYCHIATRISTS:
        visits = VisitNote.objects.filter(author__email=email)

        assert visits.filter(status=VisitNote.Status.DRAFT).exists(), email
        assert visits.filter(visit_at__gte=day_start, visit_at__lt=day_start + datetime.timedelta(days=1)).exists()


def test_scores_and_lithium_levels_match_what_the_notes_say():
    from medications.models import LabResult
    from patients.models import QuestionnaireResponse

    patient = Patient.objects.get(user__email="patient@demo.titrate.test")
    phq9 = list(
        QuestionnaireResponse.objects.filter(patient=patient, instrument="phq9")
        .order_by("submitted_at")
        .values_list("total", flat=True)
    )
    assert phq9 == [17, 14, 12, 9, 7]  # "PHQ-9 14 (was 17)", 12, 9, 7 in Jordan's notes
    assert not QuestionnaireResponse.objects.exclude(triage_level="routine").exists()  # no crisis in demo data
    for response in QuestionnaireResponse.objects.filter(visit_note__isnull=False).select_related("visit_note"):
        assert response.submitted_at == response.visit_note.visit_at
        assert response.total == int(
            response.visit_note.symptom_scores.split(response.get_instrument_display())[1].split()[0].strip(".,")
        )
    levels = LabResult.objects.filter(test_code="LITHIUM")
    assert levels.exists() and all(result.flag == "normal" for result in levels)
