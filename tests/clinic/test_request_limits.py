"""Bounded input beyond the forms' text fields (issue 18 item 10): the search boxes, and the
request-size limits of docs/security.md ("Input limits")."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clinic.models import AuditEvent
from medications.models import SideEffectReport
from patients.forms import SEARCH_MAX_LENGTH
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

# Thousands of words: each was one more ILIKE term of the search's query.
PASTED_DOCUMENT = "ab " * 20_000
TOO_LONG = f"at most {SEARCH_MAX_LENGTH} characters"


@pytest.mark.parametrize(
    ("persona", "url_name"), [("psychiatrist", "patients:search"), ("clinic_admin", "patients:registry")]
)
def test_a_pasted_document_in_a_patient_search_is_refused_with_the_limit(client, patient, request, persona, url_name):
    log_in(client, request.getfixturevalue(persona))
    page = client.get(reverse(url_name)).content.decode()
    assert f'maxlength="{SEARCH_MAX_LENGTH}"' in page
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()

    response = client.post(reverse(url_name), {"q": PASTED_DOCUMENT})

    assert response.status_code == 200
    assert TOO_LONG in response.content.decode()
    if url_name == "patients:search":
        assert not AuditEvent.objects.filter(id__gt=last).exists()  # no search ran, nobody was shown


def test_a_search_at_the_limit_still_runs(client, patient, psychiatrist):
    log_in(client, psychiatrist)
    query = patient.legal_last_name.ljust(SEARCH_MAX_LENGTH)

    response = client.post(reverse("patients:search"), {"q": query})

    assert patient.display_name in response.content.decode()


def test_an_oversized_icd10_search_is_refused_with_the_limit(client, patient, psychiatrist):
    log_in(client, psychiatrist)
    url = reverse("patients:diagnosis_create", args=[patient.pk])

    response = client.post(url, {"find": "1", "search": "depression " * 500})

    assert response.status_code == 200
    assert TOO_LONG in response.content.decode()
    assert response.context["results"] == []
    assert client.post(url, {"find": "1", "search": "major depressive"}).context["results"]


@pytest.fixture
def reporting_patient(client, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)
    log_in(client, patient.user)
    return {"prescription": str(rx.pk), "symptoms": ["nausea"], "severity": "mild", "onset_date": "2026-01-01",
            "ongoing": "yes"}  # fmt: skip


def test_a_body_over_the_upload_limit_is_a_400_and_stores_nothing(client, reporting_patient):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 2_621_440  # docs/security.md states it
    body = {**reporting_patient, "other_symptoms": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}

    response = client.post(reverse("medications:my_report_create"), body)

    assert response.status_code == 400
    assert SideEffectReport.objects.count() == 0


def test_too_many_fields_is_a_400(client, reporting_patient):
    fields = {f"f{i}": "1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}

    response = client.post(reverse("medications:my_report_create"), {**reporting_patient, **fields})

    assert response.status_code == 400
    assert SideEffectReport.objects.count() == 0


def test_the_portal_takes_no_file_so_an_upload_is_a_400_before_it_is_written(client, reporting_patient):
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == 0
    upload = SimpleUploadedFile("scan.pdf", b"%PDF-1.7 " + b"0" * 10_000, content_type="application/pdf")

    response = client.post(reverse("medications:my_report_create"), {**reporting_patient, "attachment": upload})

    assert response.status_code == 400
    assert SideEffectReport.objects.count() == 0
