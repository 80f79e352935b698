"""Between visits (issue 20), in a browser: a refill request approved and on the chart's event
history; an adherence check-in drawn as a trend point on the chart; St John's wort added by the
patient making a later sertraline dose change show the interaction alert. The patient is on a
phone, the psychiatrist on a desktop; axe-core runs on every page either loads."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from medications.models import AdherenceCheckIn, OutsideMedication, PrescriptionEvent, RefillRequest
from tests import factories
from tests.e2e.browser import ARTIFACTS, DESKTOP, PHONE, Journey, see_message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def formulary(db):
    # A transactional test's flush empties the formulary that the data migration loaded.
    call_command("load_formulary", verbosity=0)


@pytest.fixture
def sertraline(formulary, patient, psychiatrist):
    return factories.start(patient, psychiatrist, drug="sertraline", dose="50", strength="50")


def journey(chromium, live_server, name: str, device: dict):
    context = chromium.new_context(**device)
    return context, Journey(context.new_page(), live_server.url, name, ARTIFACTS)


def test_a_refill_request_is_approved_and_appears_on_the_charts_event_history(
    live_server, chromium, patient, psychiatrist, sertraline
):
    context, phone = journey(chromium, live_server, "refill-patient", PHONE)
    try:
        phone.sign_in(patient.user.email, totp=False)
        phone.goto("/my/refills/")
        phone.page.get_by_role("combobox", name=re.compile("^Medicine")).select_option(str(sertraline.pk))
        phone.page.get_by_label("Pharmacy").fill("Main Street Pharmacy")
        phone.page.get_by_label("How many days of medicine do you have left?").fill("3")
        phone.follow(lambda: phone.page.get_by_role("button", name="Send refill request").click(), "sent")
        see_message(phone.page, "Your refill request was sent")
        expect(phone.page.get_by_text("Waiting for your psychiatrist")).to_be_visible()
        phone.finish()
    finally:
        context.close()
    assert RefillRequest.objects.filter(status="pending").count() == 1

    context, desk = journey(chromium, live_server, "refill-psychiatrist", DESKTOP)
    try:
        desk.sign_in(psychiatrist.email, totp=True)
        desk.goto("/refills/")
        desk.follow(lambda: desk.page.get_by_role("link", name="Review").click(), "request")
        desk.page.get_by_label("Quantity").fill("90")
        desk.page.get_by_label("Refills").fill("1")
        desk.follow(lambda: desk.page.get_by_role("button", name="Approve refill").click())
        see_message(desk.page, "Refill of sertraline approved")
        desk.goto(f"/patients/{patient.pk}/", "chart")
        expect(desk.page.get_by_text("Refill approved: sertraline (qty 90, 1 refills)")).to_be_visible()
        desk.finish()
    finally:
        context.close()
    event = PrescriptionEvent.objects.get(kind="refill_approved")
    assert (event.prescription_id, event.quantity, event.refills) == (sertraline.pk, 90, 1)


def test_an_adherence_check_in_appears_as_a_trend_point_on_the_chart(
    live_server, chromium, patient, psychiatrist, sertraline
):
    context, phone = journey(chromium, live_server, "adherence-patient", PHONE)
    try:
        phone.sign_in(patient.user.email, totp=False)
        phone.goto("/my/check-in/", "form")
        question = phone.page.get_by_role("group", name=re.compile("miss a dose of sertraline"))
        question.get_by_text("2", exact=True).click()
        question.get_by_label("I forgot").check()
        phone.follow(lambda: phone.page.get_by_role("button", name="Send check-in").click())
        see_message(phone.page, "your check-in was sent")
        phone.finish()
    finally:
        context.close()
    assert AdherenceCheckIn.objects.count() == 1

    context, desk = journey(chromium, live_server, "adherence-psychiatrist", DESKTOP)
    try:
        desk.sign_in(psychiatrist.email, totp=True)
        desk.goto(f"/patients/{patient.pk}/")
        trend = desk.page.locator("#adherence svg.adherence-trend")
        expect(trend).to_be_visible()
        expect(trend.locator("circle.adherence-point")).to_have_count(1)
        desk.page.locator("#adherence").screenshot(path=str(ARTIFACTS / "adherence-psychiatrist-trend.png"))
        desk.page.locator("#adherence summary").click()
        expect(desk.page.locator("#adherence table")).to_contain_text("2 of 7")
        desk.finish()
    finally:
        context.close()


def test_st_johns_wort_added_by_the_patient_makes_a_sertraline_change_show_the_interaction(
    live_server, chromium, patient, psychiatrist, sertraline
):
    context, phone = journey(chromium, live_server, "cabinet-patient", PHONE)
    try:
        phone.sign_in(patient.user.email, totp=False)
        phone.goto("/my/medicines/")
        phone.page.get_by_label("What do you take?").fill("St John's wort")
        phone.page.get_by_label("How much and how often (if you know)").fill("300 mg a day")
        phone.follow(lambda: phone.page.get_by_role("button", name="Add to my list").click(), "added")
        expect(phone.page.get_by_text("Added by you — not yet confirmed by your care team")).to_be_visible()
        phone.finish()
    finally:
        context.close()
    assert OutsideMedication.objects.get().medication.generic_name == "st john's wort"

    context, desk = journey(chromium, live_server, "cabinet-psychiatrist", DESKTOP)
    try:
        desk.sign_in(psychiatrist.email, totp=True)
        desk.goto(f"/patients/{patient.pk}/prescriptions/{sertraline.pk}/change/")
        desk.page.get_by_label("New dose (mg each time)").fill("100")
        desk.page.get_by_label("Reason").select_option("ineffective")
        desk.follow(lambda: desk.page.get_by_role("button", name="Save change").click(), "alert")
        expect(desk.page.get_by_text(re.compile("St John's wort with an SSRI/SNRI")).first).to_be_visible()
        desk.finish()
    finally:
        context.close()
    sertraline.refresh_from_db()
    assert sertraline.dose_mg == 50  # not saved: the major alert needs a reason first
