"""A clinic cancellation reaches the patient (issue 16, item 1), in a real browser: the front desk
cancels a patient's visit from its page, a real Celery worker delivers the notice, and the patient,
on their phone, finds it in their notifications. Pages are checked as in test_journeys.py (axe-core,
CSP, script errors)."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from appointments import booking
from appointments.models import Appointment, AppointmentType, WeeklyAvailability
from clinic.models import Notification
from notifications.preferences import format_when
from tests.e2e.browser import ARTIFACTS, DESKTOP, PHONE, Journey, delivered, see_message

pytestmark = pytest.mark.django_db(transaction=True)


def test_patient_sees_a_clinic_cancellation(live_server, chromium, celery_worker, clinic_admin, psychiatrist, patient):
    zone = zoneinfo.ZoneInfo(clinic_admin.time_zone)
    for weekday in range(7):
        WeeklyAvailability.objects.create(
            psychiatrist=psychiatrist, weekday=weekday, start_time=datetime.time(9), end_time=datetime.time(17)
        )
    follow_up = AppointmentType.objects.create(name="Follow-up", duration_minutes=30, reminder_offsets_hours=[48])
    day = timezone.localdate(timezone.now(), zone) + datetime.timedelta(days=2)
    appointment = booking.book(
        patient=patient, psychiatrist=psychiatrist, appointment_type=follow_up,
        start=datetime.datetime.combine(day, datetime.time(10), zone), booked_by=clinic_admin,
    )  # fmt: skip
    when = format_when(appointment.start, patient.user.zone)

    admin = chromium.new_context(**DESKTOP, timezone_id=clinic_admin.time_zone)
    journey = Journey(admin.new_page(), live_server.url, "admin-cancels", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(clinic_admin.email, totp=True)
        journey.goto(f"/appointments/{appointment.pk}/")
        cancel = page.locator("form", has=page.get_by_role("heading", name="Cancel"))
        cancel.get_by_label("Reason for cancelling").fill("Psychiatrist unwell")
        questions = []

        def answer_yes(dialog):
            questions.append(dialog.message)
            dialog.accept()

        page.once("dialog", answer_yes)
        journey.follow(cancel.get_by_role("button", name="Cancel appointment").click, "cancelled")
        assert questions == [
            "Cancel this appointment? The patient is told in the portal and by the email or text they allow."
        ]
        see_message(page, "Appointment cancelled.")
        appointment.refresh_from_db()
        assert appointment.status == Appointment.Status.CANCELLED
        journey.finish()
    finally:
        admin.close()

    # The worker delivers the notice: in the portal, and by email (the patient's default).
    sent = delivered(Notification.Kind.VISIT_CANCELLED, appointment, recipient=patient.user)
    assert {row.channel for row in sent} <= {Notification.Channel.IN_APP, Notification.Channel.EMAIL}
    assert Notification.Channel.IN_APP in {row.channel for row in sent}

    phone = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone)
    journey = Journey(phone.new_page(), live_server.url, "patient-told", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(patient.user.email, totp=False)
        expect(page).to_have_url(re.compile("/my/$"))
        journey.goto("/notifications/", "notifications")
        notice = page.get_by_role("link", name=re.compile(f"The clinic cancelled your appointment on {when}"))
        expect(notice).to_be_visible()
        journey.follow(notice.tap)
        expect(page.locator("main")).to_contain_text("Cancelled")
        journey.finish()
    finally:
        phone.close()
