"""Issue 21 in a real browser: a self-booked video visit shows "Join" only inside its window; a
patient withdraws consent and their therapist's link stops working; the safety plan the
psychiatrist wrote appears beside the crisis resources when the patient's report triggers them.
Every page is checked as in test_journeys.py (axe-core, CSP, script errors)."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from appointments.models import Appointment, AppointmentType, WeeklyAvailability
from clinic.models import AuditEvent, ClinicProfile
from patients import sharing
from patients.models import CareContact, SafetyPlan
from tests import factories
from tests.e2e.browser import ARTIFACTS, DESKTOP, PHONE, Journey, see_message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def formulary(db):
    # A transactional test's flush empties the formulary that the data migration loaded.
    call_command("load_formulary", verbosity=0)


def gone_410(journey: Journey) -> None:
    """The refusal is a 410 page, which Chromium reports on the console as a failed load: that
    one line is expected; anything else is still a problem for check()."""
    expected = [problem for problem in journey.problems if "status of 410 (Gone)" in problem]
    assert len(expected) == 1, journey.problems
    journey.problems.remove(expected[0])


def _next_monday_8am(zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    today = timezone.localdate(timezone.now(), zone)
    monday = today + datetime.timedelta(days=7 - today.weekday())
    return datetime.datetime.combine(monday, datetime.time(8), zone)


def test_a_self_booked_video_visit_shows_join_only_inside_its_window(live_server, chromium, psychiatrist, patient):
    zone = psychiatrist.zone
    for weekday in range(5):
        WeeklyAvailability.objects.create(
            psychiatrist=psychiatrist, weekday=weekday, start_time=datetime.time(9), end_time=datetime.time(12)
        )
    ClinicProfile.objects.create(name="Riverside Psychiatry", phone="555-0100", video_provider="template",
                                 video_url_template="https://meet.example.com/riverside-{room}")  # fmt: skip
    video = AppointmentType.objects.create(name="Video follow-up", duration_minutes=30, patient_bookable=True,
                                           modality="telehealth", min_notice_hours=0)  # fmt: skip
    monday_8am = _next_monday_8am(zone)

    phone = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone, permissions=["camera", "microphone"])
    journey = Journey(phone.new_page(), live_server.url, "telehealth-join", ARTIFACTS)
    page = journey.page
    try:
        with time_machine.travel(monday_8am, tick=True) as clock:
            journey.sign_in(patient.user.email, totp=False)
            journey.goto(f"/my/appointments/book/?type={video.pk}")
            journey.follow(lambda: page.get_by_role("button", name=re.compile(r"^09:00")).first.tap())
            appointment = Appointment.objects.get(patient=patient)
            assert appointment.start == monday_8am + datetime.timedelta(hours=1)
            assert appointment.telehealth_url.startswith("https://meet.example.com/riverside-")
            upcoming = page.locator("section", has=page.get_by_role("heading", name="Upcoming"))
            expect(upcoming).to_contain_text("Video visit")
            expect(upcoming.get_by_role("link", name=re.compile("^Join"))).to_have_count(0)
            expect(upcoming).to_contain_text("appears here 15 minutes before the start")
            journey.screenshot("before-window")

            # The camera test: the page may use the camera (no device here, but not blocked).
            journey.follow(lambda: upcoming.get_by_role("link", name="Test your camera").tap())
            page.get_by_role("button", name="Start the test").tap()
            status = page.locator("#camera-status")
            expect(status).not_to_have_text("")
            expect(status).not_to_contain_text("blocked")
            journey.check("camera-test")

            # 14 minutes before the start: signed in again (30 idle minutes passed), Join is there.
            clock.move_to(appointment.start - datetime.timedelta(minutes=14))
            journey.sign_in(patient.user.email, totp=False)
            journey.goto("/my/appointments/")
            join = page.get_by_role("link", name=re.compile("^Join"))
            expect(join).to_be_visible()
            journey.follow(join.tap, "join-page")
            expect(page.get_by_role("link", name="Join the video visit")).to_have_attribute(
                "href", appointment.telehealth_url
            )

            # After the end: no Join anywhere, and the join page no longer gives the room.
            clock.move_to(appointment.end + datetime.timedelta(minutes=1))
            journey.sign_in(patient.user.email, totp=False)
            journey.goto("/my/appointments/")
            expect(page.get_by_role("link", name=re.compile("^Join"))).to_have_count(0)
            journey.goto(f"/my/appointments/{appointment.pk}/join/", "after-window")
            expect(page.locator("#join-closed")).to_contain_text("ended")
            assert appointment.telehealth_url not in page.content()
        journey.finish()
    finally:
        phone.close()


def test_a_patient_withdraws_consent_and_the_therapists_link_stops_working(live_server, chromium, formulary,
                                                                            psychiatrist, patient):  # fmt: skip
    factories.start(patient, psychiatrist)
    therapist = CareContact.objects.create(patient=patient, name="Dana Rivers", email="dana@therapy.example")
    sharing.set_consent(therapist, granted=True, by=patient.user)
    share = sharing.send(therapist, by=psychiatrist)
    link = reverse("shared_summary", args=[sharing.link_token(share)])

    outside = chromium.new_context(**DESKTOP)
    dana = Journey(outside.new_page(), live_server.url, "therapist-link", ARTIFACTS)
    try:
        dana.goto(link, "landing")  # the link works: one button, nothing opened yet
        expect(dana.page.get_by_role("button", name="Open the summary")).to_be_visible()

        phone = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone)
        journey = Journey(phone.new_page(), live_server.url, "consent-revoked", ARTIFACTS)
        page = journey.page
        try:
            journey.sign_in(patient.user.email, totp=False)
            journey.goto("/patients/me/care-contacts/")
            expect(page.get_by_text("You allow sharing")).to_be_visible()
            journey.follow(page.get_by_role("button", name="Stop sharing with Dana Rivers").tap, "revoked")
            see_message(page, "Sharing with Dana Rivers stopped.")
            expect(page.get_by_text("stopped sharing with Dana Rivers")).to_be_visible()
            journey.finish()
        finally:
            phone.close()

        # The therapist presses the button on the page they already had: it no longer opens.
        with dana.page.expect_navigation(wait_until="load"):
            dana.page.get_by_role("button", name="Open the summary").click()
        gone_410(dana)
        dana.check("refused")
        expect(dana.page.locator("#share-unavailable")).to_contain_text("no longer works")
        response = dana.page.goto(live_server.url + link)
        assert response.status == 410
        gone_410(dana)
        dana.check()
        dana.finish()
    finally:
        outside.close()
    assert not AuditEvent.objects.filter(object_type="patients.SummaryShare", action="view").exists()


def test_the_safety_plan_appears_beside_the_crisis_resources(live_server, chromium, celery_worker, formulary,
                                                              psychiatrist, patient):  # fmt: skip
    factories.start(patient, psychiatrist)
    desk = chromium.new_context(**DESKTOP, timezone_id=psychiatrist.time_zone)
    journey = Journey(desk.new_page(), live_server.url, "safety-plan-written", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(psychiatrist.email, totp=True)
        journey.goto(f"/patients/{patient.pk}/safety-plan/")
        page.get_by_label("Warning signs that a crisis may be developing").fill("Staying in bed; not answering texts.")
        page.get_by_label("People I can ask for help").fill("My sister Jo, 555-0142.")
        page.get_by_label("Making my environment safe").fill("Jo keeps the spare pills.")
        journey.follow(page.get_by_role("button", name="Save as version 1").click, "plan-v1")
        see_message(page, "Safety plan saved as version 1.")
        journey.finish()
    finally:
        desk.close()
    assert SafetyPlan.objects.get(patient=patient).version == 1

    phone = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone)
    journey = Journey(phone.new_page(), live_server.url, "safety-plan-crisis", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(patient.user.email, totp=False)
        journey.follow(lambda: page.get_by_role("link", name="Report a side effect").tap())
        page.locator("#symptom-nausea").check()
        page.locator("input[name=severity][value=moderate]").check()
        page.locator("input[name=onset_date]").fill(timezone.localdate().isoformat())
        page.get_by_label(re.compile("Anything else", re.I)).fill("Honestly I don't want to be here anymore.")
        # Triage, the alert and its outbox rows: slower than a page view on a busy machine.
        page.set_default_navigation_timeout(60_000)
        journey.follow(page.locator("button[type=submit].btn-lg").tap, "crisis-with-plan")
        crisis = page.get_by_role("alert").filter(has=page.get_by_role("heading", name="Please get help now"))
        expect(crisis).to_be_visible()
        plan = crisis.locator("#crisis-safety-plan")
        expect(plan.get_by_role("heading", name="Your safety plan")).to_be_visible()
        expect(plan).to_contain_text("Staying in bed; not answering texts.")
        expect(plan).to_contain_text("My sister Jo, 555-0142.")
        journey.follow(plan.get_by_role("link", name="See my whole safety plan").tap, "my-plan")
        expect(page.get_by_role("heading", name="My safety plan")).to_be_visible()
        expect(page.get_by_role("button", name="Print")).to_be_visible()
        journey.finish()
    finally:
        phone.close()
