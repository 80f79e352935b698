"""Secure messages in a real browser (issue 20): a patient on their phone writes to their care
team, the psychiatrist answers from the inbox, and the patient reads the answer; a message with
crisis wording shows the crisis resources at once and raises the emergency alert, which the
psychiatrist finds. Pages are checked as in test_journeys.py (axe-core, CSP, script errors)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from clinic.models import Alert, Notification
from medications.models import Message, MessageThread
from tests import factories
from tests.e2e.browser import ARTIFACTS, DESKTOP, PHONE, Journey, delivered

# After a transactional test's flush the formulary is empty: the journeys' fixture reloads it.
from tests.e2e.test_journeys import formulary  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "Can I take my sertraline in the evening instead of the morning?"
ANSWER = "Yes, evening is fine if it does not keep you awake. Take it at the same time each day."
CRISIS = "I can't do this anymore. I have been saving my pills and I want to end my life."


def _write(journey, *, category: str, subject: str, text: str, screenshot: str) -> None:
    page = journey.page
    journey.goto("/my/messages/", f"{screenshot}-list")
    expect(page.get_by_text("We answer messages within 2 business days")).to_be_visible()
    journey.follow(lambda: page.get_by_role("link", name="New message").tap(), f"{screenshot}-form")
    page.get_by_label("What is it about?").select_option(label=category)
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Your message").fill(text)
    journey.follow(lambda: page.get_by_role("button", name="Send message").tap(), screenshot)


@pytest.mark.usefixtures("formulary")
def test_a_patient_asks_and_reads_the_reply(live_server, chromium, celery_worker, psychiatrist, patient):
    factories.start(patient, psychiatrist, drug="sertraline")
    phone = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone)
    journey = Journey(phone.new_page(), live_server.url, "message-ask", ARTIFACTS)
    try:
        journey.sign_in(patient.user.email, totp=False)
        _write(journey, category="Question about a medication", subject="Evening dose", text=QUESTION,
               screenshot="message-sent")  # fmt: skip
        expect(journey.page.get_by_role("status")).to_contain_text("Message sent")
        expect(journey.page.get_by_text(QUESTION)).to_be_visible()
        assert MessageThread.objects.get(patient=patient).last_from_patient
        assert delivered(Notification.Kind.MESSAGE_FOR_STAFF, recipient=psychiatrist)
        journey.finish()
    finally:
        phone.close()

    desk = chromium.new_context(**DESKTOP, timezone_id=psychiatrist.time_zone)
    journey = Journey(desk.new_page(), live_server.url, "message-answer", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(psychiatrist.email, totp=True)
        journey.goto("/messages/", "message-inbox")
        row = page.locator("tr", has_text="Evening dose")
        expect(row).to_contain_text(patient.display_name)
        expect(row).to_contain_text("Unread")
        journey.follow(lambda: row.get_by_role("link", name="Evening dose").click(), "message-thread-staff")
        expect(page.get_by_text("Seen by")).to_be_visible()
        page.get_by_role("textbox", name="Message").fill(ANSWER)
        journey.follow(lambda: page.get_by_role("button", name="Send to the patient").click(), "message-answered")
        expect(page.get_by_text("Not yet read by the patient")).to_be_visible()
        assert delivered(Notification.Kind.MESSAGE_FOR_PATIENT, recipient=patient.user)
        journey.finish()
    finally:
        desk.close()

    phone = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone)
    journey = Journey(phone.new_page(), live_server.url, "message-read", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(patient.user.email, totp=False)
        journey.goto("/my/messages/", "message-unread")
        page.get_by_role("button", name="Toggle navigation").tap()  # the phone's menu is folded
        expect(page.locator("nav").get_by_role("link", name="Messages 1 unread")).to_be_visible()
        journey.follow(lambda: page.get_by_role("link", name="Evening dose").tap(), "message-reply-read")
        expect(page.get_by_text(ANSWER)).to_be_visible()
        page.get_by_role("button", name="Toggle navigation").tap()
        expect(page.locator("nav").get_by_role("link", name="Messages", exact=True)).to_be_visible()
        journey.finish()
    finally:
        phone.close()
    thread = MessageThread.objects.get(patient=patient)
    assert [m.from_patient for m in Message.objects.filter(thread=thread)] == [True, False]
    assert thread.reads.get(user=patient.user).read_at >= thread.last_message_at


@pytest.mark.usefixtures("formulary")
def test_crisis_wording_in_a_message_shows_help_and_raises_the_alert(
    live_server, chromium, celery_worker, psychiatrist, patient
):
    factories.start(patient, psychiatrist, drug="sertraline")
    phone = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone)
    journey = Journey(phone.new_page(), live_server.url, "message-crisis", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(patient.user.email, totp=False)
        _write(journey, category="Other", subject="Hard week", text=CRISIS, screenshot="message-crisis")
        crisis = page.locator('section[role="alert"]').first
        expect(crisis.get_by_role("heading", name="Please get help now")).to_be_visible()
        expect(crisis.get_by_role("link", name="988")).to_have_attribute("href", "tel:988")
        expect(crisis.get_by_role("link", name="911")).to_be_visible()
        # First on the page, above the message itself.
        expect(page.locator("main section, main h1").first).to_have_attribute("role", "alert")
        alert = Alert.objects.get(patient=patient)
        assert alert.level == "emergency" and alert.source == Message.objects.get()
        assert delivered(Notification.Kind.SAFETY_ALERT, recipient=psychiatrist, patient=patient)
        journey.finish()
    finally:
        phone.close()

    desk = chromium.new_context(**DESKTOP, timezone_id=psychiatrist.time_zone)
    journey = Journey(desk.new_page(), live_server.url, "message-crisis-alert", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(psychiatrist.email, totp=True)
        journey.goto("/alerts/", "message-crisis-alerts")
        row = page.locator("li.list-group-item", has_text=patient.display_name)
        expect(row).to_contain_text("Emergency")
        journey.follow(lambda: row.get_by_role("link", name="Message", exact=True).click(), "message-crisis-thread")
        expect(page.get_by_text(CRISIS)).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("emergency")
        journey.finish()
    finally:
        desk.close()
