"""Connected apps in a real browser (issue 23): on a phone, a patient opens the account menu, finds
the health app they allowed through SMART, withdraws it, and the app's next API call is refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.browser import ARTIFACTS, PHONE, Journey

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_patient_withdraws_an_app_and_it_stops_reading(live_server, chromium, patient):
    app = factories.health_app("Mood diary")
    raw = factories.app_token(patient.user, app, "launch/patient patient/Observation.rs patient/MedicationRequest.rs")
    api = f"{live_server.url}/fhir/Patient/{patient.pk}"
    context = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone)
    journey = Journey(context.new_page(), live_server.url, "connected-apps", ARTIFACTS)
    page = journey.page
    try:
        # The app can read the record (this token holds no Patient scope: 403, not 401).
        observations = page.request.get(
            f"{live_server.url}/fhir/Observation", headers={"Authorization": f"Bearer {raw}"}
        )
        assert observations.status == 200
        journey.sign_in(patient.user.email, totp=False)
        page.get_by_role("button", name="Toggle navigation").click()
        # Each menu opens with a transition: tapping on before it has ended lost the tap once on a
        # busy machine (the folded menu still sliding open), so each step waits for the last.
        expect(page.locator("#main-nav")).to_have_class(re.compile(r"\bshow\b"))
        page.get_by_role("button", name=re.compile("account menu")).click()
        link = page.get_by_role("link", name="Connected apps")
        expect(link).to_be_visible()
        journey.follow(link.click, "list")
        expect(page.get_by_role("heading", name="Mood diary")).to_be_visible()
        expect(page.get_by_text("your prescriptions and every dose change")).to_be_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390

        journey.follow(lambda: page.get_by_role("button", name="Withdraw Mood diary").click(), "withdrawn")
        expect(page.get_by_text("Done: that app can no longer read your information.")).to_be_visible()
        expect(page.get_by_text("No app can read your information.")).to_be_visible()

        refused = page.request.get(f"{live_server.url}/fhir/Observation", headers={"Authorization": f"Bearer {raw}"})
        assert refused.status == 401
        assert page.request.get(api, headers={"Authorization": f"Bearer {raw}"}).status == 401
        journey.finish()
    finally:
        context.close()
