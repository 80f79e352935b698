"""Outside medications (issue 17, item 4): recorded on the chart, coded to the formulary only by an
exact name, coded ones in every prescribing check, and uncoded ones never read as "safe"."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent
from medications import outside, prescribing, safety
from medications.models import ChangeReason, OutsideMedication, PrescriptionEvent
from tests import factories
from tests.helpers import log_in, warm_clinic_profile
from tests.medications.test_safety_views import start_data, start_url

pytestmark = pytest.mark.django_db

NSAID_LITHIUM = "Lithium with an NSAID"


@pytest.fixture
def doctor(client, psychiatrist):
    log_in(client, psychiatrist)
    return client


def create_url(patient) -> str:
    return reverse("medications:outside_create", args=[patient.pk])


def chart(client, patient) -> str:
    response = client.get(reverse("patients:chart", args=[patient.pk]))
    assert response.status_code == 200
    return response.content.decode()


# -- Matching a typed name -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "generic"),
    [
        ("ibuprofen", "ibuprofen"),
        ("Advil", "ibuprofen"),  # a brand
        ("sertraline hydrochloride", "sertraline"),  # a salt
        ("escitalopram oxalate", "escitalopram"),
        ("Lithium Carbonate", "lithium"),  # a declared alias
        ("divalproex sodium", "valproate"),
        ("ST. JOHN'S WORT", "st john's wort"),  # case and punctuation do not count
        ("  zoloft ", "sertraline"),
        ("Seroquel XR", "quetiapine"),  # a release form of a brand
        ("ibuprofen 400 mg", "ibuprofen"),  # a strength
        ("metformin", "metformin"),  # a co-medication (medications/data/comedications.json)
        ("tylenol", "acetaminophen"),
    ],
)
def test_a_name_that_is_exactly_a_formulary_drug_is_coded(typed, generic):
    match = outside.match_name(typed)
    assert (match.generic_name, match.suggestions) == (generic, ())


@pytest.mark.parametrize("typed", ["Kratom", "ashwagandha", "sertralin", "zolof", "Celebrax"])
def test_any_other_name_is_never_coded_silently(typed):
    match = outside.match_name(typed)
    assert match.generic_name is None
    # Offers name their generic: a brand is never offered bare.
    assert all(s.generic_name in s.label for s in match.suggestions)


def test_near_typos_are_offered_and_names_that_only_share_letters_are_not():
    assert [s.generic_name for s in outside.match_name("sertralin").suggestions][0] == "sertraline"
    assert outside.match_name("Kratom").suggestions == ()  # not "Aptiom (eslicarbazepine)"


def test_recording_an_exact_name_codes_it_whatever_was_picked(patient, psychiatrist):
    row = outside.record(
        patient, OutsideMedication(name=" Advil ", medication=factories.medication("naproxen")), by=psychiatrist
    )
    assert (row.name, row.medication.generic_name, row.display_name) == ("Advil", "ibuprofen", "Advil (ibuprofen)")
    audit = AuditEvent.objects.filter(object_type="medications.OutsideMedication").get()
    assert (audit.action, audit.patient_id, audit.detail) == (AuditEvent.Action.CREATE, patient.pk, {"coded": True})


def test_an_outside_medication_is_stopped_never_deleted(patient, psychiatrist):
    row = factories.outside_medication(patient, psychiatrist, "Kratom")
    with pytest.raises(ValueError, match="never deleted"):
        row.delete()
    outside.stop(row, by=psychiatrist)
    row.refresh_from_db()
    assert (row.stopped_on, row.stopped_by) == (timezone.localdate(), psychiatrist)
    assert not patient.outside_medications.active().exists()
    assert AuditEvent.objects.filter(
        object_type="medications.OutsideMedication", action=AuditEvent.Action.UPDATE, detail={"change": "stopped"}
    ).exists()


# -- In the checks -------------------------------------------------------------------------------


def test_a_coded_outside_nsaid_raises_the_lithium_alert_when_lithium_is_started(doctor, patient, psychiatrist):
    factories.outside_medication(patient, psychiatrist, "Advil", dose_text="400 mg as needed", source="OTC")

    alerts = safety.check_for_patient(
        patient, proposed=safety.Proposal(medication=factories.medication("lithium"), mg_per_day=Decimal(900))
    )
    assert any(a.drugs == ("lithium", "ibuprofen") and NSAID_LITHIUM in a.message for a in alerts)
    assert alerts.not_checked == ()

    response = doctor.post(start_url(patient), start_data("lithium", strength_mg="300", dose_mg="300"))
    content = response.content.decode()
    assert "lithium + ibuprofen: Lithium with an NSAID" in content
    assert "Not checked for interactions" not in content


def test_a_coded_outside_nsaid_reaches_a_dose_change_and_the_chart(doctor, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="lithium", dose="300", strength="300", frequency="bid")
    factories.outside_medication(patient, psychiatrist, "naproxen sodium", source="PCP")

    content = chart(doctor, patient)
    assert "lithium + naproxen: Lithium with an NSAID" in content

    with pytest.raises(safety.ReviewRequired) as shown:
        prescribing.change_dose(
            rx,
            actor=psychiatrist,
            dose_mg=Decimal(450),
            reason=ChangeReason.INEFFECTIVE,
            safety_review=prescribing.SafetyReview(),
        )
    assert any(a.drugs == ("lithium", "naproxen") for a in shown.value.alerts)


def test_a_stopped_outside_drug_leaves_the_checks(patient, psychiatrist):
    row = factories.outside_medication(patient, psychiatrist, "ibuprofen")
    outside.stop(row, by=psychiatrist)
    lithium = safety.Proposal(medication=factories.medication("lithium"), mg_per_day=Decimal(900))
    assert not any(a.kind == "interaction" for a in safety.check_for_patient(patient, proposed=lithium))


def test_an_outside_copy_of_a_prescribed_drug_is_duplicate_therapy_and_keeps_the_dose_check(patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline", dose="300", strength="100", frequency="qd")
    factories.outside_medication(patient, psychiatrist, "Zoloft", source="PCP")
    alerts = safety.check_current(
        patient,
        prescriptions=patient.prescriptions.select_related("medication"),
        allergies=[],
        diagnoses=[],
        outside=patient.outside_medications.select_related("medication"),
    )
    kinds = {(a.kind, a.drugs) for a in alerts}
    assert ("duplicate_therapy", ("sertraline", "sertraline")) in kinds
    # The outside copy's dose is free text: the prescription's own dose is still checked.
    assert ("max_dose", ("sertraline",)) in kinds


def test_an_uncoded_outside_drug_is_named_in_every_check_result(patient, psychiatrist):
    factories.outside_medication(patient, psychiatrist, "Kratom")
    factories.outside_medication(patient, psychiatrist, "kratom ")  # the same name twice: named once
    factories.outside_medication(patient, psychiatrist, "Ashwagandha")
    proposal = safety.Proposal(medication=factories.medication("sertraline"), mg_per_day=Decimal(50))

    result = safety.check_for_patient(patient, proposed=proposal)

    assert list(result) == []  # no alert among the drugs checked
    assert [n.name for n in result.not_checked] == ["Ashwagandha", "Kratom"]
    assert result.not_checked_line == (
        "Not checked for interactions: Ashwagandha (not in the formulary); Kratom (not in the formulary)"
    )
    # An empty result with drugs not checked still needs the prescriber to have seen it.
    with pytest.raises(safety.ReviewRequired):
        safety.require_review(result, acknowledged="", override_reason="")
    safety.require_review(result, acknowledged=safety.fingerprint(result), override_reason="")
    assert safety.fingerprint(result) != safety.fingerprint([])


def test_uncoded_drugs_on_the_chart_have_the_marker_and_the_line(doctor, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")
    factories.outside_medication(patient, psychiatrist, "Kratom", dose_text="2 g daily", source="smoke shop")
    factories.outside_medication(patient, psychiatrist, "metoprolol", source="cardiology")

    content = chart(doctor, patient)

    assert content.count("Not checked for interactions</span>") == 2  # header list and medications card
    assert "Not checked for interactions: Kratom (not in the formulary)." in content
    assert "2 g daily · from smoke shop" in content
    assert "metoprolol" in content and "in the checks" in content


def test_a_regimen_of_outside_drugs_only_is_checked_and_reported(doctor, patient, psychiatrist):
    factories.outside_medication(patient, psychiatrist, "Kratom")
    content = chart(doctor, patient)
    assert "Not checked for interactions: Kratom (not in the formulary)." in content
    assert "No interaction, washout, dose, duplicate, allergy, pregnancy or age alerts for the drugs checked" in content


def test_prescribing_with_an_uncoded_outside_drug_shows_the_line_then_stores_it(doctor, patient, psychiatrist):
    factories.outside_medication(patient, psychiatrist, "Kratom")
    data = start_data("sertraline", strength_mg="50", dose_mg="50", frequency="qd", quantity="30")

    first = doctor.post(start_url(patient), data)

    content = first.content.decode()
    assert first.status_code == 200 and not patient.prescriptions.exists()
    assert "Safety check: 0 alerts — nothing saved yet" in content
    assert "Not checked for interactions: Kratom (not in the formulary)." in content
    assert 'value="Switch after failed trials"' in content or "Switch after failed trials" in content

    saved = doctor.post(start_url(patient), {**data, "safety-safety_ack": first.context["safety"].fingerprint})

    assert saved.status_code == 302
    event = PrescriptionEvent.objects.get(prescription__patient=patient)
    assert event.not_checked == [{"name": "Kratom", "why": "not in the formulary"}]
    detail = doctor.get(reverse("medications:prescription_detail", args=[patient.pk, event.prescription_id]))
    assert "Not checked for interactions: Kratom (not in the formulary)." in detail.content.decode()


def test_a_dose_change_with_an_uncoded_outside_drug_shows_the_line_with_its_alerts(doctor, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="sertraline", dose="50", strength="50", frequency="qd")
    factories.outside_medication(patient, psychiatrist, "Kratom")
    factories.outside_medication(patient, psychiatrist, "Advil")
    url = reverse("medications:prescription_change", args=[patient.pk, rx.pk])
    data = {"dose_mg": "100", "frequency": "qd", "reason": "ineffective", "note": "Partial response",
            "effective_date": timezone.localdate().isoformat()}  # fmt: skip

    first = doctor.post(url, data)

    content = first.content.decode()
    assert [a.drugs for a in first.context["safety"].alerts] == [("sertraline", "ibuprofen")]
    assert "Not checked for interactions: Kratom (not in the formulary)." in content
    assert doctor.post(url, {**data, "safety-safety_ack": first.context["safety"].fingerprint}).status_code == 302
    event = rx.events.get(kind=PrescriptionEvent.Kind.DOSE_CHANGED)
    assert event.not_checked == [{"name": "Kratom", "why": "not in the formulary"}]


def test_check_queries_do_not_grow_with_outside_medications(
    doctor, patient, psychiatrist, django_assert_max_num_queries
):
    rx = factories.start(patient, psychiatrist, drug="lithium", dose="300", strength="300")
    for name in ["ibuprofen", "Kratom", "metoprolol", "Ashwagandha", "omeprazole", "naproxen"]:
        factories.outside_medication(patient, psychiatrist, name)
    proposal = safety.Proposal(medication=factories.medication("sertraline"), mg_per_day=Decimal(50))
    # Prescriptions, outside medications, allergies, diagnoses.
    with django_assert_max_num_queries(4):
        safety.check_for_patient(patient, proposed=proposal, replacing=rx)
    # The chart's budget (tests/patients/test_chart.py) holds with them on it.
    with django_assert_max_num_queries(6):
        chart(doctor, patient)


# -- The pages -----------------------------------------------------------------------------------


def test_recording_an_exact_name_codes_it_and_audits_one_row(doctor, patient):
    response = doctor.post(
        create_url(patient), {"name": "Motrin", "dose_text": "400 mg tid", "source": "OTC", "start_date": "2026-11-01"}
    )
    assert response.status_code == 302
    row = patient.outside_medications.get()
    assert (row.medication.generic_name, row.dose_text, row.start_date) == (
        "ibuprofen",
        "400 mg tid",
        datetime.date(2026, 11, 1),
    )
    assert AuditEvent.objects.filter(object_type="medications.OutsideMedication", action="create").count() == 1


def test_an_unknown_name_offers_close_names_and_saves_nothing_until_answered(doctor, patient):
    typed = {"name": "sertralin", "dose_text": "50 mg daily", "source": "PCP Dr Rivera", "start_date": ""}

    response = doctor.post(create_url(patient), typed)

    content = response.content.decode()
    assert response.status_code == 200 and not patient.outside_medications.exists()
    assert "is not a formulary drug under this name" in content
    assert 'value="sertraline"' in content and "keep “sertralin” as typed" in content
    # What was typed stays.
    assert 'value="50 mg daily"' in content and 'value="PCP Dr Rivera"' in content

    picked = doctor.post(create_url(patient), {**typed, "coding": "sertraline"})
    assert picked.status_code == 302
    row = patient.outside_medications.get()
    assert (row.name, row.medication.generic_name) == ("sertralin", "sertraline")


def test_keeping_a_name_as_typed_records_it_uncoded(doctor, patient):
    response = doctor.post(create_url(patient), {"name": "Kratom", "source": "smoke shop", "coding": "uncoded"})
    assert response.status_code == 302
    row = patient.outside_medications.get()
    assert (row.name, row.medication) == ("Kratom", None)
    assert AuditEvent.objects.get(object_type="medications.OutsideMedication").detail == {"coded": False}


def test_a_pick_made_for_an_earlier_name_is_refused_and_the_typing_kept(doctor, patient):
    response = doctor.post(create_url(patient), {"name": "lamotrigin", "dose_text": "25 mg", "coding": "sertraline"})
    content = response.content.decode()
    assert response.status_code == 200 and not patient.outside_medications.exists()
    assert "The name changed: pick again" in content
    assert 'value="lamotrigin"' in content and 'value="25 mg"' in content


def test_form_errors_keep_what_was_typed(doctor, patient):
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    response = doctor.post(
        create_url(patient), {"name": "Advil", "dose_text": "200 mg prn", "source": "OTC", "start_date": future}
    )
    content = response.content.decode()
    assert response.status_code == 200 and not patient.outside_medications.exists()
    assert 'value="Advil"' in content and 'value="200 mg prn"' in content and 'value="OTC"' in content

    missing = doctor.post(create_url(patient), {"name": "", "dose_text": "200 mg prn"})
    assert "This field is required." in missing.content.decode() and 'value="200 mg prn"' in missing.content.decode()


def test_stopping_from_the_chart(doctor, patient, psychiatrist):
    row = factories.outside_medication(patient, psychiatrist, "Kratom")
    response = doctor.post(reverse("medications:outside_stop", args=[patient.pk, row.pk]))
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.stopped_on == timezone.localdate()
    chart(doctor, patient)  # shows the message saying it was stopped
    assert "Kratom" not in chart(doctor, patient)
    # Stopped already: nothing to stop.
    assert doctor.post(reverse("medications:outside_stop", args=[patient.pk, row.pk])).status_code == 404


def test_another_patients_outside_medication_is_not_found(doctor, patient, psychiatrist):
    other = factories.PatientFactory(primary_psychiatrist=psychiatrist)
    row = factories.outside_medication(other, psychiatrist, "Kratom")
    response = doctor.post(reverse("medications:outside_stop", args=[patient.pk, row.pk]))
    assert response.status_code == 404
    row.refresh_from_db()
    assert row.is_active


def test_the_patient_sees_theirs_read_only(client, patient, psychiatrist, django_assert_max_num_queries):
    factories.outside_medication(patient, psychiatrist, "Kratom", dose_text="2 g daily", source="smoke shop")
    stopped = factories.outside_medication(patient, psychiatrist, "Advil")
    outside.stop(stopped, by=psychiatrist)
    log_in(client, patient.user)
    warm_clinic_profile()

    with django_assert_max_num_queries(11):  # the patient home's budget (tests/patients/test_chart.py)
        response = client.get(reverse("patient_home"))

    content = response.content.decode()
    assert "Medicines from elsewhere" in content
    assert "Kratom" in content and "2 g daily" in content and "from smoke shop" in content
    assert "Advil" not in content
    assert "outside_stop" not in content and "/outside-medications/" not in content


def test_a_formulary_update_codes_names_it_now_knows(patient, psychiatrist):
    # Recorded while the formulary lacked the drug (a row as record() then left it), and one it still lacks.
    known = OutsideMedication.objects.create(patient=patient, name="Naprosyn", recorded_by=psychiatrist)
    unknown = factories.outside_medication(patient, psychiatrist, "Kratom")

    call_command("load_formulary", verbosity=0, stdout=StringIO())

    known.refresh_from_db()
    unknown.refresh_from_db()
    assert (known.medication.generic_name, unknown.medication) == ("naproxen", None)
    audit = AuditEvent.objects.filter(object_type="medications.OutsideMedication", object_id=str(known.pk)).get()
    assert (audit.action, audit.actor, audit.detail) == (
        AuditEvent.Action.UPDATE,
        None,
        {"change": "coded", "by": "formulary_update"},
    )


def test_a_name_on_an_ismp_confused_pair_is_coded_with_its_warning():
    match = outside.match_name("Celebrex")
    assert match.generic_name == "celecoxib"
    assert "Celexa" in match.lasa_warning
