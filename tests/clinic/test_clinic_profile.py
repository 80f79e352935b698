"""The clinic's identity (clinic.contact.clinic()): the saved ClinicProfile wins over the
TITRATE_CLINIC_* settings everywhere a patient is told to call, and a change shows at once."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from clinic import contact
from clinic.models import ClinicProfile
from patients import alerts
from tests.factories import ClinicAdminFactory, PsychiatristFactory

pytestmark = pytest.mark.django_db


def test_without_a_profile_the_settings_stand_in(settings):
    settings.TITRATE_CLINIC_NAME = "Settings clinic"
    settings.TITRATE_CLINIC_PHONE = "(617) 555-0142"
    clinic = contact.clinic()
    assert (clinic.name, clinic.phone, clinic.phone_link) == ("Settings clinic", "(617) 555-0142", "tel:+16175550142")
    assert contact.call_the_clinic() == "call the clinic on (617) 555-0142"


def test_a_saved_profile_wins_and_a_change_shows_at_once(django_assert_num_queries):
    ClinicProfile(name="Harbor Psychiatry", phone="(508) 555-0199", hours="Mon–Fri 9–5").save()
    assert contact.clinic().phone == "(508) 555-0199"
    with django_assert_num_queries(0):  # cached
        assert contact.clinic().name == "Harbor Psychiatry"
    profile = ClinicProfile.objects.get()
    profile.phone = "(508) 555-0123"
    profile.save()
    assert contact.call_the_clinic() == "call the clinic on (508) 555-0123"


def test_there_is_only_ever_one_profile():
    ClinicProfile(name="A", phone="(508) 555-0199").save()
    ClinicProfile(name="B", phone="(508) 555-0198").save()  # save() keeps pk 1
    assert list(ClinicProfile.objects.values_list("name", flat=True)) == ["B"]
    with pytest.raises(IntegrityError), transaction.atomic():
        ClinicProfile.objects.bulk_create([ClinicProfile(pk=2, name="C", phone="1")])


def test_the_profiles_on_call_contact_is_told_first(settings):
    settings.TITRATE_ON_CALL_EMAIL = ""
    ClinicAdminFactory()
    doctor = PsychiatristFactory()
    ClinicProfile(name="Harbor", phone="(508) 555-0199", on_call=doctor).save()
    assert alerts.on_call_contacts() == (doctor, [doctor])


def test_the_phone_on_the_sign_in_page_is_the_profiles(client):
    ClinicProfile(name="Harbor", phone="(508) 555-0177").save()
    page = client.get("/accounts/login/").content.decode()
    assert "ask the front desk at (508) 555-0177" in page
