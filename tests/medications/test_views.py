"""Prescribing and side-effect pages as the psychiatrist and the patient meet them.

Bad input gets a clear message on the form, and what was typed stays in the form.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic import dates
from medications.models import Prescription, SideEffectReport
from patients.models import Diagnosis
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def day(offset: int = 0) -> str:
    """An ISO date relative to today, so the tests do not age."""
    return (timezone.localdate() + datetime.timedelta(days=offset)).isoformat()


@pytest.fixture
def doctor(client, psychiatrist):
    log_in(client, psychiatrist)
    return client


def start_data(**overrides):
    data = {
        "medication": factories.medication("sertraline").pk,
        "form": "tablet",
        "route": "oral",
        "strength_mg": "25",
        "dose_mg": "25",
        "frequency": "qam",
        "extra_instructions": "with breakfast",
        "quantity": "30",
        "refills": "1",
        "start_date": day(-3),
        "end_date": "",
        "note": "Start low",
        "steps-TOTAL_FORMS": "5",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "12",
    }
    data.update(overrides)
    return data


def test_start_sertraline_with_a_titration_plan_to_100(doctor, patient):
    data = start_data(
        **{
            "steps-0-dose_mg": "25",
            "steps-0-duration_days": "7",
            "steps-1-dose_mg": "50",
            "steps-1-duration_days": "14",
            "steps-2-dose_mg": "100",
        }
    )

    response = doctor.post(reverse("medications:prescription_start", args=[patient.pk]), data)

    assert response.status_code == 302
    rx = Prescription.objects.get(patient=patient)
    assert rx.sig == "Take 1 tablet (25 mg) by mouth once daily in the morning, with breakfast."
    steps = [(s.dose_mg, s.duration_days) for s in rx.plans.get().ordered_steps]
    assert steps == [(Decimal(25), 7), (Decimal(50), 14), (Decimal(100), None)]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"dose_mg": "0"}, "dose_mg", "Ensure this value is greater than or equal to 0.001."),
        ({"quantity": "-3"}, "quantity", "Ensure this value is greater than or equal to 1."),
        ({"quantity": "100000"}, "quantity", "Ensure this value is less than or equal to 1000."),
        ({"end_date": day(-22)}, "end_date", "The end date cannot be before the start date."),
    ],
)
def test_bad_prescription_input_gets_a_message_and_keeps_what_was_typed(doctor, patient, overrides, field, message):
    response = doctor.post(reverse("medications:prescription_start", args=[patient.pk]), start_data(**overrides))

    assert response.status_code == 200
    assert message in response.context["form"].errors[field]
    content = response.content.decode()
    assert 'value="with breakfast"' in content
    assert "Start low" in content
    assert not Prescription.objects.exists()


def test_second_active_prescription_message_on_the_form(doctor, patient, psychiatrist):
    factories.start(patient, psychiatrist)

    response = doctor.post(reverse("medications:prescription_start", args=[patient.pk]), start_data(dose_mg="50"))

    assert response.status_code == 200
    assert "already has an active sertraline prescription" in response.context["form"].errors["medication"][0]
    assert Prescription.objects.filter(patient=patient).count() == 1


def test_visit_raises_the_dose_with_a_coded_reason(doctor, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)
    visit = factories.visit(patient, psychiatrist)

    response = doctor.post(
        reverse("medications:prescription_change", args=[patient.pk, rx.pk]) + f"?visit={visit.pk}",
        {
            "dose_mg": "50",
            "frequency": "qam",
            "reason": "ineffective",
            "note": "Partial response",
            "effective_date": day(),
        },
    )

    assert response["Location"] == reverse("appointments:visit_edit", args=[patient.pk, visit.pk])
    event = rx.events.get(kind="dose_changed")
    assert (event.to_dose_mg, event.reason, event.visit_note) == (Decimal(50), "ineffective", visit)


def post_change(doctor, patient, rx, **fields):
    data = {"frequency": "qam", "reason": "side_effect", "note": "keep me", "effective_date": day(), **fields}
    return doctor.post(reverse("medications:prescription_change", args=[patient.pk, rx.pk]), data)


def test_change_form_refuses_zero(doctor, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)

    response = post_change(doctor, patient, rx, dose_mg="0")

    assert "more than 0 mg" in response.context["form"].errors["dose_mg"][0]
    assert "keep me" in response.content.decode()


def test_stop_offers_a_taper_for_a_benzodiazepine(doctor, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="clonazepam", dose="0.5", strength="0.5", frequency="bid")

    page = doctor.get(reverse("medications:prescription_stop", args=[patient.pk, rx.pk]))
    assert page.context["form"].initial["how"] == "taper"
    assert b"Taper recommended." in page.content

    response = doctor.post(
        reverse("medications:prescription_stop", args=[patient.pk, rx.pk]),
        {
            "how": "taper",
            "reason": "no_longer_needed",
            "effective_date": day(),
            "steps-TOTAL_FORMS": "5",
            "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "12",
            "steps-0-dose_mg": "0.5",
            "steps-0-duration_days": "14",
            "steps-1-dose_mg": "0.25",
            "steps-1-duration_days": "14",
            "steps-2-dose_mg": "0",
        },
    )

    assert response.status_code == 302
    plan = rx.plans.get()
    assert (plan.kind, plan.stop_reason) == ("taper", "no_longer_needed")
    assert Prescription.objects.get(pk=rx.pk).is_active  # stops when the last step is confirmed


def test_unknown_icd_code_is_refused_and_kept(doctor, patient):
    response = doctor.post(
        reverse("patients:diagnosis_create", args=[patient.pk]), {"icd10_code": "F99.99", "onset_date": ""}
    )

    assert "“F99.99” is not a billable ICD-10-CM code" in response.context["form"].errors["icd10_code"][0]
    assert 'value="F99.99"' in response.content.decode()
    assert not Diagnosis.objects.exists()


def test_icd_search_by_words_then_add(doctor, patient):
    found = doctor.post(
        reverse("patients:diagnosis_create", args=[patient.pk]), {"search": "generalized anxiety", "find": ""}
    )
    assert ("F41.1", "Generalized anxiety disorder") in found.context["results"]

    doctor.post(reverse("patients:diagnosis_create", args=[patient.pk]), {"icd10_code": "f411", "onset_date": ""})

    diagnosis = Diagnosis.objects.get(patient=patient)
    assert (diagnosis.icd10_code, diagnosis.description) == ("F41.1", "Generalized anxiety disorder")


def test_patient_reports_a_side_effect_and_it_reaches_the_inbox(client, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)
    log_in(client, patient.user)
    form_page = client.get(reverse("medications:my_report_create"))
    codes = [code for code, _ in form_page.context["form"].fields["symptoms"].choices]
    assert "nausea" in codes  # general item
    assert "serotonin_syndrome_signs" in codes  # SSRI-class item

    response = client.post(
        reverse("medications:my_report_create"),
        {
            "prescription": str(rx.pk),
            "symptoms": ["nausea"],
            "other_symptoms": "Worse in the morning",
            "severity": "moderate",
            "onset_date": (timezone.localdate() - datetime.timedelta(days=3)).isoformat(),
            "ongoing": "yes",
        },
    )

    assert response["Location"] == reverse("medications:my_report_sent")
    report = SideEffectReport.objects.get()
    assert (report.prescription, report.symptoms, report.is_urgent) == (rx, ["nausea"], False)
    client.post(reverse("account_logout"))
    log_in(client, psychiatrist)
    inbox = client.get(reverse("medications:inbox"))
    assert list(inbox.context["reports"]) == [report]


def test_urgent_report_shows_crisis_resources_at_once(client, patient, psychiatrist):
    from medications import checklists

    urgent = next(item["code"] for item in checklists.items_for({"ssri"}) if item["urgent"])
    factories.start(patient, psychiatrist)
    log_in(client, patient.user)

    client.post(
        reverse("medications:my_report_create"),
        {
            "prescription": "not_sure",
            "symptoms": [urgent],
            "severity": "severe",
            "onset_date": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
            "ongoing": "yes",
        },
    )
    page = client.get(reverse("medications:my_report_sent"))

    # Urgent (not emergency): call the clinic today, with 988/911 if it gets worse. The full
    # crisis resources for emergencies are tested in tests/medications/test_triage.py.
    assert SideEffectReport.objects.get().triage_level == "urgent"
    assert b"Please call the clinic today" in page.content
    assert b'href="tel:988"' in page.content


def test_empty_report_is_refused_and_keeps_input(client, patient, psychiatrist):
    factories.start(patient, psychiatrist)
    log_in(client, patient.user)

    response = client.post(
        reverse("medications:my_report_create"),
        {"prescription": "not_sure", "severity": "mild", "onset_date": day(-3), "ongoing": "yes"},
    )

    assert response.status_code == 200
    assert b"Tick at least one symptom or describe what is happening." in response.content
    assert f'value="{day(-3)}"'.encode() in response.content
    assert not SideEffectReport.objects.exists()


def test_psychiatrist_acknowledges_replies_and_links_a_dose_change(doctor, patient, psychiatrist):
    from medications import prescribing
    from medications.models import ChangeReason

    rx = factories.start(patient, psychiatrist)
    report = factories.report(patient, prescription=rx)
    change = prescribing.change_dose(rx, actor=psychiatrist, dose_mg=Decimal("12.5"), reason=ChangeReason.SIDE_EFFECT)

    doctor.post(reverse("medications:report_acknowledge", args=[patient.pk, report.pk]))
    doctor.post(
        reverse("medications:report_detail", args=[patient.pk, report.pk]),
        {"reply": "Lowered to 12.5 mg.", "resulting_event": str(change.pk)},
    )

    report.refresh_from_db()
    assert report.acknowledged_by == psychiatrist
    assert (report.replies.get().text, report.resulting_event) == ("Lowered to 12.5 mg.", change)


def test_staff_records_a_report_on_behalf(doctor, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)

    doctor.post(
        reverse("medications:staff_report_create", args=[patient.pk]),
        {"prescription": str(rx.pk), "symptoms": ["headache"], "severity": "mild", "onset_date": day(-3),
         "ongoing": "no"},
    )  # fmt: skip

    report = SideEffectReport.objects.get()
    assert report.reported_by == psychiatrist
    assert report.reported_on_behalf
    assert report.ongoing is False


def test_ticked_symptoms_stay_ticked_after_an_error(client, patient, psychiatrist):
    factories.start(patient, psychiatrist)
    log_in(client, patient.user)

    response = client.post(
        reverse("medications:my_report_create"),
        {"prescription": "not_sure", "symptoms": ["nausea"], "onset_date": day(-3), "ongoing": "yes"},
    )

    assert "This field is required." in response.context["form"].errors["severity"]
    assert 'value="nausea" id="symptom-nausea" checked' in response.content.decode()


# -- A hard dose limit per drug (issue 16, item 11) ------------------------------------------------

HARD_LIMIT = "above the hard limit for sertraline (600 mg a day"


def test_an_implausible_start_dose_is_an_input_error_not_an_override(doctor, patient):
    data = start_data(dose_mg="99999", strength_mg="100", override_reason="I am sure", acknowledged="x")

    response = doctor.post(reverse("medications:prescription_start", args=[patient.pk]), data)

    assert response.status_code == 200
    (error,) = response.context["form"].errors["dose_mg"]
    assert HARD_LIMIT in error and "99999 mg" in error
    assert 'value="99999"' in response.content.decode()  # what was typed stays
    assert not Prescription.objects.exists()


def test_the_limit_counts_every_dose_of_the_day(doctor, patient):
    # 200 mg is a labelled single dose, but four times a day is 800 mg a day.
    data = start_data(dose_mg="200", strength_mg="100", frequency="qid")

    response = doctor.post(reverse("medications:prescription_start", args=[patient.pk]), data)

    assert response.status_code == 200
    assert "800 mg a day" in response.context["form"].errors["dose_mg"][0]
    assert not Prescription.objects.exists()


def test_a_titration_step_above_the_limit_is_refused(doctor, patient):
    data = start_data(
        **{
            "steps-0-dose_mg": "25",
            "steps-0-duration_days": "7",
            "steps-1-dose_mg": "5000",
        }
    )

    response = doctor.post(reverse("medications:prescription_start", args=[patient.pk]), data)

    assert response.status_code == 200
    assert HARD_LIMIT in response.content.decode()
    assert not Prescription.objects.exists()


def test_an_implausible_dose_change_is_refused_and_the_dose_kept(doctor, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)

    response = post_change(doctor, patient, rx, dose_mg="99999", reason="ineffective", override_reason="I am sure")

    assert response.status_code == 200
    assert HARD_LIMIT in response.context["form"].errors["dose_mg"][0]
    assert "keep me" in response.content.decode()
    rx.refresh_from_db()
    assert (rx.dose_mg, rx.events.filter(kind="dose_changed").count()) == (Decimal(25), 0)


# -- Replies are a history (issue 16, item 8) ------------------------------------------------------


def test_a_second_reply_keeps_the_first_visible_to_the_patient_each_dated(client, patient, psychiatrist):
    report = factories.report(patient, prescription=factories.start(patient, psychiatrist))
    log_in(client, psychiatrist)
    url = reverse("medications:report_detail", args=[patient.pk, report.pk])
    first = client.post(url, {"reply": "Take it with food for a week."})
    assert not client.get(url).context["form"]["reply"].value()  # the form adds a reply, never edits one
    second = client.post(url, {"reply": "If it is no better, we lower the dose."})
    staff_page = client.get(url).content.decode()
    client.logout()
    log_in(client, patient.user)
    home = client.get(reverse("patient_home")).content.decode()

    assert first.status_code == second.status_code == 302
    section = home[home.index('id="reports-heading"') :]
    assert section.index("Take it with food for a week.") < section.index("If it is no better, we lower the dose.")
    assert "Take it with food for a week." in staff_page and "If it is no better, we lower the dose." in staff_page
    rows = list(report.replies.order_by("created_at", "pk"))
    assert [(r.text, r.author) for r in rows] == [
        ("Take it with food for a week.", psychiatrist), ("If it is no better, we lower the dose.", psychiatrist),
    ]  # fmt: skip
    # Each reply dated, in the viewer's zone (the clinic's here), as every page prints a moment.
    assert dates.moment(rows[0].created_at) in section and dates.moment(rows[1].created_at) in section
    with pytest.raises(PermissionError):
        rows[0].save()


def test_an_over_long_reply_is_refused_and_kept(doctor, patient, psychiatrist):
    report = factories.report(patient)
    text = "x" * 4001

    response = doctor.post(reverse("medications:report_detail", args=[patient.pk, report.pk]), {"reply": text})

    assert response.status_code == 200
    assert "at most 4000 characters" in response.context["form"].errors["reply"][0]
    assert text in response.content.decode()
