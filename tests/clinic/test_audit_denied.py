"""A refused request leaves one audit row naming the page and the ids tried (ASVS 16.3.2)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.models import AuditEvent
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def denied():
    return AuditEvent.objects.filter(action=AuditEvent.Action.ACCESS_DENIED)


def test_a_chart_outside_the_care_team_is_404_and_audited(client, patient, psychiatrist2):
    log_in(client, psychiatrist2)
    response = client.get(reverse("patients:chart", args=[patient.pk]))

    assert response.status_code == 404
    row = denied().get()
    assert row.actor == psychiatrist2
    # The record is outside their scope: the row does not link the patient, it keeps the id tried.
    assert row.patient_id is None
    assert row.detail == {"url_name": "patients:chart", "method": "GET", "status": 404, "ids": {"pk": str(patient.pk)}}


def test_a_patient_on_a_staff_page_is_403_and_audited(client, patient):
    log_in(client, patient.user)
    response = client.post(reverse("patients:search"), {"q": "anything"})

    assert response.status_code == 403
    row = denied().get()
    assert (row.actor, row.detail["status"], row.detail["method"]) == (patient.user, 403, "POST")


def test_anonymous_visitors_are_sent_to_log_in_without_a_row(client, patient):
    response = client.get(reverse("patients:chart", args=[patient.pk]))

    assert response.status_code == 302
    assert not denied().exists()


def test_an_allowed_page_writes_no_denial(client, patient, psychiatrist):
    log_in(client, psychiatrist)
    assert client.get(reverse("patients:chart", args=[patient.pk])).status_code == 200
    assert not denied().exists()
