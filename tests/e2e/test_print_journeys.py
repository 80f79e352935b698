"""After-visit summaries and printed prescriptions in a real browser (issue 21, items 1–4).

A psychiatrist signs a visit note that started a medicine; the patient, on a phone, finds the
summary from the menu, reads the new instructions and downloads the PDF, whose text (extracted
with pypdf) says the same. A prescription prints with every field a pharmacy needs, and its PDF
too. Each PDF is rendered to PNG with poppler's pdftoppm and checked as a picture (a page the
size of US Letter, with ink on it), so a PDF that opens blank or cut off fails here; the PNGs are
saved beside the journeys' screenshots (docs/screenshots keeps one of each, looked at by eye).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image, ImageStat
from playwright.sync_api import expect
from pypdf import PdfReader

from medications import prescribing
from tests import factories
from tests.e2e.browser import ARTIFACTS, DESKTOP, PHONE, Journey

pytestmark = pytest.mark.django_db(transaction=True)

NPI, DEA = "1234567893", "BO1234563"


@pytest.fixture
def formulary(db):
    # A transactional test's flush empties the formulary that the data migration loaded.
    call_command("load_formulary", verbosity=0)


def pdf_text(path: Path) -> str:
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def rendered_png(pdf: Path, name: str) -> Path:
    """The PDF's first page as a PNG at 100 dpi: US Letter is 850 × 1100 pixels."""
    assert shutil.which("pdftoppm"), "pdftoppm (Debian's poppler-utils) is missing: .ci/run installs it"
    stem = ARTIFACTS / name
    subprocess.run(
        ["pdftoppm", "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)], check=True
    )
    png = stem.with_suffix(".png")
    with Image.open(png) as image:
        assert image.size == (850, 1100), image.size
        grey = image.convert("L")
        # Ink on the page: dark text on white, not a blank or an all-black page.
        assert grey.getextrema()[0] < 60, "no dark text on the rendered page"
        assert 200 < ImageStat.Stat(grey).mean[0] < 254, ImageStat.Stat(grey).mean
    return png


def download(journey: Journey, link_name: str, name: str) -> Path:
    with journey.page.expect_download() as info:
        journey.page.get_by_role("link", name=link_name).click()
    target = ARTIFACTS / name
    info.value.save_as(target)
    assert target.read_bytes().startswith(b"%PDF-")
    return target


def test_a_signed_note_gives_the_patient_a_summary_on_the_phone_and_as_a_pdf(
    live_server, chromium, formulary, psychiatrist, patient
):
    visit = factories.visit(patient, psychiatrist, reason_for_patient="To help with low mood and worry.")
    prescribing.start_prescription(
        patient=patient, medication=factories.medication("sertraline"), prescriber=psychiatrist, form="tablet",
        route="oral", strength_mg=Decimal(50), dose_mg=Decimal(50), frequency="qam", quantity=30, visit_note=visit,
    )  # fmt: skip

    # The psychiatrist signs the note; printing it leaves out the menu and the addendum form.
    context = chromium.new_context(**DESKTOP, timezone_id=psychiatrist.time_zone)
    journey = Journey(context.new_page(), live_server.url, "summary-psychiatrist", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(psychiatrist.email, totp=True)
        journey.goto(f"/patients/{patient.pk}/visits/{visit.pk}/")
        journey.follow(lambda: page.get_by_role("button", name="Sign and lock").click())
        expect(page.get_by_text("Signed", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Add addendum")).to_be_visible()
        page.emulate_media(media="print")
        expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
        expect(page.get_by_role("button", name="Add addendum")).to_be_hidden()
        expect(page.get_by_role("heading", name="Medication changes in this visit")).to_be_visible()
        page.emulate_media(media="screen")
        journey.finish()
    finally:
        context.close()

    # The patient, on a phone: the menu, the list, the summary, the PDF.
    context = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone, accept_downloads=True)
    journey = Journey(context.new_page(), live_server.url, "summary-patient", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(patient.user.email, totp=False)
        page.get_by_role("button", name="Toggle navigation").click()
        journey.follow(lambda: page.get_by_role("link", name="Visit summaries").click())
        journey.follow(lambda: page.get_by_role("link", name=re.compile("^Visit on ")).click(), "phone")
        summary = page.locator("article.visit-summary")
        expect(summary).to_contain_text("Started sertraline")
        expect(summary).to_contain_text("Take 1 tablet (50 mg) each morning")
        expect(summary).to_contain_text("To help with low mood and worry.")
        expect(summary).to_contain_text("Common side effects")
        # Nothing wider than the phone's screen.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390

        pdf = download(journey, "Download PDF", "after-visit-summary.pdf")
        text = pdf_text(pdf)
        assert "Take 1 tablet (50 mg) each morning" in text
        assert "Started sertraline" in text and "To help with low mood and worry." in text
        assert patient.display_name in text
        rendered_png(pdf, "after-visit-summary")

        journey.follow(lambda: page.get_by_role("link", name="Print").click())
        expect(page.get_by_role("heading", name="Your visit summary")).to_be_visible()
        assert page.locator("form").count() == 0 and page.locator(".navbar").count() == 0
        journey.finish()
    finally:
        context.close()


def test_a_prescription_prints_with_every_field_a_pharmacy_needs(
    live_server, chromium, formulary, psychiatrist, patient
):
    psychiatrist.npi, psychiatrist.dea_number = NPI, DEA
    psychiatrist.save(update_fields=["npi", "dea_number"])
    patient.address_line1, patient.city, patient.region, patient.postal_code = "12 Elm St", "Salem", "MA", "01970"
    patient.save()
    rx = factories.start(patient, psychiatrist, dose="50", strength="50", refills=1)

    context = chromium.new_context(**DESKTOP, timezone_id=psychiatrist.time_zone, accept_downloads=True)
    journey = Journey(context.new_page(), live_server.url, "prescription", ARTIFACTS)
    page = journey.page
    try:
        journey.sign_in(psychiatrist.email, totp=True)
        journey.goto(f"/patients/{patient.pk}/prescriptions/{rx.pk}/")
        journey.follow(lambda: page.get_by_role("link", name="Print for a pharmacy").click(), "print")
        fields = page.locator("main")
        born = patient.date_of_birth
        required = [
            "Maya Okafor, MD", NPI, DEA, f"{patient.legal_first_name} {patient.legal_last_name}",
            f"{born:%b} {born.day}, {born.year}", "12 Elm St", "sertraline", "50 mg", "tablet", rx.sig,
            "Thirty (30)", "One (1)", "Prescriber's signature",
        ]  # fmt: skip
        for text in required:
            expect(fields).to_contain_text(text)
        expect(fields).not_to_contain_text("requires electronic prescribing")

        pdf = download(journey, "Download PDF", "prescription.pdf")
        text = pdf_text(pdf)
        missing = [field for field in required if field not in text]
        assert missing == [], text
        rendered_png(pdf, "prescription")
        journey.finish()
    finally:
        context.close()
