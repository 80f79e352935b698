"""One policy for clinical dates (clinic.dates.check_clinical_day), in every form that takes one.

An event (a visit, an evaluation, an onset, a lab sample) is not after today; a plan (a booking,
a prescription's start, a dose change, a due date) is at most two years ahead; neither is before
the patient's birth. Refused input gets the reason on its field, keeps what was typed, and stores
nothing.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django import forms
from django.urls import reverse

from appointments.models import Appointment, AppointmentType, WeeklyAvailability
from clinic.date_forms import ClinicalDateField, ClinicalDateTimeField
from medications.models import Prescription, SideEffectReport
from patients.models import Evaluation, VisitNote
from tests import factories
from tests.helpers import log_in
from tests.project_forms import project_forms

NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC)
BORN = datetime.date(1990, 5, 1)
# Dates that are not clinical, each with its own rule: a birth date (demographics: not ahead, not
# before 1900) and the ranges a reviewer filters the audit trail by.
NOT_CLINICAL = {
    "patients.forms.PatientDemographicsForm.date_of_birth",
    "clinic.privacy_views.AuditFilterForm.date_from",
    "clinic.privacy_views.AuditFilterForm.date_to",
    # A clinic export's date range (records.export_views): a filter over stored rows, like the audit log's.
    "records.forms.DateRangeForm.start",
    "records.forms.DateRangeForm.end",
    # django-celery-beat's own scheduling fields on the periodic-task admin form, which issue 24's
    # subclass (clinic.admin.SafetyTaskForm) guards for the safety tasks: when a task may run.
    "clinic.admin.SafetyTaskForm.expires",
    "clinic.admin.SafetyTaskForm.start_time",
}


def test_every_date_field_of_every_form_follows_the_policy():
    walked, outside = 0, []
    for name, cls in project_forms():
        walked += 1
        for field_name, field in cls.base_fields.items():
            if not isinstance(field, forms.DateField | forms.DateTimeField):
                continue
            if not isinstance(field, ClinicalDateField | ClinicalDateTimeField):
                outside.append(f"{name}.{field_name}")
    assert walked >= 20
    assert sorted(set(outside) - NOT_CLINICAL) == []
    assert set(outside) == NOT_CLINICAL  # the exceptions still exist


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def born_1990(patient):
    patient.date_of_birth = BORN
    patient.save(update_fields=["date_of_birth"])
    return patient


def visit_data(visit_at: str) -> dict:
    return {
        "visit_at": visit_at,
        "modality": "in_person",
        "interval_history": "Qzphi sleeping better",
        "adherence": "as_prescribed",
        "mental_status_exam": "Brighter.",
        "suicide_risk": "low",
        "violence_risk": "low",
        "risk_rationale": "No ideation.",
        "sign": "",
    }


@pytest.mark.parametrize(
    ("visit_at", "reason"),
    [
        ("2999-01-05T10:00", "cannot be after today"),
        ("2026-06-20T10:00", "cannot be after today"),
        ("1900-01-05T10:00", "before the patient's date of birth (May 1, 1990)"),
    ],
)
def test_a_visit_note_with_an_impossible_date_is_neither_saved_nor_signed(
    client, clock, born_1990, psychiatrist, visit_at, reason
):
    log_in(client, psychiatrist)

    response = client.post(reverse("appointments:visit_create", args=[born_1990.pk]), visit_data(visit_at))

    assert response.status_code == 200
    assert reason in " ".join(response.context["form"].errors["visit_at"])
    html = response.content.decode()
    assert f'value="{visit_at}"' in html  # what was typed is kept
    assert "Qzphi sleeping better" in html
    assert VisitNote.objects.count() == 0


def test_a_visit_note_dated_today_is_signed(client, clock, born_1990, psychiatrist):
    log_in(client, psychiatrist)

    response = client.post(reverse("appointments:visit_create", args=[born_1990.pk]), visit_data("2026-06-01T09:00"))

    assert response.status_code == 302
    assert VisitNote.objects.filter(status="signed").count() == 1


def test_an_evaluation_dated_tomorrow_is_refused(client, clock, born_1990, psychiatrist):
    log_in(client, psychiatrist)
    data = {
        "evaluation_date": "2026-06-02",
        "presenting_symptoms": "Qzphi low mood",
        "mental_status_exam": "Calm.",
        "suicide_risk": "low",
        "violence_risk": "low",
        "risk_rationale": "Engaged.",
    }

    response = client.post(reverse("patients:evaluation_create", args=[born_1990.pk]), data)

    assert response.status_code == 200
    assert "cannot be after today" in response.context["form"].errors["evaluation_date"][0]
    assert Evaluation.objects.count() == 0


@pytest.mark.parametrize(
    ("start_date", "reason"),
    [
        ("2099-01-01", "at most two years ahead (until Jun 1, 2028)"),
        ("1989-12-31", "before the patient's date of birth"),
    ],
)
def test_a_prescription_start_is_range_checked(client, clock, born_1990, psychiatrist, start_date, reason):
    log_in(client, psychiatrist)
    data = {
        "medication": factories.medication("sertraline").pk, "form": "tablet", "route": "oral",
        "strength_mg": "25", "dose_mg": "25", "frequency": "qam", "quantity": "30", "refills": "0",
        "start_date": start_date, "note": "Qzphi start low",
        "steps-TOTAL_FORMS": "5", "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "12",
    }  # fmt: skip

    response = client.post(reverse("medications:prescription_start", args=[born_1990.pk]), data)

    assert response.status_code == 200
    assert reason in response.context["form"].errors["start_date"][0]
    assert f'value="{start_date}"' in response.content.decode()
    assert Prescription.objects.count() == 0


def test_staff_cannot_book_an_appointment_in_2099(client, clock, clinic_admin, patient, psychiatrist):
    kind = AppointmentType.objects.create(name="Policy follow-up", duration_minutes=30)
    WeeklyAvailability.objects.create(
        psychiatrist=psychiatrist, weekday=3, start_time=datetime.time(0), end_time=datetime.time(23, 59)
    )
    log_in(client, clinic_admin)
    data = {"patient": patient.pk, "psychiatrist": psychiatrist.pk, "appointment_type": kind.pk}

    response = client.post(reverse("appointments:book"), {**data, "start": "2099-01-01T10:00"})

    assert response.status_code == 200
    assert "at most two years ahead" in response.context["form"].errors["start"][0]
    assert 'value="2099-01-01T10:00"' in response.content.decode()
    assert Appointment.objects.count() == 0


def test_a_side_effect_cannot_start_before_the_patient_was_born(client, clock, born_1990, psychiatrist):
    rx = factories.start(born_1990, psychiatrist)
    log_in(client, born_1990.user)
    data = {
        "prescription": str(rx.pk), "symptoms": ["nausea"], "other_symptoms": "Qzphi queasy",
        "severity": "mild", "onset_date": "1985-03-01", "ongoing": "yes",
    }  # fmt: skip

    response = client.post(reverse("medications:my_report_create"), data)

    assert response.status_code == 200
    assert "before the patient's date of birth" in response.context["form"].errors["onset_date"][0]
    assert "Qzphi queasy" in response.content.decode()
    assert SideEffectReport.objects.count() == 0
