"""``everything_bundle``: the patient's whole record as a Bundle that round-trips through
fhir.resources with the same medicines, doses and scores the database holds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from fhir.resources.R4B.bundle import Bundle

from interop.search import everything_bundle
from medications.models import OutsideMedication, PrescriptionEvent
from patients.models import QuestionnaireResponse
from tests.interop.conftest import fill_record

pytestmark = pytest.mark.django_db


def test_the_bundle_round_trips_with_the_same_medicines_doses_and_scores(patient, psychiatrist):
    fill_record(patient, psychiatrist, months=3)
    body = everything_bundle(patient, base_url=settings.TITRATE_BASE_URL)
    parsed = Bundle.model_validate_json(Bundle.model_validate(body).model_dump_json())
    resources = [entry.resource for entry in parsed.entry]
    by_type: dict[str, list] = {}
    for resource in resources:
        by_type.setdefault(resource.__resource_type__, []).append(resource)
    assert by_type["Patient"][0].id == str(patient.pk)

    # Doses: one MedicationRequest per start or dose change, with its dose and drug.
    events = PrescriptionEvent.objects.filter(prescription__patient=patient, kind__in=["started", "dose_changed"])
    expected_doses = sorted((e.prescription.medication.generic_name, e.to_dose_mg.normalize()) for e in events)
    got_doses = sorted(
        (
            request.medicationCodeableConcept.text,
            Decimal(str(request.dosageInstruction[0].doseAndRate[0].doseQuantity.value)).normalize(),
        )
        for request in by_type["MedicationRequest"]
    )
    assert got_doses == expected_doses
    # Sertraline 50 → 100 → 150 → 100 mg (three months) and trazodone started then stopped.
    assert len(by_type["MedicationRequest"]) == events.count() == 5
    statuses = sorted((r.medicationCodeableConcept.text, r.status) for r in by_type["MedicationRequest"])
    assert statuses == [("sertraline", "active")] + [("sertraline", "stopped")] * 3 + [("trazodone", "stopped")]
    sertraline_now = next(r for r in by_type["MedicationRequest"] if r.status == "active")
    assert sertraline_now.priorPrescription.reference.startswith("MedicationRequest/")
    assert sertraline_now.medicationCodeableConcept.coding[0].code == "36437"  # RxNorm, CPIC-confirmed

    # Outside medicines as MedicationStatements.
    assert [s.medicationCodeableConcept.text for s in by_type["MedicationStatement"]] == list(
        OutsideMedication.objects.filter(patient=patient).values_list("name", flat=True)
    )

    # Scores: one Observation per questionnaire, with its total; answers in QuestionnaireResponses.
    responses = QuestionnaireResponse.objects.filter(patient=patient)
    scores = {o.id: o.valueQuantity.value for o in by_type["Observation"] if o.id.startswith("qr-")}
    assert scores == {f"qr-{r.pk}": Decimal(r.total) for r in responses}
    phq9 = next(o for o in by_type["Observation"] if o.id.startswith("qr-"))
    assert phq9.code.coding[0].system == "http://loinc.org"
    assert phq9.code.coding[0].code == "44261-6"
    totals = {
        qr.id: next(item.answer[0].valueInteger for item in qr.item if item.linkId == "total")
        for qr in by_type["QuestionnaireResponse"]
    }
    assert totals == {str(r.pk): r.total for r in responses}

    labs = [o for o in by_type["Observation"] if o.id.startswith("lab-")]
    sodium = next(o for o in labs if o.code.coding and o.code.coding[0].code == "2951-2")
    assert (sodium.valueQuantity.code, sodium.valueQuantity.system) == ("mmol/L", "http://unitsofmeasure.org")
    assert {o.category[0].coding[0].code for o in labs} == {"laboratory", "vital-signs"}


def test_everything_costs_the_same_queries_for_a_short_and_a_long_record(
    patient, patient2, psychiatrist, psychiatrist2, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fill_record(patient, psychiatrist, months=1)
    fill_record(patient2, psychiatrist2, months=12)
    with CaptureQueriesContext(connection) as short:
        everything_bundle(patient, base_url=settings.TITRATE_BASE_URL)
    # One page per type (no COUNT: the bundle is every row), one prefetch for care teams and one
    # for dose history: 8 searches + Observation's 2 tables + 2 = 12. Patient costs none (given).
    with django_assert_max_num_queries(len(short.captured_queries)):
        long = everything_bundle(patient2, base_url=settings.TITRATE_BASE_URL)
    assert len(short.captured_queries) == 12, [q["sql"][:80] for q in short.captured_queries]
    assert not [q for q in short.captured_queries if "COUNT(" in q["sql"]]
    assert len(long["entry"]) > 40
    assert long["total"] == len(long["entry"])
