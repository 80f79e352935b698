"""Printable prescriptions (issue 21, item 2): the print view and PDF carry what a US pharmacy
needs; a Schedule II–V drug carries the e-prescribing / wet-signature notice; a stopped
prescription does not print; every print and PDF writes one audit row; the prescriber's NPI and
DEA number are checked when they are saved."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from clinic import contact, prescriber_ids
from clinic.models import AuditEvent
from medications import instructions, prescribing
from medications.models import ChangeReason
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

NPI = "1234567893"  # CMS's worked example of the check digit
DEA = "BO1234563"  # practitioner (B), last name Okafor (O), check digit 3


@pytest.fixture
def prescriber(psychiatrist):
    psychiatrist.npi, psychiatrist.dea_number = NPI, DEA
    psychiatrist.save(update_fields=["npi", "dea_number"])
    return psychiatrist


def _last_audit_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _pdf_text(response) -> str:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    return " ".join(text.split())


def test_the_print_view_has_every_field_a_pharmacy_needs(client, patient, prescriber):
    patient.address_line1, patient.city, patient.region, patient.postal_code = "12 Elm St", "Salem", "MA", "01970"
    patient.save()
    rx = factories.start(patient, prescriber, dose="50", strength="50", refills=2)
    log_in(client, prescriber)
    last = _last_audit_id()

    response = client.get(reverse("medications:prescription_print", args=[patient.pk, rx.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    for field in (
        "Maya Okafor, MD", NPI, DEA, patient.legal_first_name, patient.legal_last_name, "12 Elm St",
        f"{patient.date_of_birth:%b} {patient.date_of_birth.day}, {patient.date_of_birth.year}",
        "sertraline", "50 mg", "tablet", rx.sig, "Thirty (30)", "Two (2)", "Prescriber's signature",
        contact.clinic().name,
    ):  # fmt: skip
        assert field in page, field
    assert "<form" not in page and "navbar" not in page
    assert "requires electronic prescribing" not in page
    row = AuditEvent.objects.get(id__gt=last)
    assert (row.action, row.patient_id, row.object_type, row.detail) == (
        "view", patient.pk, "medications.Prescription", {"page": "prescription_print"},
    )  # fmt: skip


def test_a_controlled_drug_prints_the_notice_in_the_pdf(client, patient, prescriber):
    rx = factories.start(patient, prescriber, drug="lorazepam", dose="0.5", strength="0.5", frequency="bid")
    assert rx.medication.dea_schedule == "CIV"
    log_in(client, prescriber)
    last = _last_audit_id()

    response = client.get(reverse("medications:prescription_pdf", args=[patient.pk, rx.pk]))

    text = _pdf_text(response)
    assert "Controlled substance (Schedule IV)" in text
    assert "requires electronic prescribing or a wet signature per your state's rules" in text
    assert "lorazepam" in text and "Thirty (30)" in text and DEA in text and NPI in text
    assert response["Content-Disposition"].startswith('attachment; filename="prescription-')
    assert patient.legal_last_name not in response["Content-Disposition"]
    row = AuditEvent.objects.get(id__gt=last)
    assert (row.action, row.detail) == ("export", {"page": "prescription_pdf"})


def test_missing_identifiers_print_as_blanks_with_a_warning_on_screen(client, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)
    log_in(client, psychiatrist)

    page = client.get(reverse("medications:prescription_print", args=[patient.pk, rx.pk])).content.decode()

    assert "Not on file: NPI" in page
    assert reverse("prescriber_details") in page
    assert page.count('class="rx-blank"') == 3  # NPI, DEA number and the patient's address


def test_a_stopped_prescription_does_not_print(client, patient, prescriber):
    rx = factories.start(patient, prescriber)
    prescribing.discontinue(rx, actor=prescriber, reason=ChangeReason.INEFFECTIVE, abrupt_stop_justification="x")
    log_in(client, prescriber)
    last = _last_audit_id()

    for name in ("prescription_print", "prescription_pdf"):
        response = client.get(reverse(f"medications:{name}", args=[patient.pk, rx.pk]))
        assert response.status_code == 302
        assert response["Location"] == reverse("medications:prescription_detail", args=[patient.pk, rx.pk])
    assert not AuditEvent.objects.filter(id__gt=last).exists()


def test_other_psychiatrist_and_patient_cannot_print(client, patient, prescriber, psychiatrist2):
    rx = factories.start(patient, prescriber)
    url = reverse("medications:prescription_pdf", args=[patient.pk, rx.pk])
    log_in(client, psychiatrist2)
    assert client.get(url).status_code == 404
    client.logout()
    log_in(client, patient.user)
    assert client.get(url).status_code == 403


def test_the_print_view_reads_a_fixed_number_of_queries(client, patient, prescriber, django_assert_max_num_queries):
    rx = factories.start(patient, prescriber)
    log_in(client, prescriber)
    url = reverse("medications:prescription_print", args=[patient.pk, rx.pk])
    client.get(url)
    # session + user + MFA state, the patient (access), the prescription with medicine and
    # prescriber, the audit row (chain lock + insert).
    with django_assert_max_num_queries(12):
        assert client.get(url).status_code == 200


# -- The prescriber's identifiers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("npi", "valid"),
    [("1234567893", True), ("1234567890", False), ("1245319599", True), ("123456789", False), ("12345678a3", False)],
)
def test_npi_check_digit(npi, valid):
    assert prescriber_ids.npi_is_valid(npi) is valid


@pytest.mark.parametrize(
    ("dea", "code"),
    [("AB1234563", None), ("AB1234567", "dea_check"), ("ZB1234563", "dea_type"), ("A1234563", "dea_format")],
)
def test_dea_format_and_check_digit(dea, code):
    from django.core.exceptions import ValidationError

    if code is None:
        prescriber_ids.validate_dea(dea)
        return
    with pytest.raises(ValidationError) as error:
        prescriber_ids.validate_dea(dea)
    assert error.value.code == code


def test_the_psychiatrist_saves_checked_identifiers_and_a_typo_keeps_what_was_typed(client, psychiatrist):
    log_in(client, psychiatrist)
    url = reverse("prescriber_details")
    assert client.get(url).status_code == 200

    bad = client.post(url, {"credentials": "MD", "npi": "1234567890", "dea_number": "BX1234563"})

    assert bad.status_code == 200
    page = bad.content.decode()
    assert "check digit does not match" in page
    assert "first letter of your last name (O)" in page
    assert 'value="1234567890"' in page and 'value="BX1234563"' in page
    psychiatrist.refresh_from_db()
    assert (psychiatrist.npi, psychiatrist.dea_number) == ("", "")
    last = _last_audit_id()

    good = client.post(url, {"credentials": "MD, PhD", "npi": "1234 567 893", "dea_number": "bo-1234563"})

    assert good.status_code == 302
    psychiatrist.refresh_from_db()
    assert (psychiatrist.credentials, psychiatrist.npi, psychiatrist.dea_number) == ("MD, PhD", NPI, DEA)
    row = AuditEvent.objects.get(id__gt=last)
    assert (row.action, row.patient_id, row.detail) == (
        "update",
        None,
        {"fields": ["credentials", "npi", "dea_number"]},
    )


def test_an_npi_belongs_to_one_account(client, psychiatrist, psychiatrist2):
    psychiatrist2.npi = NPI
    psychiatrist2.save(update_fields=["npi"])
    log_in(client, psychiatrist)

    response = client.post(reverse("prescriber_details"), {"credentials": "MD", "npi": NPI, "dea_number": ""})

    assert response.status_code == 200
    assert "Another account already has this NPI." in response.content.decode()


# -- Wording ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "words"),
    [(1, "One (1)"), (30, "Thirty (30)"), (45, "Forty-five (45)"), (90, "Ninety (90)"),
     (120, "One hundred twenty (120)"), (1000, "One thousand (1000)")],
)  # fmt: skip
def test_quantity_in_words_and_figures(number, words):
    assert instructions.quantity_text(number) == words


@pytest.mark.parametrize(
    ("dose", "strength", "form", "frequency", "route", "extra", "text"),
    [
        ("50", "50", "tablet", "qam", "oral", "", "Take 1 tablet (50 mg) each morning"),
        ("12.5", "25", "tablet", "qhs", "oral", "with food", "Take ½ tablet (12.5 mg) at bedtime, with food"),
        ("300", "150", "extended-release tablet (24-hour, XL)", "qd", "oral", "", "Take 2 tablets (300 mg) once a day"),
        ("10", "3", "tablet", "bid", "oral", "", "Take 10 mg twice a day"),  # no clean split: the dose only
        ("5", "1", "oral solution (mg per mL)", "qd", "oral", "", "Take 5 mg once a day"),
        ("10", "10", "transdermal patch (mg per 24 h)", "qd", "transdermal", "",
         "Apply 1 patch (10 mg) to the skin once a day"),
    ],
)  # fmt: skip
def test_patient_instructions(dose, strength, form, frequency, route, extra, text):
    from decimal import Decimal

    words = instructions.patient_instructions(
        dose_mg=Decimal(dose), strength_mg=Decimal(strength), form=form, frequency=frequency, route=route, extra=extra
    )
    assert words == text
