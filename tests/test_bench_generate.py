"""The bench generator (issue 7) on PostgreSQL: it loads with the indexes and keys dropped and must
leave the schema exactly as the migrations made it, with a valid audit chain."""

import io
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from appointments.models import Appointment
from bench import generate
from interop.search import everything_bundle
from medications.models import Prescription, PrescriptionEvent
from patients.models import Patient, QuestionnaireResponse
from tests.helpers import caseload_facts_against_the_records, first_responses_against_the_messages, require_service

pytestmark = pytest.mark.django_db


def _schema() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, contype FROM pg_constraint"
            " WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
        )
        constraints = cursor.fetchall()
        cursor.execute("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2")
        return constraints + cursor.fetchall()


def test_generated_network_keeps_the_schema_and_a_valid_audit_chain():
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    before = _schema()
    generate.wipe()
    dataset = generate.generate(40, log=lambda message: None)

    assert _schema() == before  # every index, unique, exclusion and foreign key is back
    tables, long = dataset["tables"], dataset["long_history"]
    assert tables["patients"] == 40
    assert tables["audit_events"] == 40 * generate.PER_PATIENT["audit"]
    assert tables["lab_results"] == 40 * generate.PER_PATIENT["labs"] + long["lab_results"]
    assert tables["prescriptions"] == 40 * generate.PER_PATIENT["prescriptions"] + long["prescriptions"]
    assert tables["allergies"] == long["allergies"] == 2
    assert tables["due_entries"] > 0  # built by the portal's own code after the COPY
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().startswith("OK: 4000 audit rows verified")
    assert generate.existing()["personas"] == dataset["personas"]


def test_the_long_history_persona_has_five_years_of_care():
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    generate.wipe()
    dataset = generate.generate(40, log=lambda message: None)
    personas = dataset["personas"]
    patient = Patient.objects.get(pk=personas["history_patient"])
    assert (patient.pk, patient.user_id) == (40, personas["history_patient_user"])
    assert personas["patient"] == 1  # patient 1, whose pages are timed, keeps the typical history

    # The generator's day is the UTC date of its ``now`` (bench.generate.long_history): the local
    # date is a day earlier between midnight UTC and local midnight, which failed this test once.
    today = timezone.now().date()
    years = generate.LONG_HISTORY["years"]
    # A dose event every ~2 months across the courses, scores every 3 weeks, labs every quarter,
    # a visit a month: the persona's own rows, on top of the typical history everyone has.
    long = dataset["long_history"]
    assert long["prescriptions"] == 4 and long["diagnoses"] == 2 and long["allergies"] == 2
    assert long["prescription_events"] >= 6 * years
    assert long["questionnaire_responses"] == 2 * len(range(2, 365 * years, 21))
    assert long["lab_results"] == 5 * len(range(10, 365 * years, 91))
    assert long["appointments"] == len(range(15, 365 * years, 30)) == 61
    assert long["visit_notes"] == long["appointments"] - 6
    assert long["side_effect_reports"] == len(range(30, 365 * years, 60))

    events = PrescriptionEvent.objects.filter(prescription__patient=patient)
    first = events.order_by("effective_date").first().effective_date
    assert (today - first).days > 365 * years
    assert events.count() == long["prescription_events"] + generate.PER_PATIENT["prescriptions"] * 3
    assert Prescription.objects.filter(patient=patient, status="active").count() == 2 + 2
    assert QuestionnaireResponse.objects.filter(patient=patient).count() == (
        long["questionnaire_responses"] + generate.PER_PATIENT["responses"]
    )
    completed = Appointment.objects.filter(patient=patient, status="completed", visit_note__status="signed")
    assert completed.count() >= long["visit_notes"]
    assert Patient.objects.get(pk=1).prescriptions.count() == generate.PER_PATIENT["prescriptions"]

    # What bench.web times: the persona's whole record renders, with every generated row in it.
    bundle = everything_bundle(patient, base_url="https://titrate.test")
    by_type = Counter(entry["resource"]["resourceType"] for entry in bundle["entry"])
    assert by_type["Appointment"] == Appointment.objects.filter(patient=patient).count()
    assert by_type["QuestionnaireResponse"] == QuestionnaireResponse.objects.filter(patient=patient).count()
    assert by_type["AllergyIntolerance"] == 2 and by_type["Condition"] == 3
    assert by_type["Observation"] == by_type["QuestionnaireResponse"] + patient.lab_results.count()


def test_the_generated_network_records_the_metrics_facts_as_the_portal_would():
    """COPY bypasses the write paths, so the generator writes the facts they record (first
    responses, last measured; the overdue days come from medications.due's own rebuild): they
    must be what those paths would have recorded from the generated rows, or the metrics page
    would be timed on figures the portal could never show."""
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    generate.wipe()
    generate.generate(40, log=lambda message: None)
    from medications.models import MessageThread, SideEffectReport

    assert SideEffectReport.objects.filter(first_response_at__isnull=False).exists()
    assert MessageThread.objects.filter(first_response_at__isnull=False).exists()
    assert Patient.objects.filter(last_measured_at__isnull=False).count() == 40
    assert first_responses_against_the_messages() == ({}, {})
    assert caseload_facts_against_the_records() == {}
