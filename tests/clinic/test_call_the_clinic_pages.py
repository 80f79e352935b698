"""Issue 20 item 5: every patient page that says to call the clinic gives the clinic's phone, the
hours it is answered and what to do when it is closed (clinic.contact.clinic(): the saved profile)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.models import AppointmentType
from clinic.models import ClinicProfile
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

HOURS = "Mon–Fri 8 am–6 pm"
AFTER = "Call the same number and press 2 for the on-call psychiatrist."


@pytest.fixture
def profile(db):
    return ClinicProfile.objects.create(
        pk=1, name="Riverside Psychiatry", phone="(508) 555-0123", hours=HOURS, after_hours=AFTER
    )


def _says_how_to_call(page: str) -> bool:
    return all(part in page for part in ("(508) 555-0123", 'href="tel:', HOURS, AFTER))


def test_the_pages_that_say_to_call_give_phone_hours_and_after_hours(client, profile, patient, psychiatrist):
    AppointmentType.objects.create(name="Follow-up", duration_minutes=30, patient_bookable=True)  # no hours: no slots
    log_in(client, patient.user)
    pages = {
        "my_book": reverse("appointments:my_book"),
        "my_record_access": reverse("my_record_access"),
        "my_messages": reverse("medications:my_messages"),
        "my_message_new": reverse("medications:my_message_new"),
    }
    for name, url in pages.items():
        page = client.get(url).content.decode()
        assert "call the clinic" in page.lower(), name
        assert _says_how_to_call(page), name

    # After an emergency report, the crisis resources say when the phone is answered too.
    response = client.post(
        reverse("medications:my_report_create"),
        {"prescription": "not_sure", "other_symptoms": "I want to kill myself", "severity": "severe",
         "onset_date": timezone.localdate().isoformat(), "ongoing": "yes"},
        follow=True,
    )  # fmt: skip
    page = response.content.decode()
    assert "Please get help now" in page and _says_how_to_call(page)


def test_a_login_without_a_record_is_told_how_to_call(client, profile):
    user = factories.PatientUserFactory()
    log_in(client, user)
    page = client.get(reverse("medications:my_messages")).content.decode()
    assert "not linked" in page.lower() and _says_how_to_call(page)


def test_without_hours_the_sentence_is_the_number_alone(client, patient):
    ClinicProfile.objects.create(pk=1, name="Riverside Psychiatry", phone="(508) 555-0123")
    log_in(client, patient.user)
    page = client.get(reverse("my_record_access")).content.decode()
    assert 'call the clinic on <a href="tel:+15085550123">(508) 555-0123</a> and ask' in page
    assert "When the clinic is closed" not in page
