"""The patient's scheduling links lead somewhere useful (issue 16): "Book an appointment" for a
login not yet linked to a clinic record, a GET of the waitlist address, and "call the clinic"
always with the clinic's number (TITRATE_CLINIC_PHONE)."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone

from appointments import booking
from appointments.models import AppointmentType
from clinic.envconf import Env, tel_link
from tests.factories import PatientUserFactory
from tests.helpers import log_in, manage, production_env

PHONE = '<a href="tel:+16175550100">(617) 555-0100</a>'


@pytest.mark.django_db
def test_a_signed_up_patient_without_a_record_is_told_how_to_book(client):
    signed_up = PatientUserFactory()  # signed up online; the front desk has not linked a record yet
    log_in(client, signed_up)

    pages = {
        name: client.get(reverse(name))
        for name in ("appointments:my_book", "appointments:my_appointments", "appointments:my_waitlist")
    }

    for name, page in pages.items():
        assert page.status_code == 200, name
        text = page.content.decode()
        assert "Your account is not linked to your clinic record yet" in text, name
        assert f"To book an appointment or ask about your account, call the clinic on {PHONE}." in text, name


@pytest.mark.django_db
def test_the_waitlist_address_leads_to_my_appointments(client, patient):
    log_in(client, patient.user)

    response = client.get(reverse("appointments:my_waitlist"))

    assert response.status_code == 302
    assert response["Location"] == reverse("appointments:my_appointments")
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_call_the_clinic_comes_with_the_number(client, patient, psychiatrist):
    # A type the patient may book, but no hours: no free times, so the page says to call.
    AppointmentType.objects.create(name="Follow-up", duration_minutes=30, patient_bookable=True)
    log_in(client, patient.user)
    page = client.get(reverse("appointments:my_book")).content.decode()
    assert f"or call the clinic on {PHONE}." in page

    # Too late to cancel online: the refusal names the number.
    visit = AppointmentType.objects.create(name="Visit", duration_minutes=30, cancel_window_hours=48)
    from tests.factories import AppointmentFactory

    soon = AppointmentFactory(
        patient=patient, psychiatrist=psychiatrist, appointment_type=visit,
        start=timezone.now() + datetime.timedelta(hours=5),
    )  # fmt: skip
    response = client.post(reverse("appointments:my_cancel", args=[soon.pk]), follow=True)
    assert "Please call the clinic on (617) 555-0100." in response.content.decode()
    with pytest.raises(Exception, match=r"call the clinic on \(617\) 555-0100"):
        booking.cancel(soon, by=patient.user, reason="Cannot come", by_patient=True)


def test_the_clinic_phone_is_checked_and_dialable():
    assert Env({"P": "617-555-0100"}).phone("P", "US") == "617-555-0100"
    assert Env({}).phone("P", "US", default="(617) 555-0100") == "(617) 555-0100"
    assert tel_link("(617) 555-0100", "US") == "tel:+16175550100"
    with pytest.raises(ImproperlyConfigured, match="is not a telephone number"):
        Env({"P": "call us"}).phone("P", "US")
    with pytest.raises(ImproperlyConfigured, match="P must be set"):
        Env({}).phone("P", "US", required=True)


def test_production_needs_the_clinic_phone_and_debug_has_a_demo_one():
    env = production_env()
    del env["TITRATE_CLINIC_PHONE"]
    assert "TITRATE_CLINIC_PHONE must be set" in manage("check", env=env).stderr

    shell = "from django.conf import settings; print(settings.TITRATE_CLINIC_PHONE)"
    debug = manage("shell", "-c", shell, env={**env, "DJANGO_DEBUG": "true"})
    assert debug.stdout.strip().splitlines()[-1] == "(617) 555-0100", debug.stderr
