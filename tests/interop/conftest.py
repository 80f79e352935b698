"""A record with one of everything for the FHIR API tests, and tokens for each persona."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from oauth2_provider.models import Application

from medications import monitoring
from medications.models import Allergy
from tests import factories

REDIRECT = factories.APP_REDIRECT


@pytest.fixture
def app(db):
    # Signs id_tokens (openid fhirUser) with the OpenID Connect key.
    return factories.health_app(algorithm=Application.RS256_ALGORITHM)


@pytest.fixture
def token(app):
    """token(user, scopes) -> the Authorization header value of a fresh access token."""

    def make(user, scopes: str = "launch/patient patient/*.rs") -> str:
        return f"Bearer {factories.app_token(user, app, scopes)}"

    return make


def fill_record(patient, psychiatrist, *, months: int = 1):
    """Every kind of record the API serves: a prescription with dose changes, a discontinued one,
    diagnoses, allergies, an outside medicine, scores, labs and appointments. ``months`` repeats the
    monthly part (scores, labs, a visit) to make a longer record for the query-budget tests."""
    rx = factories.sertraline_history(patient, psychiatrist)
    stopped = factories.start(patient, psychiatrist, drug="trazodone", dose="50", strength="50", frequency="qhs")
    from medications import prescribing
    from medications.models import ChangeReason

    prescribing.discontinue(
        stopped, actor=psychiatrist, reason=ChangeReason.SIDE_EFFECT, abrupt_stop_justification="Rash."
    )
    Allergy.objects.create(
        patient=patient,
        substance="Lamotrigine",
        medication=factories.medication("lamotrigine"),
        reaction="Rash",
        severity="severe",
        recorded_by=psychiatrist,
    )
    factories.outside_medication(patient, psychiatrist, "ibuprofen", dose_text="200 mg as needed")
    today = timezone.localdate()
    for month in range(months):
        day = today - datetime.timedelta(days=30 * month)
        monitoring.record_result(
            patient=patient, test_code="SODIUM", value="139", unit="mmol/L", collected_on=day, entered_by=psychiatrist
        )
        monitoring.record_result(
            patient=patient, test_code="WEIGHT", value="70", unit="kg", collected_on=day, entered_by=psychiatrist
        )
        factories.AppointmentFactory(
            patient=patient,
            psychiatrist=psychiatrist,
            # Apart per patient: two patients of one psychiatrist must not overlap.
            start=timezone.now() + datetime.timedelta(days=3 + 7 * month, minutes=45 * (patient.pk % 30)),
        )
        if month:
            factories.submit_phq9(patient, 1)
            # A longer dose history too: 150 and 100 mg in turn.
            prescribing.change_dose(
                rx, actor=psychiatrist, dose_mg=Decimal(150 if month % 2 else 100), reason=ChangeReason.INEFFECTIVE
            )
    return rx
