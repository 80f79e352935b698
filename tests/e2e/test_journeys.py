"""The three users' main paths in a real browser (issue 8).

Each journey signs in through the real pages (a TOTP code typed for staff), does its work by
clicking and typing as the person would, checks what is on screen, then checks the rows that
were stored. Every page it loads is run through axe-core (0 serious/critical violations) and
watched for CSP violations and script errors (tests/e2e/browser.py). Notifications the actions
create are delivered by a real Celery worker over Redis (tests/e2e/conftest.py).
"""

from __future__ import annotations

import datetime
import json
import re
import time
import zoneinfo
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from appointments.models import Appointment
from clinic.models import Notification
from medications.models import Prescription, PrescriptionEvent, SideEffectReport
from tests import factories
from tests.e2e.browser import Journey, focus_is_visible, press_until_focused
from tests.e2e.conftest import ARTIFACTS
from tests.patients.test_measure_views import sertraline_history

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "en-US"}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-US",
}
CHARTS_DRAWN = """() => {
  const canvases = Array.from(document.querySelectorAll("[data-measures-chart] canvas"));
  return window.Chart && canvases.length > 0 && canvases.every((c) => {
    const chart = Chart.getChart(c);
    return chart && c.width > 0 && chart.data.datasets.length > 0;
  }) && document.querySelector("[data-measures-chart]").classList.contains("is-ready");
}"""


@pytest.fixture
def formulary(db):
    # A transactional test's flush empties the formulary that the data migration loaded.
    call_command("load_formulary", verbosity=0)


def wait_for_rows(query, count: int, timeout: float = 20.0):
    """Poll until query has count rows: the worker delivers in its own process and time."""
    deadline = time.monotonic() + timeout
    while True:
        rows = list(query)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.25)


def see_message(page, text, *, role: str = "status") -> None:
    """A message after an action, in the live region: role=status for news, alert for errors."""
    expect(page.locator(f"[aria-live] [role={role}]", has_text=text)).to_be_visible()


def chart_data(page) -> dict:
    return json.loads(page.locator("#measures-data").text_content())


# -- Psychiatrist (desktop) ------------------------------------------------------------------------


def test_psychiatrist_journey(live_server, chromium, celery_worker, formulary, psychiatrist, patient):
    sertraline = sertraline_history(patient, psychiatrist)
    urgent = factories.report(patient, prescription=sertraline, symptoms=("nausea",), severity="severe")
    assert urgent.is_urgent
    # Shown in the psychiatrist's own zone (User.time_zone), not the server's UTC.
    zone = zoneinfo.ZoneInfo(psychiatrist.time_zone)
    now = timezone.localtime(timezone.now(), zone)
    start = max(now.replace(hour=0, minute=0, second=0, microsecond=0), now - datetime.timedelta(hours=2))
    start = start.replace(minute=(start.minute // 15) * 15, second=0, microsecond=0)
    todays = factories.AppointmentFactory(patient=patient, start=start, end=start + datetime.timedelta(minutes=30))

    context = chromium.new_context(**DESKTOP, timezone_id="America/New_York")
    journey = Journey(context.new_page(), live_server.url, "psychiatrist", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(psychiatrist.email, totp=True)

        # Home: today's visit and the urgent report, the badge saying so in words.
        expect(page).to_have_url(re.compile("/psychiatrist/$"))
        schedule = page.locator("section", has=page.get_by_role("heading", name="Today's patients"))
        expect(schedule).to_contain_text(patient.display_name)
        expect(schedule).to_contain_text(timezone.localtime(todays.start, zone).strftime("%H:%M"))
        attention = page.locator("section", has=page.get_by_role("heading", name="Needs attention"))
        urgent_row = attention.locator("li", has_text=f"Side-effect report — {patient.display_name}").first
        expect(urgent_row.locator(".badge").first).to_have_text("Urgent")
        journey.screenshot("home")

        # The chart: a spinner until the scores chart is drawn, then the scores and doses.
        schedule.get_by_role("link", name=patient.display_name).click()
        page.wait_for_function(CHARTS_DRAWN)
        expect(page.locator(".measures-loading")).to_be_hidden()
        journey.check("chart-before")
        assert [p["y"] for p in chart_data(page)["series"][0]["points"]] == [16, 12, 6]

        # A visit note, saved as a draft first so medication changes belong to it.
        page.get_by_role("link", name="New visit note").click()
        journey.check()
        page.get_by_label("Interval history").fill("Mood better; sleep still broken. Back pain after a fall.")
        page.get_by_role("button", name="Save draft").click()
        see_message(page, "saved as a draft")
        journey.check()
        visit = patient.visit_notes.get()

        # Start tramadol for the back pain: the serotonergic interaction is stopped for review.
        page.get_by_role("link", name="Start a medication").click()
        journey.check()
        page.get_by_label("Medication").select_option(str(factories.medication("tramadol").pk))
        page.get_by_label("Strength (mg per unit)").fill("50")
        page.get_by_label("Dose (mg each time)").fill("50")
        page.get_by_label("Frequency").select_option("qid")
        page.get_by_label("Quantity").fill("20")
        page.get_by_role("button", name="Start medication").click()
        journey.check("interaction-alert")
        expect(page.get_by_text("nothing saved yet")).to_be_visible()
        expect(page.get_by_text(re.compile("tramadol \\+ sertraline|sertraline \\+ tramadol"))).to_be_visible()
        assert patient.prescriptions.filter(medication__generic_name="tramadol").count() == 0

        reason = "Short course for acute back pain; serotonin syndrome signs explained"
        page.get_by_label(re.compile("override reason", re.I)).fill(reason)
        page.get_by_role("button", name=re.compile("Start medication")).click()
        see_message(page, "Started tramadol")
        journey.check()
        tramadol = patient.prescriptions.get(medication__generic_name="tramadol")
        started = tramadol.events.get(kind=PrescriptionEvent.Kind.STARTED)
        assert started.override_reason == reason
        assert started.visit_note_id == visit.pk
        assert any(a["severity"] == "major" for a in started.safety_alerts)

        # Sertraline 100 → 150 mg as part of the same visit.
        page.locator("li", has_text="sertraline").get_by_role("link", name="Change dose").click()
        journey.check()
        page.get_by_label("New dose (mg each time)").fill("150")
        page.get_by_label("Reason").select_option(index=1)
        page.get_by_role("button", name=re.compile("Save|Change", re.I)).first.click()
        # Tramadol is on the list now, so the higher sertraline dose meets the same review.
        journey.check()
        expect(page.get_by_text("nothing saved yet")).to_be_visible()
        page.get_by_label(re.compile("override reason", re.I)).fill("Reviewed with tramadol; 5-day course only")
        page.get_by_role("button", name="Save change with these alerts").click()
        see_message(page, "sertraline changed")
        journey.check()

        # Complete and sign.
        page.get_by_label("Mental status exam").fill("Calm, linear; mood 'better', affect reactive.")
        page.get_by_label("Suicide risk").select_option(index=1)
        page.get_by_label("Violence risk").select_option(index=1)
        page.get_by_label("Risk rationale").fill("No ideation; protective factors intact.")
        page.get_by_label("Assessment").fill("MDD improving on sertraline.")
        page.get_by_label("Plan").fill("Sertraline 150 mg; tramadol 5 days; review in 4 weeks.")
        page.get_by_role("button", name="Save, sign and lock").click()
        see_message(page, re.compile("signed", re.I))
        journey.check("visit-signed")

        visit.refresh_from_db()
        assert visit.is_signed and visit.signed_by_id == psychiatrist.pk
        sertraline.refresh_from_db()
        assert sertraline.dose_mg == Decimal(150)
        changed = sertraline.events.get(kind=PrescriptionEvent.Kind.DOSE_CHANGED, visit_note=visit)
        assert (changed.from_dose_mg, changed.to_dose_mg) == (Decimal(100), Decimal(150))

        # The chart again: the timeline and the dose bar show the visit's changes.
        journey.goto(f"/patients/{patient.pk}/")
        page.wait_for_function(CHARTS_DRAWN)
        timeline = page.locator("section", has=page.get_by_role("heading", name="Timeline"))
        expect(timeline).to_contain_text("tramadol")
        expect(timeline).to_contain_text(re.compile("visit", re.I))
        data = chart_data(page)
        segments = {m["drug"]: [s["label"] for s in m["segments"]] for m in data["medications"]}
        assert segments["sertraline"][-1] == "150 mg/day"
        assert "tramadol" in segments
        journey.screenshot("chart")
        journey.finish()
    finally:
        context.close()
