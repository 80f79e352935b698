"""Prescribing checks as the psychiatrist meets them: alerts on the start and change forms before
anything is saved, override reasons, what is stored and audited, the chart's regimen panel, and the
pregnancy-status page."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent
from medications import safety
from medications.models import Prescription, PrescriptionEvent
from medications.templatetags import safety_tags
from patients.models import Patient
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctor(client, psychiatrist):
    log_in(client, psychiatrist)
    return client


def start_data(drug: str, **overrides) -> dict:
    data = {
        "medication": factories.medication(drug).pk,
        "form": "tablet",
        "route": "oral",
        "strength_mg": "15",
        "dose_mg": "15",
        "frequency": "tid",
        "extra_instructions": "with food",
        "quantity": "90",
        "refills": "0",
        "start_date": timezone.localdate().isoformat(),
        "end_date": "",
        "note": "Switch after failed trials",
        "steps-TOTAL_FORMS": "5",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "12",
    }
    data.update(overrides)
    return data


def start_url(patient) -> str:
    return reverse("medications:prescription_start", args=[patient.pk])


def ack_of(response) -> str:
    return response.context["safety"].fingerprint


def test_phenelzine_for_a_patient_on_sertraline_is_stopped_with_a_contraindicated_alert(doctor, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")

    response = doctor.post(start_url(patient), start_data("phenelzine"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Safety check: 2 alerts — nothing saved yet" in content
    assert "Contraindicated" in content and "phenelzine + sertraline: MAOI with a serotonergic" in content
    assert "need an override reason" in content
    assert f'name="safety-safety_ack" value="{ack_of(response)}"' in content
    # What was typed stays.
    assert 'value="with food"' in content and "Switch after failed trials" in content
    assert Prescription.objects.filter(patient=patient).count() == 1


def test_a_contraindicated_alert_needs_an_override_reason(doctor, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")
    first = doctor.post(start_url(patient), start_data("phenelzine"))

    response = doctor.post(
        start_url(patient),
        start_data("phenelzine", **{"safety-safety_ack": ack_of(first), "safety-override_reason": " "}),
    )

    assert response.status_code == 200
    assert response.context["review"].errors["override_reason"] == [
        "Contraindicated or major alerts need an override reason to save."
    ]
    assert Prescription.objects.filter(patient=patient).count() == 1
    assert not PrescriptionEvent.objects.filter(prescription__medication__generic_name="phenelzine").exists()


def test_with_an_override_reason_it_saves_and_stores_and_audits(doctor, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")
    first = doctor.post(start_url(patient), start_data("phenelzine"))
    reason = "Three failed SSRI trials; sertraline stopped today, inpatient monitoring for 2 weeks."

    response = doctor.post(
        start_url(patient),
        start_data("phenelzine", **{"safety-safety_ack": ack_of(first), "safety-override_reason": reason}),
    )

    assert response.status_code == 302
    rx = Prescription.objects.get(patient=patient, medication__generic_name="phenelzine")
    event = rx.events.get(kind=PrescriptionEvent.Kind.STARTED)
    assert event.override_reason == reason
    assert [(a["rule"], a["kind"], a["severity"], a["drugs"]) for a in event.safety_alerts] == [
        ("1", "interaction", "contraindicated", ["phenelzine", "sertraline"]),
        ("4", "counselling", "moderate", ["phenelzine"]),
    ]
    assert all(a["message"] for a in event.safety_alerts)
    override = AuditEvent.objects.get(detail__has_key="safety_override")
    assert (override.actor, override.patient, override.object_id) == (psychiatrist, patient, str(rx.pk))
    # Rule ids and severities only: no free text, no drug names.
    assert override.detail == {"change": "started", "safety_override": [{"rule": "1", "severity": "contraindicated"}]}


def test_moderate_alerts_need_only_to_be_seen(doctor, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")
    data = start_data("sumatriptan", strength_mg="50", dose_mg="50", frequency="qd")

    first = doctor.post(start_url(patient), data)
    assert first.status_code == 200
    assert [(a.rule, a.severity) for a in first.context["safety"].alerts] == [("7", "moderate")]
    assert "override_reason" not in first.content.decode()

    second = doctor.post(start_url(patient), {**data, "safety-safety_ack": ack_of(first)})

    assert second.status_code == 302
    event = PrescriptionEvent.objects.get(prescription__medication__generic_name="sumatriptan")
    assert [a["rule"] for a in event.safety_alerts] == ["7"]
    assert event.override_reason == ""
    assert not AuditEvent.objects.filter(detail__has_key="safety_override").exists()


def test_alerts_that_changed_since_they_were_shown_are_shown_again(doctor, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")
    first = doctor.post(start_url(patient), start_data("phenelzine"))
    # Meanwhile someone starts tramadol: the regimen to check is not the one reviewed.
    factories.start(patient, psychiatrist, drug="tramadol", dose="50", strength="50", frequency="qd")

    response = doctor.post(
        start_url(patient),
        start_data("phenelzine", **{"safety-safety_ack": ack_of(first), "safety-override_reason": "Reviewed"}),
    )

    assert response.status_code == 200
    assert "2" in {a.rule for a in response.context["safety"].alerts}  # MAOI + tramadol, new
    assert not Prescription.objects.filter(medication__generic_name="phenelzine").exists()


def test_no_alerts_saves_at_once(doctor, patient):
    response = doctor.post(start_url(patient), start_data("sertraline", strength_mg="50", dose_mg="50", frequency="qd"))

    assert response.status_code == 302
    assert PrescriptionEvent.objects.get().safety_alerts == []


def test_a_titration_plan_is_checked_at_its_highest_step(doctor, patient):
    data = start_data(
        "citalopram", strength_mg="20", dose_mg="20", frequency="qd",
        **{"steps-0-dose_mg": "20", "steps-0-duration_days": "14", "steps-1-dose_mg": "60"},
    )  # fmt: skip

    response = doctor.post(start_url(patient), data)

    assert response.status_code == 200
    assert [(a.kind, a.rule, a.drugs) for a in response.context["safety"].alerts] == [
        ("max_dose", "9", ("citalopram",))
    ]
    assert "60 mg/day is above 40 mg/day" in response.content.decode()


def test_dose_change_above_the_citalopram_cap_at_61_needs_a_reason(doctor, patient, psychiatrist):
    patient.date_of_birth = timezone.localdate().replace(year=timezone.localdate().year - 61) - datetime.timedelta(1)
    patient.save(update_fields=["date_of_birth"])
    rx = factories.start(patient, psychiatrist, drug="citalopram", dose="20", strength="20", frequency="qd")
    url = reverse("medications:prescription_change", args=[patient.pk, rx.pk])
    data = {"dose_mg": "30", "frequency": "qd", "reason": "ineffective", "note": "Partial response",
            "effective_date": timezone.localdate().isoformat()}  # fmt: skip

    first = doctor.post(url, data)
    assert first.status_code == 200
    assert [(a.kind, a.severity) for a in first.context["safety"].alerts] == [("max_dose", "major")]
    assert "Age over 60: cap 20 mg/day" in first.content.decode()
    assert "Partial response" in first.content.decode()
    rx.refresh_from_db()
    assert rx.dose_mg == Decimal(20)

    done = doctor.post(
        url, {**data, "safety-safety_ack": ack_of(first), "safety-override_reason": "ECG normal, QTc 410 ms"}
    )

    assert done.status_code == 302
    rx.refresh_from_db()
    assert rx.dose_mg == Decimal(30)
    event = rx.events.get(kind=PrescriptionEvent.Kind.DOSE_CHANGED)
    assert (event.override_reason, [a["rule"] for a in event.safety_alerts]) == ("ECG normal, QTc 410 ms", ["9"])
    # The override rides on the change's own row (one audit row per request).
    detail = AuditEvent.objects.get(detail__has_key="safety_override").detail
    assert (detail["change"], detail["safety_override"]) == ("dose_changed", [{"rule": "9", "severity": "major"}])


def test_other_form_errors_keep_the_override_reason_typed(doctor, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")
    first = doctor.post(start_url(patient), start_data("phenelzine"))

    response = doctor.post(
        start_url(patient),
        start_data(
            "phenelzine", quantity="0", **{"safety-safety_ack": ack_of(first), "safety-override_reason": "Kept"}
        ),
    )

    assert response.status_code == 200
    assert "quantity" in response.context["form"].errors
    assert "Kept</textarea>" in response.content.decode()


def test_prescription_detail_shows_the_stored_alerts_and_override(doctor, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")
    first = doctor.post(start_url(patient), start_data("phenelzine"))
    doctor.post(
        start_url(patient),
        start_data("phenelzine", **{"safety-safety_ack": ack_of(first), "safety-override_reason": "Refractory MDD"}),
    )
    rx = Prescription.objects.get(medication__generic_name="phenelzine")

    response = doctor.get(reverse("medications:prescription_detail", args=[patient.pk, rx.pk]))

    content = response.content.decode()
    assert "Safety checks at prescribing" in content
    assert "phenelzine + sertraline: MAOI with a serotonergic" in content
    assert "Override reason:" in content and "Refractory MDD" in content


def test_chart_shows_the_current_regimens_alerts_without_queries_of_its_own(doctor, patient, psychiatrist, monkeypatch):
    factories.start(patient, psychiatrist, drug="sertraline")
    factories.start(patient, psychiatrist, drug="tramadol", dose="50", strength="50", frequency="qid")
    cost = []
    check_current = safety.check_current

    def counted(*args, **kwargs):
        with CaptureQueriesContext(connection) as queries:
            result = check_current(*args, **kwargs)
        cost.append(len(queries))
        return result

    monkeypatch.setattr(safety_tags.safety, "check_current", counted)

    response = doctor.get(reverse("patients:chart", args=[patient.pk]))

    content = response.content.decode()
    assert "Prescribing checks" in content
    assert "sertraline + tramadol: Two or more serotonergic drugs" in content
    assert "1 major" in content
    assert cost == [0]


def test_chart_with_nothing_to_report(doctor, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")

    response = doctor.get(reverse("patients:chart", args=[patient.pk]))

    assert "No interaction, washout, dose, duplicate, allergy, pregnancy or age alerts" in response.content.decode()
    assert "Pregnancy status: not recorded" in response.content.decode()


def test_confirming_a_plan_step_warns_about_blocking_alerts(doctor, patient, psychiatrist):
    from medications.prescribing import PlanStepInput

    patient.date_of_birth = datetime.date(1950, 1, 1)
    patient.save(update_fields=["date_of_birth"])
    rx = factories.start(
        patient, psychiatrist, drug="citalopram", dose="20", strength="20", frequency="qd",
        titration_steps=[PlanStepInput(Decimal(20), 7), PlanStepInput(Decimal(40), None)],
    )  # fmt: skip
    plan = rx.plans.get()

    response = doctor.post(reverse("medications:plan_confirm_step", args=[patient.pk, rx.pk, plan.pk]), follow=True)

    assert "Safety check on this step: 1 contraindicated/major alert(s)" in response.content.decode()
    stored = rx.events.get(kind=PrescriptionEvent.Kind.DOSE_CHANGED).safety_alerts
    assert ("9", "major") in [(a["rule"], a["severity"]) for a in stored]


# -- Pregnancy status ------------------------------------------------------------------------


def test_psychiatrist_sets_pregnancy_status_and_the_flag_follows(doctor, patient):
    url = reverse("medications:pregnancy_status", args=[patient.pk])

    response = doctor.post(url, {"pregnancy_status": "pregnant"})

    assert response["Location"] == reverse("patients:chart", args=[patient.pk])
    patient.refresh_from_db()
    assert patient.pregnancy_status == "pregnant"
    assert AuditEvent.objects.filter(patient=patient, detail={"field": "pregnancy_status"}).exists()
    started = doctor.post(
        start_url(patient), start_data("valproate", strength_mg="250", dose_mg="250", frequency="tid")
    )
    assert [(a.kind, a.rule, a.severity) for a in started.context["safety"].alerts] == [
        ("pregnancy", "P-valproate", "major")
    ]


def test_pregnancy_status_refuses_a_bad_choice(doctor, patient):
    response = doctor.post(reverse("medications:pregnancy_status", args=[patient.pk]), {"pregnancy_status": "maybe"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Patient.objects.get(pk=patient.pk).pregnancy_status == ""


@pytest.mark.parametrize(
    ("who", "status"),
    [("other_psychiatrist", 404), ("patient", 403), ("clinic_admin", 403), ("anonymous", 302)],
)
def test_pregnancy_status_is_for_the_patients_own_psychiatrists(
    client, patient, psychiatrist2, clinic_admin, who, status
):
    users = {"other_psychiatrist": psychiatrist2, "patient": patient.user, "clinic_admin": clinic_admin}
    if who in users:
        log_in(client, users[who])

    response = client.post(reverse("medications:pregnancy_status", args=[patient.pk]), {"pregnancy_status": "pregnant"})

    assert response.status_code == status
    assert Patient.objects.get(pk=patient.pk).pregnancy_status == ""


def test_chart_advice_names_only_drugs_in_the_alert(doctor, patient, psychiatrist):
    # Two serotonergic drugs, neither of them tramadol: rule 7's tramadol advice must not appear.
    factories.start(patient, psychiatrist, drug="sertraline")
    factories.start(patient, psychiatrist, drug="trazodone", dose="50", strength="50", frequency="qhs")

    response = doctor.get(reverse("patients:chart", args=[patient.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert "sertraline + trazodone: Two or more serotonergic drugs" in content
    assert "tramadol" not in content.lower()

    # With tramadol in the regimen, its advice is back, on the alert that names it.
    factories.start(patient, psychiatrist, drug="tramadol", dose="50", strength="50", frequency="qid")
    content = doctor.get(reverse("patients:chart", args=[patient.pk])).content.decode()
    assert content.count("Tramadol also lowers the seizure threshold") == 1
