"""Day one at a clinic (issue 19): the clinic admin brings in a psychiatrist and a patient from the
portal alone. Each opens the emailed link (read from the test mail outbox), sets a password; the
psychiatrist enrols TOTP and finds the patient on their caseload once the admin puts them on the
care team; the patient sees their own record. A revoked link is refused, and a deactivated
psychiatrist's open session ends at once."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from clinic.models import Invitation, User
from tests import factories
from tests.e2e.browser import ARTIFACTS, DESKTOP, PHONE, Journey, see_message
from tests.totp import totp_code

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r"https?://[^/\s]+(/invitation/[^/\s]+/)")
DOCTOR_PASSWORD = "harbor lantern quince 58"
PATIENT_PASSWORD = "maple river 2718"


def emailed_link(to: str) -> str:
    messages = [message for message in mail.outbox if message.to == [to]]
    assert messages, f"no email to {to}"
    return LINK.search(messages[-1].body).group(1)


def set_password(journey: Journey, path: str, password: str, screenshot: str) -> None:
    page = journey.page
    journey.goto(path, screenshot)
    # By id: the label of the first ("Password") is a prefix of the second's ("Password (again)").
    page.locator("#id_password1").fill(password)
    page.locator("#id_password2").fill(password)
    journey.follow(lambda: page.get_by_role("button", name="Set password").click())
    expect(page).to_have_url(re.compile("/accounts/login/"))
    see_message(page, "Your account is ready")


def sign_in(journey: Journey, email: str, password: str) -> None:
    page = journey.page
    page.get_by_label(re.compile("email", re.I)).fill(email)
    page.get_by_label("Password").fill(password)
    journey.follow(lambda: page.get_by_role("button", name=re.compile("sign in", re.I)).click())


def test_admin_brings_in_a_psychiatrist_and_a_patient(live_server, chromium, clinic_admin):
    record = factories.PatientFactory(primary_psychiatrist=None, legal_first_name="Rowan", email="rowan@example.test")
    admin = Journey(chromium.new_context(**DESKTOP).new_page(), live_server.url, "invite-admin", ARTIFACTS)
    doctor_tab = chromium.new_context(**DESKTOP).new_page()
    doctor = Journey(doctor_tab, live_server.url, "invite-psychiatrist", ARTIFACTS)
    patient = Journey(chromium.new_context(**PHONE).new_page(), live_server.url, "invite-patient", ARTIFACTS)
    a = admin.page
    try:
        admin.sign_in(clinic_admin.email, totp=True)

        # 1. Invite a psychiatrist from the users page.
        admin.follow(lambda: a.get_by_role("link", name="Users").click())
        admin.follow(lambda: a.get_by_role("link", name="Invite a staff member").click())
        a.get_by_label("Email").fill("dr.imani@example.test")
        a.get_by_label("Role").select_option("psychiatrist")
        a.get_by_label("First name").fill("Imani")
        a.get_by_label("Last name").fill("Osei")
        a.get_by_label("Credentials").fill("MD")
        admin.follow(lambda: a.get_by_role("button", name="Send invitation").click(), "users")
        see_message(a, "Invitation sent to dr.imani@example.test")
        expect(a.get_by_role("cell", name="dr.imani@example.test", exact=True)).to_be_visible()

        # 2. Invite the patient from their registry page: the login will be linked to this record.
        admin.goto("/patients/registry/")
        admin.follow(lambda: a.get_by_role("link", name=re.compile("Rowan")).click())
        admin.follow(lambda: a.get_by_role("link", name="Invite to the portal").click(), "patient-invite")
        expect(a.get_by_label("Email")).to_have_value("rowan@example.test")
        admin.follow(lambda: a.get_by_role("button", name="Send invitation").click())
        see_message(a, "Portal invitation sent")

        # 3. The psychiatrist opens the link, sets a password, signs in and enrols TOTP.
        set_password(doctor, emailed_link("dr.imani@example.test"), DOCTOR_PASSWORD, "set-password")
        sign_in(doctor, "dr.imani@example.test", DOCTOR_PASSWORD)
        d = doctor.page
        if "/reauthenticate/" in d.url:  # allauth asks for the password before any change to MFA
            d.get_by_label("Password").fill(DOCTOR_PASSWORD)
            doctor.follow(lambda: d.get_by_role("button", name=re.compile("confirm", re.I)).click())
        expect(d).to_have_url(re.compile("/accounts/2fa/totp/activate/"))
        doctor.check("enrol-totp")
        secret = d.locator("#authenticator_secret").input_value()
        d.get_by_label(re.compile("authenticator code", re.I)).fill(totp_code(secret))
        doctor.follow(lambda: d.get_by_role("button", name=re.compile("activate", re.I)).click())
        doctor.goto("/psychiatrist/")
        expect(d.get_by_role("heading", name="My patients")).to_be_visible()
        expect(d.get_by_text("Rowan")).to_have_count(0)

        # 4. The admin puts the new psychiatrist on the patient's care team.
        admin.goto(f"/patients/registry/{record.pk}/")
        admin.follow(lambda: a.get_by_role("link", name="Care team").click())
        a.get_by_label("Primary psychiatrist").select_option(label="Imani Osei, MD")
        admin.follow(lambda: a.get_by_role("button", name="Save care team").click(), "care-team")
        see_message(a, "Saved")

        # ... and the patient is on the psychiatrist's caseload.
        doctor.goto("/psychiatrist/", "caseload")
        expect(d.get_by_role("link", name=re.compile("Rowan"))).to_be_visible()

        # 5. The patient opens their link on their phone, sets a password, sees their own record.
        set_password(patient, emailed_link("rowan@example.test"), PATIENT_PASSWORD, "set-password")
        sign_in(patient, "rowan@example.test", PATIENT_PASSWORD)
        expect(patient.page.get_by_role("heading", name="Hello, Rowan")).to_be_visible()
        expect(patient.page.get_by_text("Psychiatrist: Imani Osei, MD")).to_be_visible()
        patient.screenshot("home")
        record.refresh_from_db()
        assert record.user.email == "rowan@example.test"

        # 6. A revoked invitation's link is refused.
        admin.goto("/clinic/users/invite/")
        a.get_by_label("Email").fill("temp.desk@example.test")
        a.get_by_label("Role").select_option("clinic_admin")
        a.get_by_label("First name").fill("Temp")
        a.get_by_label("Last name").fill("Desk")
        admin.follow(lambda: a.get_by_role("button", name="Send invitation").click())
        revoked_link = emailed_link("temp.desk@example.test")
        admin.follow(lambda: a.get_by_role("button", name="Revoke the invitation to temp.desk@example.test").click())
        see_message(a, "Revoked the invitation")
        stranger = chromium.new_context(**DESKTOP).new_page()
        response = stranger.goto(live_server.url + revoked_link)
        assert response.status == 404
        expect(stranger.get_by_role("heading", name="This link does not work")).to_be_visible()
        assert Invitation.objects.get(email="temp.desk@example.test").revoked_at is not None
        assert not User.objects.filter(email="temp.desk@example.test").exists()

        # 7. Deactivating the psychiatrist ends their open session at once.
        doctor_user = User.objects.get(email="dr.imani@example.test")
        admin.goto(f"/clinic/users/{doctor_user.pk}/")
        a.once("dialog", lambda dialog: dialog.accept())
        admin.follow(lambda: a.get_by_role("button", name="Deactivate").click(), "deactivated")
        see_message(a, "Deactivated Imani Osei, MD")
        d.goto(live_server.url + "/psychiatrist/")
        expect(d).to_have_url(re.compile("/accounts/login/"))
        doctor.check()

        for journey in (admin, doctor, patient):
            journey.finish()
    finally:
        for journey in (admin, doctor, patient):
            journey.page.context.close()
