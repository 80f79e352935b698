"""Every form a psychiatrist fills, fuzzed through its view (tests/fuzz/harness.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.forms import VisitNoteForm
from medications import outside
from medications.forms import (
    ChangeDoseForm,
    DiscontinueForm,
    OutsideMedicationForm,
    PlanStepFormSet,
    PregnancyStatusForm,
    PrescriptionStartForm,
    ReplyForm,
    SafetyReviewForm,
    SideEffectReportForm,
)
from medications.lab_forms import LabResultForm
from medications.models import (
    Allergy,
    LabResult,
    OutsideMedication,
    Prescription,
    PrescriptionEvent,
    SideEffectReport,
)
from patients import instruments
from patients.forms import AddendumForm, AllergyForm, CareContactForm, DiagnosisForm, EvaluationForm
from patients.measure_forms import AssignForm, QuestionnaireForm
from patients.models import Addendum, CareContact, Diagnosis, Evaluation, Patient, VisitNote
from patients.models import QuestionnaireAssignment as Assignment
from patients.models import QuestionnaireResponse as Response
from tests import clinical_world, factories
from tests.fuzz import harness
from tests.fuzz.cases import BAD_DOSES, BAD_STRENGTHS, auto_baseline, management, row, snapshot
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(patient, psychiatrist):
    return clinical_world.build(patient, psychiatrist)


@pytest.fixture
def signed_in(client, psychiatrist):
    log_in(client, psychiatrist)
    return client


def _url(name, *args):
    return reverse(name, args=args)


def _latest(model, **filters):
    return lambda: row(model.objects.filter(**filters).order_by("-pk").first())


def test_evaluation_create(signed_in, world):
    patient = world.patient
    fields = harness.form_fields(EvaluationForm())
    harness.run(signed_in, harness.Case(
        name="EvaluationForm (new)", share=0.5, url=_url("patients:evaluation_create", patient.pk), fields=fields,
        baseline=auto_baseline(fields, suicide_risk="low", violence_risk="low"),
        snapshot=lambda: snapshot(Evaluation.objects.all()), stored=_latest(Evaluation),
        render_url=lambda: _url("patients:evaluation_detail", patient.pk, Evaluation.objects.latest("pk").pk),
    ))  # fmt: skip


def test_evaluation_edit(signed_in, world):
    ev = world.evaluation
    fields = harness.form_fields(EvaluationForm(instance=ev))
    harness.run(signed_in, harness.Case(
        name="EvaluationForm (edit)", share=0.5, url=_url("patients:evaluation_edit", ev.patient_id, ev.pk),
        fields=fields,
        baseline=auto_baseline(fields, presenting_symptoms="Low mood.", suicide_risk="low", violence_risk="low"),
        snapshot=lambda: snapshot(Evaluation.objects.filter(pk=ev.pk)), stored=_latest(Evaluation, pk=ev.pk),
        render_url=lambda: _url("patients:evaluation_detail", ev.patient_id, ev.pk),
    ))  # fmt: skip


def test_evaluation_addendum(signed_in, world, psychiatrist):
    ev = factories.evaluation(world.patient, psychiatrist, signed=True)
    fields = harness.form_fields(AddendumForm())
    harness.run(signed_in, harness.Case(
        name="AddendumForm (evaluation)", share=0.5, url=_url("patients:evaluation_addendum", ev.patient_id, ev.pk),
        fields=fields, baseline={"text": "Corrected the dose history."},
        snapshot=lambda: snapshot(Addendum.objects.all()), stored=_latest(Addendum), refusal_status=(302,),
        render_url=lambda: _url("patients:evaluation_detail", ev.patient_id, ev.pk),
    ))  # fmt: skip


def test_visit_addendum(signed_in, world, psychiatrist):
    visit = factories.visit(world.patient, psychiatrist, signed=True)
    fields = harness.form_fields(AddendumForm())
    harness.run(signed_in, harness.Case(
        name="AddendumForm (visit)", share=0.5, url=_url("appointments:visit_addendum", visit.patient_id, visit.pk),
        fields=fields, baseline={"text": "Late entry: called pharmacy."},
        snapshot=lambda: snapshot(Addendum.objects.all()), stored=_latest(Addendum), refusal_status=(302,),
        render_url=lambda: _url("appointments:visit_detail", visit.patient_id, visit.pk),
    ))  # fmt: skip


def test_diagnosis_create(signed_in, world):
    patient = world.patient
    fields = harness.form_fields(DiagnosisForm(patient=patient))
    harness.run(signed_in, harness.Case(
        name="DiagnosisForm", url=_url("patients:diagnosis_create", patient.pk), fields=fields,
        baseline={"icd10_code": "F41.1", "onset_date": "2024-03-01"},
        snapshot=lambda: snapshot(Diagnosis.objects.all()), stored=_latest(Diagnosis),
        render_url=lambda: _url("patients:chart", patient.pk),
    ))  # fmt: skip


def test_allergy_create(signed_in, world):
    patient = world.patient
    fields = harness.form_fields(AllergyForm())
    harness.run(signed_in, harness.Case(
        name="AllergyForm", url=_url("patients:allergy_create", patient.pk), fields=fields,
        baseline={"substance": "Latex", "severity": "mild"},
        snapshot=lambda: snapshot(Allergy.objects.all()), stored=_latest(Allergy),
        render_url=lambda: _url("patients:chart", patient.pk),
    ))  # fmt: skip


def test_outside_medication_create(signed_in, world):
    patient = world.patient
    fields = harness.form_fields(OutsideMedicationForm(patient=patient))
    harness.run(signed_in, harness.Case(
        name="OutsideMedicationForm", url=_url("medications:outside_create", patient.pk), fields=fields,
        baseline={"name": "Advil", "dose_text": "200 mg as needed", "source": "over the counter"},
        snapshot=lambda: snapshot(OutsideMedication.objects.all()), stored=_latest(OutsideMedication),
        render_url=lambda: _url("patients:chart", patient.pk),
    ))  # fmt: skip


def test_care_contact_create(signed_in, world):
    patient = world.patient
    fields = harness.form_fields(CareContactForm())
    harness.run(signed_in, harness.Case(
        name="CareContactForm", url=_url("patients:care_contact_create", patient.pk), fields=fields,
        baseline={"kind": "therapist", "name": "Dr Lee", "organisation": "Harbor Counselling"},
        snapshot=lambda: snapshot(CareContact.objects.all()), stored=_latest(CareContact),
        render_url=lambda: _url("patients:chart", patient.pk),
    ))  # fmt: skip


def test_questionnaire_assign(signed_in, world):
    patient = world.patient
    fields = harness.form_fields(AssignForm())
    harness.run(signed_in, harness.Case(
        name="AssignForm", url=_url("patients:questionnaire_list", patient.pk), fields=fields,
        baseline={"instrument": "phq9", "due_on": timezone.localdate().isoformat()},
        snapshot=lambda: snapshot(Assignment.objects.all()),
        render_url=lambda: _url("patients:questionnaire_list", patient.pk),
    ))  # fmt: skip


PHQ_OUT_OF_RANGE = ["4", "-1", "NaN", "3.0", "1e3", "99999999999999999999"]


def test_questionnaire_fill_in_visit(signed_in, world):
    patient = world.patient
    definition = instruments.get("phq9")
    # The view offers the patient's draft notes; predicting with all of the patient's notes may
    # expect a stored row the view refuses (counted as refused), never the other way round.
    visits = VisitNote.objects.filter(patient=patient)
    fields = harness.form_fields(QuestionnaireForm(instrument=definition, visit_notes=visits))
    baseline = {QuestionnaireForm.name_for(item): "1" for item in definition.items}
    harness.run(signed_in, harness.Case(
        name="QuestionnaireForm (PHQ-9, visit)", share=0.5, url=_url("patients:questionnaire_fill", patient.pk, "phq9"),
        fields=fields, baseline=baseline, snapshot=lambda: snapshot(Response.objects.all()),
        bad={"item_1": PHQ_OUT_OF_RANGE, "item_9": PHQ_OUT_OF_RANGE},
        render_url=lambda: _url("patients:questionnaire_list", patient.pk),
    ))  # fmt: skip


LAB_OUT_OF_RANGE = ["-1", "-0.5", "NaN", "nan", "Infinity", "-Infinity", "inf", "1e309", "1e400", "99999", "0x10"]


def test_lab_result_create(signed_in, world):
    patient = world.patient
    fields = harness.form_fields(LabResultForm())
    harness.run(signed_in, harness.Case(
        name="LabResultForm", url=_url("medications:lab_result_create", patient.pk), fields=fields,
        baseline={"test": "LITHIUM", "value": "0.8", "unit": "mmol/L",
                  "collected_on": timezone.localdate().isoformat(), "note": "Trough level."},
        snapshot=lambda: snapshot(LabResult.objects.all()), stored=_latest(LabResult),
        bad={"value": LAB_OUT_OF_RANGE},
        render_url=lambda: _url("medications:lab_result_detail", patient.pk, LabResult.objects.latest("pk").pk),
    ))  # fmt: skip


def test_prescription_start(signed_in, psychiatrist):
    # A patient on nothing, so the baseline start has no interaction to review.
    patient = factories.PatientFactory(primary_psychiatrist=psychiatrist)
    form = PrescriptionStartForm(patient=patient)
    steps = PlanStepFormSet(prefix="steps")
    fields = harness.form_fields(form, steps, SafetyReviewForm(prefix="safety"))
    baseline = {
        "medication": str(factories.medication("sertraline").pk), "form": "tablet", "route": "oral",
        "strength_mg": "25", "dose_mg": "25", "frequency": "qam", "quantity": "30", "refills": "0",
        "start_date": timezone.localdate().isoformat(), "note": "Start low.", **management("steps"),
    }  # fmt: skip
    harness.run(signed_in, harness.Case(
        name="PrescriptionStartForm", url=_url("medications:prescription_start", patient.pk), fields=fields,
        baseline=baseline, snapshot=lambda: snapshot(Prescription.objects.all()),
        bad={"dose_mg": BAD_DOSES, "strength_mg": BAD_STRENGTHS, "quantity": ["0", "-1", "1001", "1e9", "NaN"],
             "refills": ["-1", "12"], "steps-0-dose_mg": ["-1", "NaN", "sNaN", "Infinity", "1e309"],
             "steps-0-duration_days": ["0", "-7", "366", "NaN"]},
        # An override reason is kept only when there were alerts to override: not compared.
        stored=lambda: row(PrescriptionEvent.objects.order_by("-pk").first()) | row(
            Prescription.objects.order_by("-pk").first()
        ),
        render_url=lambda: _url(
            "medications:prescription_detail", patient.pk, Prescription.objects.latest("pk").pk
        ),
    ))  # fmt: skip


def test_prescription_change(signed_in, world, psychiatrist):
    rx = world.prescription
    # The world's outside Advil interacts with sertraline: stopped, so the baseline change has no
    # interaction to review (as the start's baseline patient is on nothing).
    outside.stop(world.outside_medication, by=psychiatrist)
    fields = harness.form_fields(ChangeDoseForm(), SafetyReviewForm(prefix="safety"))
    baseline = {"dose_mg": "50", "frequency": "qam", "reason": "titration_step",
                "effective_date": timezone.localdate().isoformat(), "note": "Tolerating well."}  # fmt: skip
    harness.run(signed_in, harness.Case(
        name="ChangeDoseForm", url=_url("medications:prescription_change", rx.patient_id, rx.pk), fields=fields,
        baseline=baseline,
        snapshot=lambda: snapshot(Prescription.objects.filter(pk=rx.pk), PrescriptionEvent.objects.all()),
        bad={"dose_mg": BAD_DOSES, "strength_mg": BAD_STRENGTHS},
        stored=_latest(PrescriptionEvent),
        render_url=lambda: _url("medications:prescription_detail", rx.patient_id, rx.pk),
    ))  # fmt: skip


def test_prescription_stop(signed_in, world):
    rx = world.prescription
    fields = harness.form_fields(DiscontinueForm(), PlanStepFormSet(prefix="steps", initial=[{"dose_mg": rx.dose_mg}]))
    baseline = {"how": "stop_now", "reason": "ineffective", "effective_date": timezone.localdate().isoformat(),
                "note": "No benefit at 12 weeks.", "abrupt_stop_justification": "Only two weeks on it.",
                **management("steps", total=6, initial=1)}  # fmt: skip
    harness.run(signed_in, harness.Case(
        name="DiscontinueForm + steps", url=_url("medications:prescription_stop", rx.patient_id, rx.pk),
        fields=fields, baseline=baseline,
        snapshot=lambda: snapshot(Prescription.objects.filter(pk=rx.pk), PrescriptionEvent.objects.all()),
        # A signalling NaN beside an initial dose was a 500; a negative form count drops the steps.
        regressions=[{"abrupt_stop_justification": "x", "steps-0-dose_mg": "SNAN"},
                     {"steps-TOTAL_FORMS": "-1", "steps-0-dose_mg": "-1"}],
        bad={"steps-0-dose_mg": ["-1", "NaN", "sNaN", "Infinity", "1e309"],
             "steps-0-duration_days": ["0", "366", "-1"]},
        render_url=lambda: _url("medications:prescription_detail", rx.patient_id, rx.pk),
    ))  # fmt: skip


def test_pregnancy_status(signed_in, world):
    patient = world.patient
    fields = harness.form_fields(PregnancyStatusForm())
    harness.run(signed_in, harness.Case(
        name="PregnancyStatusForm", url=_url("medications:pregnancy_status", patient.pk), fields=fields,
        baseline={"pregnancy_status": "not_pregnant"},
        snapshot=lambda: snapshot(Patient.objects.filter(pk=patient.pk).values("pregnancy_status")),
        render_url=lambda: _url("patients:chart", patient.pk),
    ))  # fmt: skip


def test_staff_side_effect_report(signed_in, world):
    patient, rx = world.patient, world.prescription
    fields = harness.form_fields(SideEffectReportForm(prescriptions=[rx]))
    baseline = {"prescription": str(rx.pk), "symptoms": ["nausea"], "other_symptoms": "Worse in the morning.",
                "severity": "mild", "onset_date": timezone.localdate().isoformat(), "ongoing": "yes"}  # fmt: skip
    harness.run(signed_in, harness.Case(
        name="SideEffectReportForm (staff)", share=0.5, url=_url("medications:staff_report_create", patient.pk),
        fields=fields, baseline=baseline, snapshot=lambda: snapshot(SideEffectReport.objects.all()),
        stored=_latest(SideEffectReport),
        render_url=lambda: _url("medications:report_detail", patient.pk, SideEffectReport.objects.latest("pk").pk),
    ))  # fmt: skip


def test_report_reply(signed_in, world):
    report = world.report
    fields = harness.form_fields(ReplyForm(patient=world.patient))
    harness.run(signed_in, harness.Case(
        name="ReplyForm", url=_url("medications:report_detail", report.patient_id, report.pk), fields=fields,
        baseline={"reply": "Take it with food; call if it gets worse."},
        snapshot=lambda: snapshot(SideEffectReport.objects.filter(pk=report.pk)),
        stored=_latest(SideEffectReport, pk=report.pk),
        render_url=lambda: _url("medications:report_detail", report.patient_id, report.pk),
    ))  # fmt: skip


def test_visit_create(signed_in, world):
    patient = world.patient
    fields = harness.form_fields(VisitNoteForm(patient=patient))
    baseline = auto_baseline(fields, suicide_risk="low", violence_risk="low", modality="in_person",
                             visit_at=timezone.localtime().strftime("%Y-%m-%dT%H:%M"))  # fmt: skip
    harness.run(signed_in, harness.Case(
        name="VisitNoteForm (new)", share=0.5, url=_url("appointments:visit_create", patient.pk), fields=fields,
        baseline=baseline, snapshot=lambda: snapshot(VisitNote.objects.all()), stored=_latest(VisitNote),
        bad={"next_follow_up_weeks": ["0", "-1", "53", "NaN", "1e9"]},
        render_url=lambda: _url("appointments:visit_detail", patient.pk, VisitNote.objects.latest("pk").pk),
    ))  # fmt: skip


def test_visit_edit(signed_in, world):
    visit = world.visit
    fields = harness.form_fields(VisitNoteForm(instance=visit, patient=world.patient))
    baseline = auto_baseline(fields, suicide_risk="low", violence_risk="low", modality="in_person",
                             visit_at=timezone.localtime(visit.visit_at).strftime("%Y-%m-%dT%H:%M"))  # fmt: skip
    harness.run(signed_in, harness.Case(
        name="VisitNoteForm (edit)", share=0.5, url=_url("appointments:visit_edit", visit.patient_id, visit.pk),
        fields=fields, baseline=baseline, snapshot=lambda: snapshot(VisitNote.objects.filter(pk=visit.pk)),
        stored=_latest(VisitNote, pk=visit.pk), bad={"next_follow_up_weeks": ["0", "-1", "53", "NaN"]},
        render_url=lambda: _url("appointments:visit_detail", visit.patient_id, visit.pk),
    ))  # fmt: skip


def test_break_glass(signed_in, patient2):
    from clinic.models import BreakGlassGrant
    from clinic.privacy_views import BreakGlassForm

    # patient2 is Daniel Reyes's patient: outside this psychiatrist's care team.
    harness.run(signed_in, harness.Case(
        name="BreakGlassForm", url=reverse("break_glass"), fields=harness.form_fields(BreakGlassForm()),
        baseline={
            "mrn": patient2.mrn, "reason_code": "crisis",
            "reason": "Patient arrived in crisis; primary psychiatrist unreachable.",
        },
        snapshot=lambda: snapshot(BreakGlassGrant.objects.all()),
        # The MRN is matched in capitals and the reason's whitespace collapsed, on purpose.
        normalised=frozenset({"mrn", "reason"}),
    ))  # fmt: skip
