"""Refill requests (issue 20, item 2): the patient asks, the psychiatrist sees what is due and
approves (a REFILL_APPROVED event with the supply) or declines with a reason the patient reads; the
patient is told through the outbox without the medicine's name."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent, Notification
from medications import monitoring, refills
from medications.models import PrescriptionEvent, RefillRequest
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

MY_REFILLS = reverse("medications:my_refills")
QUEUE = reverse("medications:refill_queue")


def detail_url(refill) -> str:
    return reverse("medications:refill_detail", args=[refill.patient_id, refill.pk])


@pytest.fixture
def rx(patient, psychiatrist):
    return factories.start(patient, psychiatrist)


def ask(patient, rx, days_left=5, by=None) -> RefillRequest:
    by = by or patient.user
    return refills.request_refill(patient, rx, pharmacy="Main Street Pharmacy", days_left=days_left, by=by)


def test_a_patient_asks_for_a_refill_of_an_active_prescription(client, patient, rx):
    log_in(client, patient.user)
    response = client.post(MY_REFILLS, {"prescription": rx.pk, "pharmacy": "Main Street Pharmacy", "days_left": "4"})
    assert response.status_code == 302
    refill = RefillRequest.objects.get()
    assert (refill.prescription_id, refill.days_left, refill.status) == (rx.pk, 4, "pending")
    assert AuditEvent.objects.filter(action="create", object_type="medications.RefillRequest").count() == 1
    page = client.get(MY_REFILLS).content.decode()
    assert "Waiting for your psychiatrist" in page


def test_bad_input_keeps_what_was_typed(client, patient, rx):
    log_in(client, patient.user)
    response = client.post(MY_REFILLS, {"prescription": rx.pk, "pharmacy": "Corner Drugs", "days_left": "400"})
    assert response.status_code == 200
    assert "Corner Drugs" in response.content.decode()
    assert "less than or equal to 90" in response.content.decode()
    assert RefillRequest.objects.count() == 0


def test_a_second_request_while_one_is_open_is_refused(client, patient, rx):
    ask(patient, rx)
    log_in(client, patient.user)
    response = client.post(MY_REFILLS, {"prescription": rx.pk, "pharmacy": "Main Street", "days_left": "2"})
    assert response.status_code == 200
    assert "already asked for a refill" in response.content.decode()
    assert RefillRequest.objects.count() == 1


def test_a_patient_cannot_ask_for_another_patients_prescription(client, patient, patient2, psychiatrist2, rx):
    theirs = factories.start(patient2, psychiatrist2)
    log_in(client, patient.user)
    response = client.post(MY_REFILLS, {"prescription": theirs.pk, "pharmacy": "Main Street", "days_left": "2"})
    assert response.status_code == 200
    assert "Choose one of your current medicines" in response.content.decode()
    assert RefillRequest.objects.count() == 0
    with pytest.raises(ValidationError):
        refills.request_refill(patient, theirs, pharmacy="x", days_left=1, by=patient.user)


def test_approval_is_a_prescription_event_with_the_supply_and_tells_the_patient_without_naming_it(
    client, patient, psychiatrist, rx
):
    refill = ask(patient, rx)
    log_in(client, psychiatrist)
    response = client.post(detail_url(refill), {"action": "approve", "quantity": "90", "refills": "2", "note": ""})
    assert response.status_code == 302
    refill.refresh_from_db()
    rx.refresh_from_db()
    event = refill.event
    assert (refill.status, event.kind, event.quantity, event.refills) == ("approved", "refill_approved", 90, 2)
    assert (rx.quantity, rx.refills, rx.dose_mg) == (90, 2, event.to_dose_mg)
    rows = Notification.objects.filter(recipient=patient.user, kind=Notification.Kind.REFILL_ANSWERED)
    assert rows.count() >= 1
    # On the chart's event history and the prescription's refill log.
    chart = client.get(reverse("patients:chart", args=[patient.pk])).content.decode()
    assert "Refill approved: sertraline (qty 90, 2 refills)" in chart
    log_page = client.get(reverse("medications:prescription_detail", args=[patient.pk, rx.pk])).content.decode()
    assert "Refill log" in log_page and "Approved by" in log_page


def test_a_decline_needs_a_reason_and_the_patient_reads_it(client, patient, psychiatrist, rx):
    refill = ask(patient, rx)
    log_in(client, psychiatrist)
    response = client.post(detail_url(refill), {"action": "decline", "reason": ""})
    assert response.status_code == 200
    assert RefillRequest.objects.get().status == "pending"
    response = client.post(detail_url(refill), {"action": "decline", "reason": "Please book a visit first."})
    assert response.status_code == 302
    assert PrescriptionEvent.objects.filter(kind="refill_approved").count() == 0
    client.logout()
    log_in(client, patient.user)
    page = client.get(MY_REFILLS).content.decode()
    assert "Declined" in page and "Please book a visit first." in page


def test_an_answered_request_cannot_be_answered_again(patient, psychiatrist, rx):
    refill = ask(patient, rx)
    refills.decline(refill, by=psychiatrist, reason="Not yet.")
    with pytest.raises(ValidationError):
        refills.approve(refill, by=psychiatrist, quantity=30, refills=0)
    assert PrescriptionEvent.objects.filter(kind="refill_approved").count() == 0


def test_schedule_ii_refills_are_refused_on_approval(client, patient, psychiatrist):
    stimulant = factories.start(patient, psychiatrist, drug="methylphenidate", dose="10", strength="10")
    refill = ask(patient, stimulant)
    log_in(client, psychiatrist)
    response = client.post(detail_url(refill), {"action": "approve", "quantity": "60", "refills": "1"})
    assert response.status_code == 200
    assert "Schedule II" in response.content.decode()
    assert RefillRequest.objects.get().status == "pending"


def test_overdue_lithium_level_shows_on_the_request_before_approval(client, patient, psychiatrist):
    start = timezone.localdate() - datetime.timedelta(days=200)
    lithium = factories.start(
        patient, psychiatrist, drug="lithium", dose="300", strength="300", frequency="bid", start_date=start
    )
    due = [d for d in monitoring.due_items(patient) if d.is_open and "lithium" in d.drugs]
    assert due, "the monitoring profile should have something due after 200 days without a level"
    refill = ask(patient, lithium)
    found = refills.concerns(lithium)
    assert {c.label for c in found} >= {d.label for d in due}
    log_in(client, psychiatrist)
    page = client.get(detail_url(refill)).content.decode()
    for item in due:
        assert item.label in page
    assert "Overdue:" in page


def test_a_sertraline_refill_with_nothing_due_says_so(client, patient, psychiatrist, rx):
    refill = ask(patient, rx)
    log_in(client, psychiatrist)
    assert "No monitoring or review is due for sertraline" in client.get(detail_url(refill)).content.decode()


def test_the_queue_lists_only_my_patients_pending_requests(client, patient, patient2, psychiatrist, psychiatrist2, rx):
    ask(patient, rx)
    ask(patient2, factories.start(patient2, psychiatrist2))
    log_in(client, psychiatrist)
    response = client.get(QUEUE)
    assert response.status_code == 200
    assert response.content.decode().count("Review</a>") == 1
    audit = AuditEvent.objects.filter(detail__page="refill_queue").get()
    assert audit.detail["patient_ids"] == [patient.pk]


def test_another_psychiatrist_gets_404_for_the_request(client, patient, psychiatrist2, rx):
    refill = ask(patient, rx)
    log_in(client, psychiatrist2)
    assert client.get(detail_url(refill)).status_code == 404
    assert client.post(detail_url(refill), {"action": "decline", "reason": "no"}).status_code == 404
    assert RefillRequest.objects.get().status == "pending"


def test_query_budgets(client, patient, psychiatrist, rx, django_assert_max_num_queries):
    for _ in range(4):
        other = factories.PatientFactory(primary_psychiatrist=psychiatrist)
        ask(other, factories.start(other, psychiatrist), by=psychiatrist)
    refill = ask(patient, rx)
    log_in(client, psychiatrist)
    # session, user, pending requests with patient and medicine, scope subquery inline, audit (3)
    with django_assert_max_num_queries(7):
        assert client.get(QUEUE).status_code == 200
    # session, user, patient in scope, request with its prescription, concerns (prescriptions,
    # latest results, review), audit (3)
    with django_assert_max_num_queries(12):
        assert client.get(detail_url(refill)).status_code == 200
    client.logout()
    log_in(client, patient.user)
    # session, user, own record, active prescriptions (form), history, audit (3)
    with django_assert_max_num_queries(9):
        assert client.get(MY_REFILLS).status_code == 200


def test_a_spanish_patient_asks_in_spanish_and_keeps_what_was_typed(client, patient, rx):
    from clinic import languages
    from tests.i18n_check import english_left

    languages.set_preference(patient.user, "es")
    log_in(client, patient.user)
    response = client.post(MY_REFILLS, {"prescription": rx.pk, "pharmacy": "Corner Drugs", "days_left": "400"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Corner Drugs" in page and "¿Para cuántos días le queda medicamento?" in page
    assert "Tome 1 tableta (25 mg)" in page  # the medicine offered with its Spanish instructions
    assert "90" in page and "less than or equal" not in page
    assert english_left(page, names=(rx.medication.generic_name, "Corner Drugs")) == []
    assert RefillRequest.objects.count() == 0
    done = client.post(
        MY_REFILLS, {"prescription": rx.pk, "pharmacy": "Corner Drugs", "days_left": "4"}, follow=True
    ).content.decode()
    assert "Se envió su pedido de resurtido." in done and "Esperando a su psiquiatra" in done
    assert RefillRequest.objects.count() == 1
