"""The dates the clinic metrics' caseload counts, recorded on the patient at write time (issue 24,
docs/metrics.md "Caseload"): Patient.last_measured_at by questionnaires.submit, lab_overdue_from and
review_overdue_from by medications.due with the work list. Each path ends with the recorded dates
checked against the records themselves; nothing else writes them (a full save of a patient loaded
earlier does not put an old value back)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone

from medications import due
from medications.models import DueEntry
from patients import questionnaires, record
from patients.models import Patient
from tests import factories
from tests.helpers import caseload_facts_against_the_records

pytestmark = pytest.mark.django_db

MONDAY = datetime.datetime(2026, 6, 1, 9, 0, tzinfo=datetime.UTC)


def later(days: float) -> datetime.datetime:
    return MONDAY + datetime.timedelta(days=days)


def measured(patient) -> datetime.datetime | None:
    return Patient.objects.values_list("last_measured_at", flat=True).get(pk=patient.pk)


def test_a_phq9_or_gad7_records_the_last_measurement(patient):
    with time_machine.travel(MONDAY, tick=False):
        factories.submit_phq9(patient, 1)
    assert measured(patient) == MONDAY
    with time_machine.travel(later(3), tick=False):
        questionnaires.submit(
            patient=patient,
            instrument="gad7",
            answers={str(n): 1 for n in range(1, 8)},
            completed_by=patient.user,
            context="portal",
        )
    assert measured(patient) == later(3)
    assert caseload_facts_against_the_records() == {}


def test_a_short_screen_is_not_a_measurement(patient):
    with time_machine.travel(MONDAY, tick=False):
        questionnaires.submit(
            patient=patient, instrument="phq2", answers={"1": 0, "2": 0}, completed_by=patient.user, context="portal"
        )
    assert measured(patient) is None
    assert caseload_facts_against_the_records() == {}


def test_an_earlier_time_never_replaces_a_later_one(patient):
    """Two submissions committing in the other order than their clocks keep the later time."""
    questionnaires.record_measured(patient, at=later(2))
    questionnaires.record_measured(Patient.objects.get(pk=patient.pk), at=later(1))
    assert measured(patient) == later(2)


def test_a_demographics_edit_of_an_earlier_copy_keeps_the_recorded_dates(patient, clinic_admin):
    loaded_before = Patient.objects.get(pk=patient.pk)  # the front desk's form, opened first
    with time_machine.travel(MONDAY, tick=False):
        factories.submit_phq9(patient, 1)
    loaded_before.city = "Springfield"
    record.update_demographics(loaded_before, ["city"], by=clinic_admin)
    stored = Patient.objects.get(pk=patient.pk)
    assert (stored.city, stored.last_measured_at) == ("Springfield", MONDAY)
    assert caseload_facts_against_the_records() == {}


def test_the_work_list_records_the_first_overdue_days(patient, psychiatrist):
    # Lithium begun 400 days ago with no level since: its monitoring is overdue. The prescription's
    # commit refreshes the patient's list (medications.due.touch, on commit: called here).
    factories.start(
        patient, psychiatrist, "lithium", "300", "300", "bid", form="capsule (carbonate)",
        start_date=timezone.localdate() - datetime.timedelta(days=400),
    )  # fmt: skip
    due.refresh([patient.pk])
    assert DueEntry.objects.filter(patient=patient).exists()
    assert caseload_facts_against_the_records() == {}
    stored = Patient.objects.get(pk=patient.pk)
    lab_days = DueEntry.objects.filter(patient=patient, kind=DueEntry.Kind.LAB).values_list("overdue_from", flat=True)
    assert stored.lab_overdue_from == min(lab_days)
    # The work list emptied: the dates go with it.
    DueEntry.objects.filter(patient=patient).delete()
    due.summarise([patient.pk])
    stored.refresh_from_db()
    assert (stored.lab_overdue_from, stored.review_overdue_from) == (None, None)


def test_a_new_patient_has_no_dates(clinic_admin):
    patient = factories.PatientFactory(user=factories.PatientUserFactory())
    assert (patient.last_measured_at, patient.lab_overdue_from, patient.review_overdue_from) == (None, None, None)
    assert caseload_facts_against_the_records() == {}
