"""Every form the front desk (clinic admin) fills, fuzzed through its view (tests/fuzz/harness.py)."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.models import Appointment, TimeOff, WeeklyAvailability
from appointments.schedule_forms import AvailabilityForm, BookingForm, CancelForm, MoveForm, TimeOffForm
from clinic.models import User
from patients.forms import PatientDemographicsForm
from patients.models import Patient
from tests import factories
from tests.fuzz import harness
from tests.fuzz.cases import auto_baseline, row, snapshot
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, clinic_admin):
    log_in(client, clinic_admin)
    return client


@pytest.fixture
def open_diary(psychiatrist):
    """The psychiatrist works every day, all day: only the input decides whether a time is bookable."""
    for weekday in range(7):
        WeeklyAvailability.objects.create(
            psychiatrist=psychiatrist, weekday=weekday, start_time=datetime.time(0, 0), end_time=datetime.time(23, 59)
        )
    return psychiatrist


def _local(days: int, hour: int) -> str:
    day = timezone.localdate() + datetime.timedelta(days=days)
    return f"{day.isoformat()}T{hour:02d}:00"


DEMOGRAPHICS = {
    "legal_first_name": "Rosa", "legal_last_name": "Quint", "date_of_birth": "1985-04-02", "sex": "female",
    "country": "US", "time_zone": "America/New_York", "preferred_language": "en",
}  # fmt: skip


def test_register_patient(signed_in):
    fields = harness.form_fields(PatientDemographicsForm())
    harness.run(signed_in, harness.Case(
        name="PatientDemographicsForm (new)", share=0.5, normalised=frozenset({"country"}),
        url=reverse("patients:register"), fields=fields,
        baseline=auto_baseline(fields, **DEMOGRAPHICS), snapshot=lambda: snapshot(Patient.objects.all()),
        stored=lambda: row(Patient.objects.order_by("-pk").first()),
        bad={"date_of_birth": ["1899-12-31", "0001-01-01", "2999-01-01", "9999-12-31"]},
        render_url=lambda: reverse("patients:edit_demographics", args=[Patient.objects.latest("pk").pk]),
    ))  # fmt: skip


def test_edit_demographics(signed_in, patient):
    fields = harness.form_fields(PatientDemographicsForm(instance=patient))
    harness.run(signed_in, harness.Case(
        name="PatientDemographicsForm (edit)", share=0.5, normalised=frozenset({"country"}),
        url=reverse("patients:edit_demographics", args=[patient.pk]),
        fields=fields, baseline=auto_baseline(fields, **DEMOGRAPHICS),
        snapshot=lambda: snapshot(Patient.objects.filter(pk=patient.pk)),
        stored=lambda: row(Patient.objects.get(pk=patient.pk)),
        bad={"date_of_birth": ["1899-12-31", "2999-01-01"]},
        render_url=lambda: reverse("patients:edit_demographics", args=[patient.pk]),
    ))  # fmt: skip


def test_weekly_availability(signed_in, psychiatrist):
    fields = harness.form_fields(AvailabilityForm(prefix="window"))
    harness.run(signed_in, harness.Case(
        name="AvailabilityForm", url=reverse("appointments:availability", args=[psychiatrist.pk]), fields=fields,
        baseline={"add_window": "1", "window-weekday": "2", "window-start_time": "09:00", "window-end_time": "12:00"},
        snapshot=lambda: snapshot(WeeklyAvailability.objects.all()), fixed=frozenset({"add_window"}),
        bad={"window-weekday": ["7", "-1", "NaN"]}, bad_alone={"window-end_time": ["08:00", "09:00"]},
    ))  # fmt: skip


def test_time_off(signed_in, psychiatrist):
    fields = harness.form_fields(TimeOffForm(prefix="off"))
    harness.run(signed_in, harness.Case(
        name="TimeOffForm", url=reverse("appointments:availability", args=[psychiatrist.pk]), fields=fields,
        baseline={"add_time_off": "1", "off-start": _local(20, 9), "off-end": _local(21, 17), "off-reason": "Leave"},
        snapshot=lambda: snapshot(TimeOff.objects.all()), fixed=frozenset({"add_time_off"}),
        stored=lambda: row(TimeOff.objects.order_by("-pk").first(), prefix="off-"),
        bad={"off-end": ["9999-12-31T23:59"], "off-start": ["0001-01-01T00:00"]},
        bad_alone={"off-end": [_local(19, 9), _local(20, 9)]},
        render_url=lambda: reverse("appointments:availability", args=[psychiatrist.pk]),
    ))  # fmt: skip


def test_book(signed_in, open_diary, patient):
    kind = factories.AppointmentTypeFactory()
    patients = Patient.objects.all()
    psychiatrists = User.objects.filter(role=User.Role.PSYCHIATRIST)
    fields = harness.form_fields(BookingForm(patients=patients, psychiatrists=psychiatrists))
    harness.run(signed_in, harness.Case(
        name="BookingForm", url=reverse("appointments:book"), fields=fields,
        baseline={"patient": str(patient.pk), "psychiatrist": str(open_diary.pk), "appointment_type": str(kind.pk),
                  "start": _local(9, 10)},
        snapshot=lambda: snapshot(Appointment.objects.all()),
        bad={"repeat_every_weeks": ["0", "-1", "27", "NaN"], "repeat_count": ["1", "0", "27", "1e9"],
             "start": ["2000-01-01T10:00", "0001-01-01T00:00", "9999-12-31T23:59"]},
        render_url=lambda: reverse("appointments:appointment_detail", args=[Appointment.objects.latest("pk").pk]),
    ))  # fmt: skip


def test_move(signed_in, open_diary, patient):
    appointment = factories.AppointmentFactory(patient=patient, psychiatrist=open_diary)
    fields = harness.form_fields(MoveForm(prefix="move"))
    harness.run(signed_in, harness.Case(
        name="MoveForm", url=reverse("appointments:appointment_detail", args=[appointment.pk]), fields=fields,
        baseline={"move": "1", "move-start": _local(12, 11)}, fixed=frozenset({"move"}),
        snapshot=lambda: snapshot(Appointment.objects.filter(pk=appointment.pk)),
        bad={"move-start": ["2000-01-01T10:00", "0001-01-01T00:00", "9999-12-31T23:59", "2101-01-01T10:00"]},
    ))  # fmt: skip


def test_cancel(signed_in, open_diary, patient):
    appointment = factories.AppointmentFactory(patient=patient, psychiatrist=open_diary)
    fields = harness.form_fields(CancelForm(prefix="cancel"))
    harness.run(signed_in, harness.Case(
        name="CancelForm (front desk)", share=0.5,
        url=reverse("appointments:appointment_detail", args=[appointment.pk]),
        fields=fields, baseline={"cancel": "1", "cancel-reason": "Clinician unwell."}, fixed=frozenset({"cancel"}),
        snapshot=lambda: snapshot(Appointment.objects.filter(pk=appointment.pk)),
        stored=lambda: {"cancel-reason": Appointment.objects.get(pk=appointment.pk).cancel_reason},
        render_url=lambda: reverse("appointments:appointment_detail", args=[appointment.pk]),
    ))  # fmt: skip
