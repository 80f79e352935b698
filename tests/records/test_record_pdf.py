"""Issue 23: what the patient's record PDF says (text extracted with pypdf), what it leaves out,
and the fixed number of queries its reader takes whatever the record's length."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import BytesIO

import pytest
import time_machine
from django.utils import timezone
from pypdf import PdfReader

from medications import monitoring, prescribing
from medications.models import Allergy, ChangeReason
from medications.prescribing import PlanStepInput
from patients import notes
from patients.models import Diagnosis
from records import builders, requests
from tests import factories
from tests.factories import PHI_MARKER

pytestmark = pytest.mark.django_db


def _pdf_text(patient) -> str:
    row = builders.prepare(str(requests.request_record(patient, by=patient.user, format="pdf").pk))
    reader = PdfReader(BytesIO(bytes(row.file.content)))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_holds_medications_with_doses_scores_visits_labs_and_outside_medicines(patient, psychiatrist):
    rx = factories.sertraline_history(patient, psychiatrist)  # 50 → 100 mg; PHQ-9 16, 12, 6
    Allergy.objects.create(patient=patient, substance="Penicillin", reaction="hives", recorded_by=psychiatrist)
    monitoring.record_result(
        patient=patient, test_code="LITHIUM", value="0.8", unit="mmol/L",
        collected_on=timezone.localdate(), entered_by=psychiatrist,
    )  # fmt: skip
    factories.outside_medication(patient, psychiatrist, "Advil", source="over the counter")
    visit = factories.visit(patient, psychiatrist, reason_for_patient="To help with sleep.")
    prescribing.change_dose(
        rx, actor=psychiatrist, dose_mg=Decimal(150), reason=ChangeReason.INEFFECTIVE, visit_note=visit
    )
    notes.sign(visit, actor=psychiatrist)
    stopped = factories.start(patient, psychiatrist, drug="trazodone", dose="50", strength="50", frequency="qhs")
    prescribing.discontinue(stopped, actor=psychiatrist, reason=ChangeReason.SIDE_EFFECT, abrupt_stop_justification="x")

    text = _pdf_text(patient)

    for expected in (
        "My health record",
        "sertraline · taking now",
        "Started at 50 mg",
        "Dose changed: 50 → 100 mg",
        "Dose changed: 100 → 150 mg",
        "trazodone · stopped",
        "Stopped",
        "F33.1",
        "Penicillin: hives",
        "PHQ-9",
        "Advil",
        "Lithium",
        "0.8 mmol/L",
        "To help with sleep.",
        "Changed sertraline: 100 → 150 mg",
        patient.mrn,
    ):
        assert expected in text, expected
    # The three PHQ-9 totals of sertraline_history, in the table under the chart.
    scores = [line for line in text.splitlines() if "PHQ-9" in line and any(ch.isdigit() for ch in line)]
    assert len(scores) >= 3
    # Nothing of the staff's notes: the note's assessment and plan are not the patient's summary.
    assert visit.assessment == "" or visit.assessment not in text


def test_the_chart_is_drawn_on_the_server_as_svg(patient, psychiatrist):
    factories.sertraline_history(patient, psychiatrist)
    record = builders.record_for(patient)

    assert record.chart.startswith("<svg") and record.chart.count("<circle") == 3
    assert "polyline" in record.chart and "<script" not in record.chart


def test_a_patient_with_no_history_gets_a_record_that_says_so(patient):
    text = _pdf_text(patient)

    assert "No medicines prescribed by the clinic." in text
    assert "No questionnaire scores yet." in text and "No lab results recorded." in text
    assert builders.record_for(patient).chart == ""


def _visit_with_a_change(patient, psychiatrist, rx, dose):
    visit = factories.visit(patient, psychiatrist)
    prescribing.change_dose(
        rx, actor=psychiatrist, dose_mg=Decimal(dose), reason=ChangeReason.INEFFECTIVE, visit_note=visit
    )
    notes.sign(visit, actor=psychiatrist)


def test_the_reader_takes_the_same_queries_for_a_long_record(patient, psychiatrist, django_assert_num_queries):
    from tests.helpers import warm_clinic_profile

    warm_clinic_profile()
    first = factories.start(
        patient, psychiatrist, titration_steps=[PlanStepInput(Decimal(25), 7), PlanStepInput(Decimal(50), None)]
    )
    factories.submit_phq9(patient, 1)
    _visit_with_a_change(patient, psychiatrist, first, 50)
    # * prescriptions * their events * outside medicines * diagnoses * allergies * scores
    # * signed visit notes * their events * plans * plan steps * labs
    with django_assert_num_queries(11):
        builders.record_for(patient)

    prescribing.discontinue(first, actor=psychiatrist, reason=ChangeReason.SIDE_EFFECT, abrupt_stop_justification="x")
    start = timezone.now() - datetime.timedelta(days=700)
    for week in range(0, 100, 10):
        with time_machine.travel(start + datetime.timedelta(weeks=week), tick=False):
            rx = factories.start(
                patient, psychiatrist, titration_steps=[PlanStepInput(Decimal(25), 7), PlanStepInput(Decimal(50), None)]
            )
            _visit_with_a_change(patient, psychiatrist, rx, 50)
            prescribing.discontinue(
                rx, actor=psychiatrist, reason=ChangeReason.SIDE_EFFECT, abrupt_stop_justification="x"
            )
            factories.submit_phq9(patient, 2)
            Diagnosis.objects.create(
                patient=patient, icd10_code=f"F4{week // 10}.1", description="Anxiety", recorded_by=psychiatrist
            )
    with django_assert_num_queries(11):
        record = builders.record_for(patient)
    assert len(record.scores) == 11 and len(record.visits) == 11 and len(record.medications) == 11


def test_the_file_name_does_not_name_the_patient(patient):
    row = builders.prepare(str(requests.request_record(patient, by=patient.user, format="pdf").pk))

    assert row.file.filename == f"my-record-{timezone.localdate():%Y-%m-%d}.pdf"
    assert PHI_MARKER not in row.file.filename
