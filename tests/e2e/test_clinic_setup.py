"""Clinic set-up in a real browser (issue 19, item 2): the clinic admin finds it in the navigation,
saves the clinic's details, adds a phone appointment type, and the reminder preview follows the
boxes ticked before anything is saved. Pages are checked as in test_journeys.py (axe-core, CSP,
script errors)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from appointments.models import AppointmentType
from clinic import contact
from clinic.models import ClinicProfile
from tests.e2e.browser import ARTIFACTS, DESKTOP, Journey, see_message

pytestmark = pytest.mark.django_db(transaction=True)


def test_clinic_admin_sets_up_the_clinic(live_server, chromium, clinic_admin, psychiatrist):
    context = chromium.new_context(**DESKTOP, timezone_id=clinic_admin.time_zone)
    journey = Journey(context.new_page(), live_server.url, "clinic-setup", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(clinic_admin.email, totp=True)
        journey.follow(page.get_by_role("link", name="Clinic set-up").click, "overview")
        journey.follow(page.get_by_role("link", name="Edit the clinic's details").click)
        page.get_by_label("Clinic name").fill("Harbor Psychiatry")
        page.get_by_label("Phone number").fill("(508) 555-0199")
        page.get_by_label("Time zone").select_option("America/Chicago")
        page.get_by_label("On-call contact").select_option(str(psychiatrist.pk))
        journey.follow(page.get_by_role("button", name="Save").click, "profile-saved")
        see_message(page, "Saved. Patients see the new details at once.")
        assert contact.clinic().phone == "(508) 555-0199"
        assert ClinicProfile.objects.get().on_call == psychiatrist

        journey.follow(page.get_by_role("link", name="Add an appointment type").click)
        page.get_by_label("Name").fill("Phone check-in")
        page.get_by_label("Length (minutes)").fill("15")
        page.get_by_label("Phone", exact=True).check()
        preview = page.locator("#reminder-preview")
        expect(preview).to_have_text("The patient is reminded 2 days and 2 hours before.")  # the default
        page.get_by_label("2 days before").uncheck()
        page.get_by_label("1 week before").check()
        page.get_by_label("1 hour before").check()
        expect(preview).to_have_text("The patient is reminded 1 week, 2 hours and 1 hour before.")
        journey.check("type-form")
        journey.follow(page.get_by_role("button", name="Add the type").click, "type-added")
        see_message(page, "Added Phone check-in.")
        expect(page.locator("main")).to_contain_text("The patient is reminded 1 week, 2 hours and 1 hour before.")
        kind = AppointmentType.objects.get(name="Phone check-in")
        assert (kind.duration_minutes, kind.modality, kind.reminder_offsets_hours) == (15, "phone", [168, 2, 1])
        journey.finish()
    finally:
        context.close()
