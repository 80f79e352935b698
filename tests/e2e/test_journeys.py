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
import zoneinfo
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from appointments.models import Appointment
from clinic.models import ConsentRecord, Notification, NotificationPreference
from medications.models import Prescription, PrescriptionEvent, SideEffectReport
from tests import factories
from tests.e2e.browser import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    Journey,
    delivered,
    focus_is_visible,
    press_until_focused,
    see_message,
)
from tests.factories import sertraline_history

pytestmark = pytest.mark.django_db(transaction=True)

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


def shown(moment, *, long: bool = False) -> str:
    """A day as the pages print it (clinic/dates.py): "Fri, Dec 11" / "Friday, December 11", with
    the year only when it is not this one."""
    year = "" if moment.year == timezone.localdate().year else f", {moment.year}"
    return f"{moment:%A, %B} {moment.day}{year}" if long else f"{moment:%a}, {moment:%b} {moment.day}{year}"


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

        # Stopping asks first; answering no leaves tramadol running.
        journey.goto(f"/patients/{patient.pk}/prescriptions/{tramadol.pk}/stop/")
        questions = []

        def answer_no(dialog):
            questions.append(dialog.message)
            dialog.dismiss()

        page.once("dialog", answer_no)
        page.get_by_role("button", name="Save stop or taper").click()
        assert questions == [
            f"Stop or taper tramadol for {patient.display_name}? This is recorded in the chart and cannot be undone."
        ]
        expect(page).to_have_url(re.compile(f"/prescriptions/{tramadol.pk}/stop/$"))
        tramadol.refresh_from_db()
        assert tramadol.status == Prescription.Status.ACTIVE

        # The chart again: the timeline and the dose bar show the visit's changes.
        journey.goto(reverse("patients:chart", args=[patient.pk]))
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


# -- Patient (phone, touch) ------------------------------------------------------------------------


def keyboard_to(page, selector: str) -> None:
    """Tab to the element; the focus ring must be visible when it gets there."""
    press_until_focused(page, selector)
    assert focus_is_visible(page), f"no visible focus on {selector}"


def first_invalid_is_focused_and_described(page) -> str:
    """After a refused form: focus lands on the first field in error, and its description (what a
    screen reader reads with it, or with its radio group) is the error text. Returns that text."""
    return page.evaluate(
        """() => {
      const el = document.activeElement;
      if (!el || el.getAttribute("aria-invalid") !== "true") return "";
      // A radio button's error belongs to its group: read with the fieldset's legend on entry.
      const group = el.closest("fieldset[aria-describedby]");
      const described = [el.getAttribute("aria-describedby"), group && group.getAttribute("aria-describedby")];
      const ids = described.join(" ").split(/\\s+/).filter((id) => id && id !== "null");
      return ids.map((id) => document.getElementById(id)?.textContent.trim() || "").join(" ");
    }"""
    )


@pytest.fixture
def weekday_hours(psychiatrist):
    from appointments.models import AppointmentType, WeeklyAvailability

    for weekday in range(7):
        WeeklyAvailability.objects.create(
            psychiatrist=psychiatrist, weekday=weekday, start_time=datetime.time(9), end_time=datetime.time(17)
        )
    return AppointmentType.objects.create(name="Follow-up", duration_minutes=30, patient_bookable=True)


def test_patient_journey(live_server, chromium, celery_worker, formulary, psychiatrist, patient, weekday_hours):
    from patients import questionnaires
    from patients.models import QuestionnaireResponse

    # The patient lives three hours west of the clinic: times on their screens are in their zone.
    patient.user.time_zone = "America/Los_Angeles"
    patient.user.save(update_fields=["time_zone"])
    their_zone = zoneinfo.ZoneInfo("America/Los_Angeles")
    sertraline = sertraline_history(patient, psychiatrist)
    phq9 = questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist)

    context = chromium.new_context(**PHONE, timezone_id="America/Los_Angeles")
    journey = Journey(context.new_page(), live_server.url, "patient", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(patient.user.email, totp=False)

        # Home: the medicine and how to take it.
        expect(page).to_have_url(re.compile("/my/$"))
        medications = page.locator("section", has=page.get_by_role("heading", name="My medications"))
        expect(medications.get_by_role("heading", name=re.compile("^Sertraline"))).to_be_visible()
        expect(medications).to_contain_text(sertraline.sig)
        page.wait_for_function(CHARTS_DRAWN)

        # A severe side effect, reported with the keyboard alone.
        journey.follow(lambda: page.get_by_role("link", name="Report a side effect").tap())
        keyboard_to(page, "button[type=submit].btn-lg")
        journey.follow(lambda: page.keyboard.press("Enter"), "report-errors")  # nothing filled in: refused, and said so
        expect(page.locator("form [role=alert]")).to_contain_text("Tick at least one symptom")
        error_text = first_invalid_is_focused_and_described(page)
        assert "required" in error_text.lower(), error_text
        assert SideEffectReport.objects.filter(patient=patient).count() == 1  # sertraline_history's

        keyboard_to(page, "#symptom-nausea")
        page.keyboard.press("Space")
        keyboard_to(page, "input[name=severity]")  # a radio group is one Tab stop; arrows choose
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        expect(page.get_by_label("Severe — hard to cope with")).to_be_checked()
        keyboard_to(page, "input[name=onset_date]")
        page.keyboard.type(timezone.localdate(timezone.now(), their_zone).strftime("%m%d%Y"))
        keyboard_to(page, "button[type=submit].btn-lg")
        journey.follow(lambda: page.keyboard.press("Enter"), "report-sent")
        expect(page.get_by_role("heading", name="Please call the clinic today")).to_be_visible()
        # In the crisis box (and again in the clinic's contact box below it).
        expect(page.get_by_role("listitem").get_by_role("link", name="988")).to_be_visible()
        report = SideEffectReport.objects.filter(patient=patient).latest("created_at")
        assert (report.severity, report.triage_level, report.reported_by_id) == ("severe", "urgent", patient.user.pk)
        assert report.symptoms == ["nausea"] and report.prescription_id == sertraline.pk
        # The worker delivered the psychiatrist's alert.
        assert delivered(Notification.Kind.SAFETY_ALERT, recipient=psychiatrist, patient=patient)

        # The PHQ-9, with the keyboard alone: items 1-8 "several days" (1), item 9 "not at all" (0).
        journey.goto(f"/patients/me/questionnaires/{phq9.pk}/")
        keyboard_to(page, "button[type=submit]")
        journey.follow(lambda: page.keyboard.press("Enter"))
        expect(page.locator("#q-errors")).to_be_visible()
        for item in range(1, 10):
            name = page.locator("fieldset.q-item input[type=radio]").nth((item - 1) * 4).get_attribute("name")
            keyboard_to(page, f"input[name='{name}']")
            page.keyboard.press("Space")  # the first answer, "Not at all"
            if item < 9:
                page.keyboard.press("ArrowDown")  # the next, "Several days"
            assert focus_is_visible(page)
        keyboard_to(page, "button[type=submit]")
        journey.follow(lambda: page.keyboard.press("Enter"), "phq9-result")
        expect(page.get_by_text("Thank you — your answers were sent")).to_be_visible()
        score = page.locator(".card", has_text="PHQ-9")
        expect(score).to_contain_text("8")
        expect(score.locator(".badge")).to_have_text("Mild")  # the band in words, not colour alone
        response = QuestionnaireResponse.objects.filter(patient=patient).latest("submitted_at")
        assert (response.instrument, response.total, response.completed_by_id) == ("phq9", 8, patient.user.pk)

        # Their score history: the new score is the last point on the home page's chart.
        journey.follow(lambda: page.get_by_role("link", name="Back to my care").tap())
        page.wait_for_function(CHARTS_DRAWN)
        points = json.loads(page.locator("#progress-data").text_content())["series"][0]["points"]
        assert [p["y"] for p in points] == [16, 12, 6, 8]
        journey.screenshot("home")

        # Book an appointment, then cancel it (asked first).
        journey.goto("/my/appointments/")
        expect(page.get_by_text("No upcoming appointments")).to_be_visible()
        journey.follow(lambda: page.get_by_role("link", name="Book an appointment").tap(), "book")
        # The second slot: the first starts just past the type's minimum notice, which a half-hour
        # boundary between showing the page and tapping can cross (the booking is then refused).
        journey.follow(lambda: page.locator("button[name=start]").nth(1).tap())
        booked = Appointment.objects.get(patient=patient)
        when = timezone.localtime(booked.start, their_zone)
        see_message(page, f"Booked: Follow-up on {shown(when)} at {when:%H:%M}.")
        expect(page.get_by_role("article")).to_contain_text(f"{shown(when, long=True)} at {when:%H:%M}")
        assert (booked.status, booked.psychiatrist_id, booked.booked_by_id) == (
            Appointment.Status.SCHEDULED, psychiatrist.pk, patient.user.pk,
        )  # fmt: skip
        assert delivered(Notification.Kind.APPOINTMENT_BOOKED, booked)

        page.get_by_label("Reason (optional)").fill("Feeling better, will rebook")
        cancel = page.get_by_role("button", name=re.compile("^Cancel appointment"))
        questions = []

        def answer_no(dialog):
            questions.append(dialog.message)
            dialog.dismiss()  # "no": the page stays, nothing is sent

        page.once("dialog", answer_no)
        cancel.tap()
        assert questions == [f"Cancel your appointment on {shown(when, long=True)} at {when:%H:%M}?"]
        expect(page).to_have_url(re.compile("/my/appointments/$"))
        booked.refresh_from_db()
        assert booked.status == Appointment.Status.SCHEDULED

        page.once("dialog", lambda dialog: dialog.accept())
        journey.follow(cancel.tap)
        see_message(page, "Your appointment is cancelled.")
        booked.refresh_from_db()
        assert booked.status == Appointment.Status.CANCELLED
        assert delivered(Notification.Kind.APPOINTMENT_CANCELLED, booked)

        # Reminders: texts on, with quiet hours. A mistyped number is refused at the field.
        journey.goto("/settings/reminders/")
        page.get_by_label("Text me appointment reminders").tap()
        page.get_by_label("Mobile number for texts").fill("12345")
        page.get_by_label("Quiet hours start").fill("21:00")
        page.get_by_label("Quiet hours end").fill("08:00")
        save = page.get_by_role("button", name="Save settings")
        journey.follow(save.tap)
        assert "Enter a valid mobile number" in first_invalid_is_focused_and_described(page)
        expect(page.get_by_label("Quiet hours start")).to_have_value("21:00")  # what was typed stays
        page.get_by_label("Mobile number for texts").fill("(617) 555-0123")
        journey.follow(save.tap, "reminders")
        see_message(page, re.compile("saved", re.I))
        prefs = NotificationPreference.objects.get(user=patient.user)
        assert (prefs.sms_enabled, prefs.sms_phone) == (True, "+16175550123")
        assert (prefs.quiet_hours_start, prefs.quiet_hours_end) == (datetime.time(21), datetime.time(8))
        assert list(ConsentRecord.objects.filter(user=patient.user).values_list("channel", "granted")) == [
            (Notification.Channel.SMS, True)
        ]
        journey.finish()
    finally:
        context.close()


# -- Clinic admin (desktop) ------------------------------------------------------------------------


def test_clinic_admin_journey(live_server, chromium, celery_worker, formulary, clinic_admin, psychiatrist, patient):
    from appointments.models import AppointmentType, TimeOff, WeeklyAvailability

    other = factories.PatientFactory(
        user=factories.PatientUserFactory(), primary_psychiatrist=psychiatrist, legal_first_name="Carol"
    )
    # One reminder, 48 h before: an appointment booked for tomorrow gets a catch-up reminder at once,
    # which the worker sends while the admin watches the delivery page.
    follow_up = AppointmentType.objects.create(name="Follow-up", duration_minutes=30, reminder_offsets_hours=[48])
    zone = zoneinfo.ZoneInfo(clinic_admin.time_zone)
    assert psychiatrist.time_zone == clinic_admin.time_zone  # hours are set in the psychiatrist's zone
    day = timezone.localdate(timezone.now(), zone) + datetime.timedelta(days=1)
    monday = day - datetime.timedelta(days=day.weekday())

    context = chromium.new_context(**DESKTOP, timezone_id=clinic_admin.time_zone)
    journey = Journey(context.new_page(), live_server.url, "admin", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(clinic_admin.email, totp=True)
        expect(page).to_have_url(re.compile("/front-desk/$"))

        # Hours for tomorrow's weekday, and an hour of time off in the middle of it.
        journey.goto(f"/front-desk/psychiatrists/{psychiatrist.pk}/availability/")
        expect(page.get_by_text("No weekly hours yet")).to_be_visible()  # the empty state says what to do
        weekly = page.locator("section", has=page.get_by_role("heading", name="Weekly hours"))
        weekly.get_by_label("Weekday").select_option(str(day.weekday()))
        weekly.get_by_label("Start time").fill("09:00")
        weekly.get_by_label("End time").fill("17:00")
        journey.follow(weekly.get_by_role("button", name="Add hours").click)
        see_message(page, "Added")
        window = WeeklyAvailability.objects.get(psychiatrist=psychiatrist)
        assert (window.weekday, window.start_time, window.end_time) == (
            day.weekday(), datetime.time(9), datetime.time(17),
        )  # fmt: skip

        off = page.locator("section", has=page.get_by_role("heading", name="Time off"))
        off.get_by_label("Start").fill(f"{day:%Y-%m-%d}T13:00")
        off.get_by_label("End").fill(f"{day:%Y-%m-%d}T14:00")
        off.get_by_label("Reason").fill("Training")
        journey.follow(off.get_by_role("button", name="Add time off").click)
        see_message(page, "Time off added.")
        (time_off,) = TimeOff.objects.filter(psychiatrist=psychiatrist)
        local_off = (timezone.localtime(time_off.start, zone), timezone.localtime(time_off.end, zone))
        assert [(t.date(), t.hour) for t in local_off] == [(day, 13), (day, 14)]

        # The week: time off written in the cell; book Alice at 10:00 from the grid.
        journey.goto(f"/front-desk/calendar/?psychiatrist={psychiatrist.pk}&week={monday:%Y-%m-%d}")
        column = [shown(d) for d in (monday + datetime.timedelta(days=n) for n in range(7))]
        expect(page.locator("table.calendar")).to_contain_text("Time off")
        journey.follow(page.get_by_role("link", name=f"Book {day:%a} 10:00").click)
        expect(page.get_by_label("Start")).to_have_value(f"{day:%Y-%m-%d}T10:00")
        page.get_by_label("Patient").select_option(str(patient.pk))
        page.get_by_label("Appointment type").select_option(str(follow_up.pk))
        journey.follow(page.get_by_role("button", name="Book", exact=True).click)
        see_message(page, f"Booked {patient.display_name} on {shown(day)} at 10:00.")
        appointment = Appointment.objects.get(patient=patient)
        assert timezone.localtime(appointment.start, zone) == datetime.datetime.combine(day, datetime.time(10), zone)
        assert appointment.booked_by_id == clinic_admin.pk

        # Carol at the same time: refused, in words, and nothing stored.
        journey.goto(f"/appointments/new/?psychiatrist={psychiatrist.pk}&start={day:%Y-%m-%d}T10:00")
        page.get_by_label("Patient").select_option(str(other.pk))
        page.get_by_label("Appointment type").select_option(str(follow_up.pk))
        journey.follow(page.get_by_role("button", name="Book", exact=True).click, "double-booking")
        refusal = f"{psychiatrist.display_name} already has an appointment {shown(day)}, 10:00–10:30."
        expect(page.get_by_text(refusal)).to_be_visible()
        assert refusal in first_invalid_is_focused_and_described(page)  # on the Start field, read with it
        assert Appointment.objects.filter(patient=other).count() == 0

        # Move Alice from the calendar to 11:00.
        journey.goto(f"/front-desk/calendar/?psychiatrist={psychiatrist.pk}&week={monday:%Y-%m-%d}")
        journey.follow(page.get_by_role("link", name=re.compile(f"10:00 {patient.display_name}")).click)
        page.get_by_label("New start").fill(f"{day:%Y-%m-%d}T11:00")
        journey.follow(page.get_by_role("button", name="Move appointment").click)
        see_message(page, f"Moved to {shown(day)} at 11:00.")
        appointment.refresh_from_db()
        assert timezone.localtime(appointment.start, zone).hour == 11
        journey.goto(f"/front-desk/calendar/?psychiatrist={psychiatrist.pk}&week={monday:%Y-%m-%d}", "calendar")
        expect(page.get_by_role("link", name=re.compile(f"11:00 {patient.display_name}"))).to_be_visible()
        assert column[day.weekday()] in page.locator("table.calendar thead").inner_text()

        # The reminders the booking and the move planned, sent by the worker, on the delivery page.
        sent = delivered(Notification.Kind.APPOINTMENT_REMINDER, recipient=patient.user)
        assert sent and all(row.sent_at is not None for row in sent)
        journey.goto("/front-desk/deliveries/", "deliveries")
        report = page.locator("main")
        expect(report).to_contain_text("Appointment reminder")
        expect(report).to_contain_text("Sent")
        expect(report).not_to_contain_text(patient.display_name)  # no names on the delivery page
        journey.finish()
    finally:
        context.close()


# -- A manual dose change over an open plan (issue 16, item 2) ---------------------------------------


def test_patient_home_after_a_manual_change_over_a_plan_gives_one_instruction(
    live_server, chromium, celery_worker, formulary, psychiatrist, patient
):
    from medications.prescribing import PlanStepInput

    # Sertraline 50 mg for 7 days, then 100 mg for 14, then 150 mg: the 100 mg step is due.
    rx = factories.start(
        patient,
        psychiatrist,
        dose="50",
        strength="50",
        start_date=timezone.localdate() - datetime.timedelta(days=8),
        titration_steps=[
            PlanStepInput(Decimal(50), 7),
            PlanStepInput(Decimal(100), 14),
            PlanStepInput(Decimal(150), None),
        ],
    )
    desk = chromium.new_context(**DESKTOP, timezone_id="America/New_York")
    journey = Journey(desk.new_page(), live_server.url, "psychiatrist-plan", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(psychiatrist.email, totp=True)
        journey.goto(reverse("patients:chart", args=[patient.pk]))
        expect(page.get_by_text(re.compile("Titration: next 100 mg due"))).to_be_visible()
        # The psychiatrist raises the dose in a visit, by hand, to the plan's next dose.
        page.locator("div.border-bottom", has_text="sertraline").get_by_role("link", name="Change dose").click()
        journey.check()
        expect(page.get_by_role("note")).to_contain_text("Changing to 100 mg counts as that step")
        page.get_by_label("New dose (mg each time)").fill("100")
        page.get_by_label("Reason").select_option(index=1)
        page.get_by_role("button", name="Save change").click()
        see_message(page, "sertraline changed")
        journey.check()
        # The chart no longer offers the step the patient is already on.
        expect(page.get_by_text(re.compile("Titration: next 150 mg due"))).to_be_visible()
        expect(page.get_by_text(re.compile("next 100 mg"))).to_have_count(0)
        journey.finish()
    finally:
        desk.close()

    phone = chromium.new_context(**PHONE)
    journey = Journey(phone.new_page(), live_server.url, "patient-plan", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(patient.user.email, totp=False)
        expect(page).to_have_url(re.compile("/my/$"))
        medications = page.locator("section", has=page.get_by_role("heading", name="My medications"))
        expect(medications).to_contain_text("Take 2 tablets (100 mg)")
        next_step = page.locator("section", has=page.get_by_role("heading", name="Next step"))
        # One instruction, from the dose they take now: the plan's next step is 150 mg, not 100 mg.
        expect(next_step.get_by_text(re.compile("plans to change"))).to_have_count(1)
        expect(next_step).to_contain_text("plans to change sertraline to 150 mg")
        expect(next_step).not_to_contain_text("100 mg")
        journey.screenshot("patient-home-after-manual-change")
        journey.finish()
    finally:
        phone.close()

    plan = rx.plans.get()
    assert (plan.status, plan.next_step.dose_mg) == ("active", Decimal(150))
