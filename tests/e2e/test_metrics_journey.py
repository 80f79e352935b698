"""Clinic metrics in a real browser (issue 24): the clinic admin opens Metrics from the navigation,
types a range backwards and sees the error with what was typed kept, fixes it, reads the figures
(charts drawn, tables beside them, the days of last night's count said as such), narrows them to
one psychiatrist and downloads the CSV. Every page is checked as in test_journeys.py (axe-core,
CSP, script errors); the screenshot is kept in docs/screenshots/clinic-metrics.png."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clinic import dates, metrics_count
from clinic.models import AuditEvent, Notification
from tests import factories
from tests.e2e.browser import ARTIFACTS, DESKTOP, Journey

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def past_visits(psychiatrist):
    """Four visits of the last week: two completed (one confirmed), one no-show, one cancelled two
    hours before; email reminders delivered for three of them, a text for one; one side-effect
    report acknowledged after three hours."""
    follow_up = factories.AppointmentTypeFactory(name="Follow-up")
    intake = factories.AppointmentTypeFactory(name="Intake")
    today = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    plan = [(follow_up, "completed", 2), (follow_up, "no_show", 3), (intake, "completed", 4), (intake, "cancelled", 5)]
    for kind, status, days_ago in plan:
        start = today - datetime.timedelta(days=days_ago)
        patient = factories.PatientFactory(user=factories.PatientUserFactory(), primary_psychiatrist=psychiatrist)
        cancelled_at = start - datetime.timedelta(hours=2) if status == "cancelled" else None
        visit = factories.AppointmentFactory(
            patient=patient,
            psychiatrist=psychiatrist,
            appointment_type=kind,
            start=start,
            status=status,
            cancelled_at=cancelled_at,
            confirmed_at=start - datetime.timedelta(hours=20) if days_ago == 2 else None,
        )
        channels = ["email", "sms"] if days_ago == 2 else ["email"] if days_ago < 5 else []
        for channel in channels:
            factories.visit_reminder(visit, channel, Notification.Status.SENT)
    reported = today - datetime.timedelta(days=3)
    factories.past_report(patient, reported, reported + datetime.timedelta(hours=3))


def test_clinic_admin_reads_the_metrics(live_server, chromium, clinic_admin, psychiatrist):
    past_visits(psychiatrist)
    metrics_count.count(30)  # last night's count: the page adds up these days and counts today live
    context = chromium.new_context(**DESKTOP, timezone_id=clinic_admin.time_zone, accept_downloads=True)
    journey = Journey(context.new_page(), live_server.url, "clinic-metrics", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(clinic_admin.email, totp=True)
        journey.follow(page.get_by_role("link", name="Metrics").click)
        expect(page.get_by_role("heading", level=1)).to_have_text("Clinic metrics")
        # The default range (the last 30 days) already shows the week's figures.
        expect(page.locator('[data-metric="completed"]')).to_have_text("2")
        # 1 no-show and 1 late cancel of 4 booked: 25.0 % each.
        expect(page.locator('[data-metric="no_show_rate"]')).to_have_text("25.0 %")
        expect(page.locator('[data-metric="late_cancel_rate"]')).to_have_text("25.0 %")
        yesterday = dates.day(timezone.localdate() - datetime.timedelta(days=1))
        expect(page.locator("#metrics-counted")).to_contain_text(f"Days up to {yesterday}: as counted at")
        expect(page.locator("#metrics-counted")).to_contain_text("counted now")

        today = timezone.localdate()
        page.get_by_label("From").fill(today.isoformat())
        page.get_by_label("To (inclusive)").fill((today - datetime.timedelta(days=7)).isoformat())
        journey.follow(page.get_by_role("button", name="Show").click)
        expect(page.locator("main")).to_contain_text("The end date is before the start date.")
        expect(page.get_by_label("From")).to_have_value(today.isoformat())

        page.get_by_label("From").fill((today - datetime.timedelta(days=7)).isoformat())
        page.get_by_label("To (inclusive)").fill(today.isoformat())
        journey.follow(page.get_by_role("button", name="Show").click)
        # Chart.js drew both charts, and the tables carry the same numbers.
        assert page.evaluate("() => Chart.getChart('metrics-types-chart').data.datasets[0].data") == [50.0, 0.0]
        assert page.evaluate("() => Chart.getChart('metrics-channels-chart') !== undefined")
        expect(page.locator("#visits-by-type tbody tr").first).to_contain_text("Follow-up")
        shutil.copyfile(journey.screenshot("range"), SCREENSHOTS / "clinic-metrics.png")

        page.get_by_label("Figures for").select_option(str(psychiatrist.pk))
        journey.follow(page.get_by_role("button", name="Show").click)
        expect(page.get_by_role("heading", level=1)).to_contain_text("Metrics: Maya Okafor")

        with page.expect_download() as download:
            page.get_by_role("link", name="Download these numbers (CSV)").click()
        text = Path(download.value.path()).read_text()
        assert text.startswith("section,group,measure,value")
        assert "visits_by_type,All types,completed,2" in text
        assert AuditEvent.objects.filter(detail__page="clinic_metrics_csv", actor=clinic_admin).count() == 1
        journey.finish()
    finally:
        context.close()
