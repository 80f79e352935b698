"""A dangerous report written in Spanish, in a real browser (issue 17): the patient, on their
phone, describes what is happening in their own words, without a single clinical or suicide word,
and sees the crisis resources in Spanish at once; the psychiatrist then finds the alert with its
reason in English, quoting the patient's Spanish words, and the report marked "Written in
Spanish". Pages are checked as in test_journeys.py (axe-core, CSP, script errors)."""

from __future__ import annotations

import re
import zoneinfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import Alert, Notification
from medications.models import SideEffectReport
from tests import factories
from tests.e2e.browser import ARTIFACTS, DESKTOP, PHONE, Journey, delivered

# After a transactional test's flush the formulary is empty: the journeys' fixture reloads it.
from tests.e2e.test_journeys import formulary  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

# Passive death wish, method research and a preparatory act, in everyday Spanish.
WORDS = (
    "Desde hace dos semanas ya no quiero estar aquí. Anoche estuve viendo en internet cuántas pastillas "
    "hacen falta para no despertar, y ya le regalé mi perro a mi hermana."
)


@pytest.mark.usefixtures("formulary")
def test_spanish_report_shows_spanish_crisis_resources_and_alerts_the_psychiatrist(
    live_server,
    chromium,
    celery_worker,
    psychiatrist,
    patient,
    settings,
):
    settings.TITRATE_CLINIC_PHONE = "617 555 0100"
    factories.start(patient, psychiatrist, drug="sertraline")
    zone = zoneinfo.ZoneInfo(patient.user.time_zone)

    phone = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone)
    journey = Journey(phone.new_page(), live_server.url, "spanish-report", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(patient.user.email, totp=False)
        journey.goto("/my/side-effects/new/")
        page.get_by_label("Anything else, in your own words").fill(WORDS)
        page.get_by_label("Moderate — gets in the way of daily life").check()
        page.get_by_label("When did it start?").fill(timezone.localdate(timezone.now(), zone).isoformat())
        journey.follow(lambda: page.locator("button[type=submit].btn-lg").tap(), "spanish-crisis")

        crisis = page.locator('section[lang="es"][role="alert"]')
        expect(crisis.get_by_role("heading", name="Busque ayuda ahora")).to_be_visible()
        expect(crisis.get_by_role("link", name="988")).to_have_attribute("href", "tel:988")
        expect(crisis).to_contain_text("marque el 2")
        expect(crisis).to_contain_text("AYUDA")
        expect(crisis.get_by_role("link", name="911")).to_be_visible()
        expect(crisis.get_by_role("link", name="1-800-222-1222")).to_be_visible()
        expect(crisis.get_by_role("link", name="617 555 0100")).to_be_visible()
        # First on the page: above what the patient sent.
        first = page.locator("main section, main h2").first
        expect(first).to_have_attribute("lang", "es")
        report = SideEffectReport.objects.get(patient=patient)
        assert (report.triage_level, report.language) == ("emergency", "es")
        assert delivered(Notification.Kind.SAFETY_ALERT, recipient=psychiatrist, patient=patient)
        journey.finish()
    finally:
        phone.close()

    desk = chromium.new_context(**DESKTOP, timezone_id=psychiatrist.time_zone)
    journey = Journey(desk.new_page(), live_server.url, "spanish-alert", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(psychiatrist.email, totp=True)
        journey.goto("/alerts/", "alerts")
        alert = Alert.objects.get(patient=patient)
        row = page.locator("li.list-group-item", has_text=patient.display_name)
        expect(row).to_contain_text("Emergency")
        expect(row).to_contain_text("Thoughts of being better off dead or of not wanting to live")
        expect(row).to_contain_text('"ya no quiero estar aquí"')
        expect(row).to_contain_text("Suicidal thoughts, intent or plans")
        expect(row).to_contain_text("cuántas pastillas hacen falta para no despertar")
        assert alert.reasons == report.urgent_reasons

        journey.follow(lambda: row.get_by_role("link", name=re.compile("report", re.I)).first.click(), "report")
        expect(page.get_by_text("Written in Spanish")).to_be_visible()
        expect(page.locator('dd[lang="es"]')).to_contain_text("ya le regalé mi perro a mi hermana")
        journey.finish()
    finally:
        desk.close()


@pytest.mark.usefixtures("formulary")
def test_spanish_portal_crisis_shows_spanish_resources(live_server, chromium, celery_worker, psychiatrist, patient):
    """Issue 22: a patient who reads the portal in Spanish ticks a crisis item of the Spanish
    checklist (no words typed, so nothing to detect a language from): the crisis resources are the
    Spanish ones (988, "marque el 2"), on a page that is Spanish throughout."""
    from clinic import languages

    languages.set_preference(patient.user, "es")
    factories.start(patient, psychiatrist, drug="sertraline")
    zone = zoneinfo.ZoneInfo(patient.user.time_zone)

    phone = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone)
    journey = Journey(phone.new_page(), live_server.url, "spanish-portal-crisis", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(patient.user.email, totp=False)
        journey.goto("/my/side-effects/new/")
        expect(page.locator("html")).to_have_attribute("lang", "es")
        page.get_by_label("Pensamientos de que estaría mejor muerto(a), o de hacerme daño").check()
        page.get_by_label("Grave: me cuesta sobrellevarlo").check()
        page.get_by_label("¿Cuándo empezó?").fill(timezone.localdate(timezone.now(), zone).isoformat())
        journey.follow(lambda: page.get_by_role("button", name="Enviar el informe").tap(), "crisis")

        crisis = page.locator('section[lang="es"][role="alert"]')
        expect(crisis.get_by_role("heading", name="Busque ayuda ahora")).to_be_visible()
        expect(crisis).to_contain_text("marque el 2")
        expect(crisis.get_by_role("link", name="988")).to_have_attribute("href", "tel:988")
        expect(page.get_by_role("heading", name="Su informe fue enviado")).to_be_visible()
        report = SideEffectReport.objects.get(patient=patient)
        assert (report.triage_level, report.symptoms) == ("emergency", ["thoughts_better_off_dead"])
        assert delivered(Notification.Kind.SAFETY_ALERT, recipient=psychiatrist, patient=patient)
        journey.finish()
    finally:
        phone.close()
