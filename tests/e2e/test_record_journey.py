"""The patient's own record in a real browser (issue 23): on a phone, the patient opens My record
from the menu, asks for a copy, watches it being prepared by a real Celery worker (the page's
script polls the status and reloads), and downloads the PDF, whose text (pypdf) holds their
medicines with every dose and their scores, then the same record as FHIR JSON (the API's
$everything bundle, parsed with fhir.resources). Then the same page without JavaScript: it refreshes
itself until the copy is ready.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from fhir.resources.R4B.bundle import Bundle
from playwright.sync_api import expect
from pypdf import PdfReader

from records.models import RecordRequest
from tests import factories
from tests.e2e.browser import ARTIFACTS, PHONE, Journey

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def formulary(db):
    # A transactional test's flush empties the formulary that the data migration loaded.
    call_command("load_formulary", verbosity=0)


def test_the_patient_asks_for_their_record_and_downloads_the_pdf(
    live_server, chromium, celery_worker, formulary, psychiatrist, patient
):
    factories.sertraline_history(patient, psychiatrist)  # 50 → 100 mg; PHQ-9 16, 12, 6
    context = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone, accept_downloads=True)
    journey = Journey(context.new_page(), live_server.url, "record-patient", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(patient.user.email, totp=False)
        page.get_by_role("button", name="Toggle navigation").click()
        journey.follow(lambda: page.get_by_role("link", name="My record", exact=True).click())
        expect(page.get_by_text("You have not asked for a copy yet.")).to_be_visible()

        journey.follow(lambda: page.get_by_role("button", name="Download my record").click(), "asked")
        expect(page.get_by_text("We are preparing your record.")).to_be_visible()
        # The worker prepares it; the page's script sees it done and reloads with the link.
        download_link = page.get_by_role("link", name="Download the PDF")
        expect(download_link).to_be_visible(timeout=60_000)
        journey.check("ready")
        assert page.locator("progress").count() == 0
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390

        with page.expect_download() as info:
            download_link.click()
        target = ARTIFACTS / "my-record.pdf"
        info.value.save_as(target)
        assert re.fullmatch(r"my-record-\d{4}-\d{2}-\d{2}\.pdf", info.value.suggested_filename)
        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(target.read_bytes())).pages)
        text = " ".join(text.split())
        for expected in ("My health record", "sertraline", "Started at 50 mg", "Dose changed: 50 → 100 mg", "PHQ-9"):
            assert expected in text, expected
        for score in ("16", "12", "6"):
            assert re.search(rf"PHQ-9 {score}\b", text), score

        # The same record as FHIR JSON, for another app or clinic: the API's $everything bundle.
        page.get_by_label("Format").select_option("fhir")
        journey.follow(lambda: page.get_by_role("button", name="Download my record").click(), "asked-fhir")
        fhir_link = page.get_by_role("link", name="Download the FHIR file")
        expect(fhir_link).to_be_visible(timeout=60_000)
        journey.check("ready-fhir")
        with page.expect_download() as info:
            fhir_link.click()
        assert re.fullmatch(r"my-record-\d{4}-\d{2}-\d{2}\.json", info.value.suggested_filename)
        bundle = Bundle.model_validate_json(Path(info.value.path()).read_bytes())
        resources = [entry.resource for entry in bundle.entry]
        assert [r.id for r in resources if r.__resource_type__ == "Patient"] == [str(patient.pk)]
        doses = sorted(
            r.dosageInstruction[0].doseAndRate[0].doseQuantity.value
            for r in resources
            if r.__resource_type__ == "MedicationRequest"
        )
        assert doses == [50, 100]
        journey.finish()
    finally:
        context.close()
    assert celery_worker in ("worker", "eager")
    assert set(RecordRequest.objects.filter(patient=patient).values_list("format", "status")) == {
        ("pdf", RecordRequest.Status.READY),
        ("fhir", RecordRequest.Status.READY),
    }


def test_without_javascript_the_page_refreshes_until_the_copy_is_ready(
    live_server, chromium, celery_worker, formulary, psychiatrist, patient
):
    factories.start(patient, psychiatrist)
    context = chromium.new_context(**PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/accounts/login/")
        page.get_by_label(re.compile("email", re.I)).fill(patient.user.email)
        page.get_by_label("Password").fill(factories.DEMO_LIKE_PASSWORD)
        page.get_by_role("button", name=re.compile("sign in", re.I)).click()
        page.goto(live_server.url + "/my/record/")
        page.get_by_role("button", name="Download my record").click()
        page.wait_for_load_state("load")
        # The <noscript> refresh (every 5 s) brings the link once the worker is done.
        expect(page.get_by_role("link", name="Download the PDF")).to_be_visible(timeout=60_000)
        assert page.locator('meta[http-equiv="refresh"]').count() == 0
    finally:
        context.close()
