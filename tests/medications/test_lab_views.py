"""Lab result pages and the monitoring panels, the way a psychiatrist and a patient meet them."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic import dates
from clinic.models import Alert, AuditEvent, Notification
from medications import due, monitoring
from medications.models import LabResult
from medications.tasks import plan_lab_reminders
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def start(patient, psychiatrist, drug, dose, strength, frequency="qd", form="tablet", days_ago=0):
    return factories.start(
        patient,
        psychiatrist,
        drug,
        dose,
        strength,
        frequency,
        form=form,
        start_date=timezone.localdate() - datetime.timedelta(days=days_ago),
    )


def lithium(patient, psychiatrist, days_ago=10):
    return start(patient, psychiatrist, "lithium", "300", "300", "bid", form="capsule (carbonate)", days_ago=days_ago)


def post_result(client, patient, follow=False, **fields):
    data = {"test": "LITHIUM", "value": "1.8", "unit": "mmol/L", "collected_on": timezone.localdate().isoformat()}
    return client.post(reverse("medications:lab_result_create", args=[patient.pk]), {**data, **fields}, follow=follow)


# -- Entering a result ------------------------------------------------------------------------------


def test_lithium_18_entered_in_the_browser_flags_urgent_and_alerts(client, patient, psychiatrist):
    lithium(patient, psychiatrist)
    log_in(client, psychiatrist)

    response = post_result(client, patient, follow=True)

    result = LabResult.objects.get()
    assert (result.value, result.flag, result.level, result.entered_by) == (
        Decimal("1.8"), "critical", "urgent", psychiatrist,
    )  # fmt: skip
    assert response.redirect_chain == [(reverse("medications:lab_results", args=[patient.pk]), 302)]
    content = response.content.decode()
    assert "Above the usual toxic threshold (&gt;1.5 mmol/L): same-day review" in content
    assert "An urgent alert was raised for the care team." in content
    alert = Alert.objects.get()
    assert (alert.level, alert.source) == ("urgent", result)
    assert AuditEvent.objects.filter(action="create", object_type="medications.LabResult", patient=patient).count() == 1


def test_normal_lithium_is_saved_without_an_alert(client, patient, psychiatrist):
    log_in(client, psychiatrist)

    response = post_result(client, patient, value="1.0", follow=True)

    assert LabResult.objects.get().flag == "normal"
    assert not Alert.objects.exists()
    assert "Saved: Lithium level (12 h trough) 1 mmol/L." in response.content.decode()


def test_wrong_unit_is_refused_on_the_form_which_keeps_the_input(client, patient, psychiatrist):
    log_in(client, psychiatrist)

    response = post_result(client, patient, unit="mg/dL", note="drawn 12 h post dose")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Lithium level (12 h trough) is entered in mmol/L or mEq/L, not mg/dL." in content
    assert 'value="1.8"' in content
    assert '<option value="mg/dL" selected>' in content
    assert "drawn 12 h post dose" in content
    assert not LabResult.objects.exists()
    assert not Alert.objects.exists()


def test_value_out_of_physical_range_is_refused_and_nothing_saved(client, patient, psychiatrist):
    log_in(client, psychiatrist)

    response = post_result(client, patient, value="180")

    assert response.status_code == 200
    assert "180 mmol/L is outside the possible range for Lithium level (12 h trough) (0–20 mmol/L)." in (
        response.content.decode()
    )
    assert 'value="180"' in response.content.decode()
    assert not LabResult.objects.exists()


def test_blood_pressure_from_the_form(client, patient, psychiatrist):
    log_in(client, psychiatrist)

    post_result(client, patient, test="BP", value="150/95", unit="mmHg")

    assert sorted(LabResult.objects.values_list("test_code", "value", "flag")) == [
        ("DBP", Decimal("95"), "high"),
        ("SBP", Decimal("150"), "high"),
    ]


def test_form_offers_the_patients_due_tests_first(client, patient, psychiatrist):
    patient.date_of_birth = timezone.localdate().replace(year=timezone.localdate().year - 30, day=1)
    patient.save(update_fields=["date_of_birth"])  # under 41: no baseline ECG with lithium
    lithium(patient, psychiatrist)
    log_in(client, psychiatrist)

    response = client.get(reverse("medications:lab_result_create", args=[patient.pk]))

    due_group = dict(response.context["form"].fields["test"].choices)["Due for this patient"]
    assert {code for code, _ in due_group} == {"LITHIUM", "CREATININE", "TSH", "CALCIUM", "BUN", "SODIUM", "WEIGHT"}
    assert response.context["units"]["LITHIUM"] == ["mmol/L", "mEq/L"]
    assert 'id="lab-units"' in response.content.decode()


@pytest.mark.parametrize("who", ["other_psychiatrist", "patient", "clinic_admin"])
def test_nobody_else_can_enter_a_result(client, patient, psychiatrist2, clinic_admin, who):
    user = {"other_psychiatrist": psychiatrist2, "patient": patient.user, "clinic_admin": clinic_admin}[who]
    log_in(client, user)

    response = post_result(client, patient)

    assert response.status_code == (404 if who == "other_psychiatrist" else 403)
    assert not LabResult.objects.exists()


# -- Reading results ------------------------------------------------------------------------------


def test_results_page_shows_history_per_test_and_is_audited(client, patient, psychiatrist):
    lithium(patient, psychiatrist, days_ago=40)
    today = timezone.localdate()
    for days_ago, value in ((30, "0.6"), (5, "1.7")):
        monitoring.record_result(
            patient=patient, test_code="LITHIUM", value=value, unit="mEq/L",
            collected_on=today - datetime.timedelta(days=days_ago), entered_by=psychiatrist,
        )  # fmt: skip
    log_in(client, psychiatrist)

    response = client.get(reverse("medications:lab_results", args=[patient.pk]))

    ((test, rows),) = response.context["history"]
    assert test.code == "LITHIUM"
    assert [r.value for r in rows] == [Decimal("1.7"), Decimal("0.6")]
    content = response.content.decode()
    assert "1.7 mEq/L" in content and "(= 1.7 mmol/L)" in content
    assert "Serum level twice weekly in the acute phase until stable (label)." in content
    assert AuditEvent.objects.filter(action="view", patient=patient, detail__page="lab_results").exists()


def test_result_detail_shows_the_flag_and_its_reason(client, patient, psychiatrist):
    (result,) = monitoring.record_result(
        patient=patient, test_code="ANC", value="0.8", unit="×10⁹/L",
        collected_on=timezone.localdate(), entered_by=psychiatrist,
    )  # fmt: skip
    log_in(client, psychiatrist)

    response = client.get(result.get_staff_url())

    content = response.content.decode()
    assert "Moderate neutropenia (500–999/µL): on clozapine interrupt it; ANC daily" in content
    assert "0.8 ×10⁹/L (= 800 /µL)" in content
    assert AuditEvent.objects.filter(action="view", object_type="medications.LabResult", object_id=str(result.pk))


def test_another_patients_result_id_is_404(client, patient, patient2, psychiatrist):
    (result,) = monitoring.record_result(
        patient=patient2, test_code="LITHIUM", value="0.8", unit="mmol/L",
        collected_on=timezone.localdate(), entered_by=patient2.primary_psychiatrist,
    )  # fmt: skip
    log_in(client, psychiatrist)

    response = client.get(reverse("medications:lab_result_detail", args=[patient.pk, result.pk]))

    assert response.status_code == 404


# -- Panels ---------------------------------------------------------------------------------------


def test_chart_panel_shows_what_is_due_and_the_latest_results(client, patient, psychiatrist):
    lithium(patient, psychiatrist, days_ago=10)
    monitoring.record_result(
        patient=patient, test_code="TSH", value="6.1", unit="mIU/L",
        collected_on=timezone.localdate(), entered_by=psychiatrist,
    )  # fmt: skip
    log_in(client, psychiatrist)

    response = client.get(reverse("patients:chart", args=[patient.pk]))

    content = response.content.decode()
    assert 'id="monitoring"' in content
    assert "Lithium level (12 h after the last dose)" in content
    assert "5 days after the start" in content
    assert "Thyroid-stimulating hormone (TSH)</a>" in content and "6.1 mIU/L" in content


def test_psychiatrist_home_lists_due_and_overdue_items_of_own_patients(client, patient, patient2, psychiatrist):
    lithium(patient, psychiatrist, days_ago=10)
    lithium(patient2, patient2.primary_psychiatrist, days_ago=10)
    due.rebuild()  # the home reads the stored lists (tests/medications/test_due_entries.py)
    log_in(client, psychiatrist)

    response = client.get(reverse("psychiatrist_home"))

    content = response.content.decode()
    assert "Labs and checks due" in content
    assert "Lithium level (12 h after the last dose)" in content
    assert patient.display_name in content
    assert "Bob" not in content


def test_psychiatrist_home_cost_does_not_grow_with_monitored_patients(client, psychiatrist):
    def add(count):
        for _ in range(count):
            other = factories.PatientFactory(primary_psychiatrist=psychiatrist)
            lithium(other, psychiatrist)
            monitoring.record_result(
                patient=other, test_code="LITHIUM", value="0.7", unit="mmol/L",
                collected_on=timezone.localdate(), entered_by=psychiatrist,
            )  # fmt: skip
        due.rebuild()

    add(2)
    log_in(client, psychiatrist)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("psychiatrist_home"))
    add(10)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("psychiatrist_home"))

    assert len(many.captured_queries) == len(few.captured_queries)
    assert response.context["count"] > 10  # the panel's context: renal, TSH, calcium... per patient


def test_chart_cost_does_not_grow_with_results(client, patient, psychiatrist):
    lithium(patient, psychiatrist, days_ago=400)
    log_in(client, psychiatrist)

    def add(count):
        for days_ago in range(count):
            monitoring.record_result(
                patient=patient, test_code="LITHIUM", value="0.7", unit="mmol/L",
                collected_on=timezone.localdate() - datetime.timedelta(days=days_ago * 7), entered_by=psychiatrist,
            )  # fmt: skip

    add(2)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("patients:chart", args=[patient.pk]))
    add(20)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("patients:chart", args=[patient.pk]))

    assert len(many.captured_queries) == len(few.captured_queries)


def test_patient_home_says_a_check_is_due_in_plain_words_without_values(client, patient, psychiatrist):
    lithium(patient, psychiatrist, days_ago=10)
    monitoring.record_result(
        patient=patient, test_code="SODIUM", value="131.7", unit="mmol/L",
        collected_on=timezone.localdate(), entered_by=psychiatrist,
    )  # fmt: skip
    log_in(client, patient.user)

    response = client.get(reverse("patient_home"))

    content = response.content.decode()
    panel = content[content.index("A blood test or check is due") :]
    panel = panel[: panel.index("</section>")]
    assert "Lithium blood level" in panel and "Kidney test (blood)" in panel
    # "131.7", not "131": factory names carry sequence numbers (First1311).
    assert "131.7" not in content and "mmol" not in content
    assert "Salt (sodium) blood test" not in panel  # done today: not due


def test_patient_home_has_no_panel_when_nothing_is_due(client, patient, psychiatrist):
    factories.start(patient, psychiatrist)  # sertraline: MON-AD schedules no lab
    log_in(client, patient.user)

    response = client.get(reverse("patient_home"))

    assert "A blood test or check is due" not in response.content.decode()


# -- A flagged result brings the next one forward (issue 16, item 19) ------------------------------


@pytest.mark.parametrize(("value", "flag", "days"), [("1.8", "critical", 1), ("1.3", "high", 5)])
def test_flagged_lithium_schedules_a_short_recheck_and_says_so(client, patient, psychiatrist, value, flag, days):
    lithium(patient, psychiatrist, days_ago=10)
    log_in(client, psychiatrist)
    recheck_on = timezone.localdate() + datetime.timedelta(days=days)
    says = f"Re-check due {dates.day(recheck_on, year=True)} after a {flag} result"

    entered = post_result(client, patient, value=value, follow=True)
    chart = client.get(reverse("patients:chart", args=[patient.pk]))

    assert entered.status_code == chart.status_code == 200
    assert says in entered.content.decode()  # the message after saving and the due list below it
    panel = chart.content.decode()
    panel = panel[panel.index('id="monitoring"') :]
    assert says in panel
    (item,) = [d for d in monitoring.due_items(patient) if d.test.code == "LITHIUM"]
    assert item.due_on == recheck_on  # not the 2-3-monthly maintenance level
    # The patient is reminded on the re-check day (PHI-free; key names the test and date only).
    noon = datetime.datetime.combine(recheck_on, datetime.time(12), tzinfo=datetime.UTC)
    with time_machine.travel(noon, tick=False):
        assert plan_lab_reminders() >= 1
    keys = set(Notification.objects.filter(kind=Notification.Kind.LAB_DUE).values_list("idempotency_key", flat=True))
    assert f"lab-due:{patient.pk}:LITHIUM:{recheck_on:%Y%m%d}:in_app" in keys


def test_result_detail_says_when_the_recheck_is_due(client, patient, psychiatrist):
    lithium(patient, psychiatrist, days_ago=10)
    (result,) = monitoring.record_result(
        patient=patient, test_code="LITHIUM", value="1.9", unit="mmol/L",
        collected_on=timezone.localdate(), entered_by=psychiatrist,
    )  # fmt: skip
    log_in(client, psychiatrist)

    response = client.get(reverse("medications:lab_result_detail", args=[patient.pk, result.pk]))

    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    assert response.status_code == 200
    assert f"Re-check due {dates.day(tomorrow, year=True)} after a critical result" in response.content.decode()
