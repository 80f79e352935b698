"""A signed visit note shows the visit time in the clinic's zone (issue 16, item 4), in a browser.

The psychiatrist (the clinic's zone, America/New_York) writes a note for last night's 21:30 visit:
02:30 the next day in UTC. Signed and locked, the note says 21:30 on the right day, in the one
format the pages share (clinic/dates.py), and nowhere the raw UTC timestamp.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from patients.models import VisitNote
from tests.e2e.browser import ARTIFACTS, Journey

pytestmark = pytest.mark.django_db(transaction=True)

ISO_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


def shown_day(day: datetime.date, today: datetime.date) -> str:
    """ "Dec 5", with the year when it is not this one (the pages' rule), written out here."""
    return f"{day:%b} {day.day}" + ("" if day.year == today.year else f", {day.year}")


def test_a_signed_note_shows_the_visit_time_in_the_clinics_zone(live_server, chromium, psychiatrist, patient):
    clinic_zone = zoneinfo.ZoneInfo(settings.TITRATE_DEFAULT_TIME_ZONE)
    psychiatrist.time_zone = settings.TITRATE_DEFAULT_TIME_ZONE
    psychiatrist.save(update_fields=["time_zone"])
    today = timezone.localtime(timezone.now(), clinic_zone).date()
    last_night = today - datetime.timedelta(days=1)
    visit_at = datetime.datetime.combine(last_night, datetime.time(21, 30), tzinfo=clinic_zone)
    assert visit_at.astimezone(datetime.UTC).date() != last_night  # the day a UTC print gets wrong

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", timezone_id="UTC")
    journey = Journey(context.new_page(), live_server.url, "psychiatrist-dates", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(psychiatrist.email, totp=True)
        journey.goto(f"/patients/{patient.pk}/visits/new/")
        page.get_by_label("Visit at").fill(f"{last_night:%Y-%m-%d}T21:30")
        page.get_by_label("Interval history").fill("Evening visit; sleeping better.")
        page.get_by_label("Mental status exam").fill("Calm, linear.")
        page.get_by_label("Suicide risk").select_option(index=1)
        page.get_by_label("Violence risk").select_option(index=1)
        page.get_by_label("Risk rationale").fill("No ideation.")
        journey.follow(lambda: page.get_by_role("button", name="Save, sign and lock").click(), "signed-note")

        note = VisitNote.objects.get(patient=patient)
        assert note.is_signed and note.visit_at == visit_at
        when = f"{shown_day(last_night, today)}, 21:30"
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Follow-up visit — {when}")
        expect(page.locator("dd", has_text=when)).to_have_count(1)  # the note's "Visit at" field
        signed = timezone.localtime(note.signed_at, clinic_zone)
        expect(page.get_by_text(f"on {shown_day(signed.date(), today)}, {signed:%H:%M} — locked")).to_be_visible()
        body = page.locator("main").inner_text()
        assert not ISO_LIKE.search(body), body
        assert "+00:00" not in body
        journey.finish()
    finally:
        context.close()
