"""The medicine cabinet (issue 20, item 4): supplements coded in the formulary with the classes the
rules read, "add something I take" by the patient (patient-reported until a clinician confirms it,
in the checks from the start), the visit's reconciliation step, and both lists on the patient's page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from clinic.models import AuditEvent
from medications import safety
from medications.models import ChangeReason, Medication, OutsideMedication
from patients.models import VisitNote
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

MY_MEDICINES = reverse("medications:my_medicines")


def change_url(patient, rx) -> str:
    return reverse("medications:prescription_change", args=[patient.pk, rx.pk])


@pytest.mark.parametrize(
    ("typed", "generic", "tags"),
    [
        ("St John's wort", "st john's wort", {"SEROTONERGIC", "STRONG_CYP3A4_INDUCER"}),
        ("melatonin", "melatonin", set()),
        ("5-HTP", "5-hydroxytryptophan", {"SEROTONERGIC"}),
        ("kava kava", "kava", {"CNS_DEPRESSANT", "HEPATOTOXIC"}),
        ("CBD oil", "cannabidiol", {"CNS_DEPRESSANT", "CYP2C19_INHIBITOR"}),
        ("marijuana", "cannabis", {"CNS_DEPRESSANT"}),
    ],
)
def test_supplements_are_coded_with_their_classes_and_sources(typed, generic, tags, patient):
    row = factories.outside_medication(patient, patient.user, typed)
    assert row.medication.generic_name == generic
    assert set(row.medication.tags) == tags
    assert row.medication.source and not row.medication.is_psychotropic


def propose(drug: str, mg: int) -> safety.Proposal:
    return safety.Proposal(medication=factories.medication(drug), mg_per_day=Decimal(mg))


def test_5htp_with_sertraline_is_a_serotonergic_pair(patient, psychiatrist):
    factories.outside_medication(patient, psychiatrist, "5-HTP")
    alerts = safety.check_for_patient(patient, proposed=propose("sertraline", 50))
    assert [a.rule for a in alerts if set(a.drugs) == {"sertraline", "5-hydroxytryptophan"}] == ["7"]


def test_kava_with_gabapentin_is_a_cns_depressant_pair(patient, psychiatrist):
    factories.outside_medication(patient, psychiatrist, "kava")
    alerts = safety.check_for_patient(patient, proposed=propose("gabapentin", 900))
    assert any(a.rule == "44" and "kava" in a.drugs for a in alerts)


def test_a_patient_adds_something_they_take_and_it_is_marked_until_confirmed(client, patient, psychiatrist):
    log_in(client, patient.user)
    response = client.post(MY_MEDICINES, {"name": "St John's wort", "dose_text": "300 mg daily", "source": "shop"})
    assert response.status_code == 302
    row = OutsideMedication.objects.get()
    assert (row.patient_reported, row.confirmed_at, row.medication.generic_name) == (True, None, "st john's wort")
    assert AuditEvent.objects.filter(action="create", object_type="medications.OutsideMedication").count() == 1
    page = client.get(MY_MEDICINES).content.decode()
    assert "Added by you — not yet confirmed by your care team" in page
    client.logout()

    log_in(client, psychiatrist)
    chart = client.get(reverse("patients:chart", args=[patient.pk])).content.decode()
    assert "Patient-reported, not confirmed" in chart
    confirm = reverse("medications:outside_confirm", args=[patient.pk, row.pk])
    assert client.post(confirm).status_code == 302
    row.refresh_from_db()
    assert row.confirmed_by == psychiatrist and row.confirmed_at is not None
    chart = client.get(reverse("patients:chart", args=[patient.pk])).content.decode()
    assert "Patient-reported, not confirmed" not in chart


def test_a_name_the_formulary_does_not_know_stays_uncoded_and_not_checked(client, patient, psychiatrist):
    log_in(client, patient.user)
    client.post(MY_MEDICINES, {"name": "ashwagandha", "dose_text": "", "source": ""})
    row = OutsideMedication.objects.get()
    assert row.medication is None and row.patient_reported
    result = safety.check_for_patient(patient, proposed=propose("sertraline", 50))
    assert [n.name for n in result.not_checked] == ["ashwagandha"]


def test_an_empty_name_is_refused_and_the_rest_kept(client, patient):
    log_in(client, patient.user)
    response = client.post(MY_MEDICINES, {"name": "", "dose_text": "twice a day", "source": ""})
    assert response.status_code == 200
    assert "twice a day" in response.content.decode()
    assert OutsideMedication.objects.count() == 0


def test_a_patient_reported_st_johns_wort_makes_a_sertraline_change_show_the_interaction(client, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="sertraline", dose="50", strength="50")
    log_in(client, patient.user)
    client.post(MY_MEDICINES, {"name": "St John's wort", "dose_text": "", "source": ""})
    client.logout()
    log_in(client, psychiatrist)
    data = {"dose_mg": "100", "frequency": "qam", "reason": ChangeReason.INEFFECTIVE, "effective_date": "", "note": ""}
    data["effective_date"] = rx.start_date.isoformat()
    response = client.post(change_url(patient, rx), data)
    assert response.status_code == 200
    content = response.content.decode()
    assert "St John&#x27;s wort with an SSRI/SNRI" in content or "St John's wort with an SSRI/SNRI" in content
    rx.refresh_from_db()
    assert rx.dose_mg == Decimal(50)  # nothing saved before the alert was reviewed


def test_the_patients_page_shows_both_lists(client, patient, psychiatrist, django_assert_max_num_queries):
    factories.start(patient, psychiatrist, drug="sertraline")
    factories.outside_medication(patient, psychiatrist, "Advil", source="over the counter")
    log_in(client, patient.user)
    # session, user, own record, prescriptions, outside medications, audit (3)
    with django_assert_max_num_queries(9):
        response = client.get(MY_MEDICINES)
    content = response.content.decode()
    assert "Sertraline" in content and "Advil" in content


def test_another_psychiatrist_cannot_confirm(client, patient, psychiatrist2):
    row = OutsideMedication.objects.create(
        patient=patient, name="melatonin", recorded_by=patient.user, patient_reported=True
    )
    log_in(client, psychiatrist2)
    assert client.post(reverse("medications:outside_confirm", args=[patient.pk, row.pk])).status_code == 404
    row.refresh_from_db()
    assert row.confirmed_at is None


def test_the_visit_note_records_the_reconciliation_step(client, patient, psychiatrist):
    factories.outside_medication(patient, psychiatrist, "kava")
    log_in(client, psychiatrist)
    form = client.get(reverse("appointments:visit_create", args=[patient.pk])).content.decode()
    assert "Medication reconciliation" in form and "kava" in form
    visit = factories.visit(patient, psychiatrist, medications_reconciled=True)
    assert VisitNote.objects.get(pk=visit.pk).medications_reconciled is True
    page = client.get(reverse("appointments:visit_detail", args=[patient.pk, visit.pk])).content.decode()
    assert "Medication reconciliation done" in page


def test_loaded_supplements_are_in_the_table():
    assert set(
        Medication.objects.filter(
            generic_name__in=["5-hydroxytryptophan", "kava", "cannabidiol", "cannabis"]
        ).values_list("drug_class", flat=True)
    ) == {"supplement"}
