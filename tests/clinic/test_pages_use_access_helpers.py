"""The hot pages read their patients through clinic.access (docs/architecture.md, "Access"): the
chart through get_patient_for(user, pk), the homes and the inbox through patients_for(user). Each
helper is patched where the view looks it up, wrapping the real one, so the page still works."""

from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse

from clinic import access
from tests.conftest import log_in

pytestmark = pytest.mark.django_db


def test_chart_gets_its_patient_from_get_patient_for(client, psychiatrist, patient):
    log_in(client, psychiatrist)
    with mock.patch("patients.views.get_patient_for", wraps=access.get_patient_for) as helper:
        response = client.get(reverse("patients:chart", args=[patient.pk]))

    assert response.status_code == 200
    helper.assert_called_once()
    assert helper.call_args.args == (psychiatrist, patient.pk)
    assert response.context["patient"] == patient


def test_chart_of_another_psychiatrists_patient_is_404_from_the_helper(client, psychiatrist, patient2):
    log_in(client, psychiatrist)
    with mock.patch("patients.views.get_patient_for", wraps=access.get_patient_for) as helper:
        response = client.get(reverse("patients:chart", args=[patient2.pk]))

    assert response.status_code == 404
    assert helper.call_args.args == (psychiatrist, patient2.pk)


def test_patient_home_gets_the_record_from_patients_for(client, patient, patient2):
    log_in(client, patient.user)
    with mock.patch("clinic.views.patients_for", wraps=access.patients_for) as helper:
        response = client.get(reverse("patient_home"))

    assert response.status_code == 200
    helper.assert_called_once_with(patient.user)
    assert response.context["patient"] == patient


def test_psychiatrist_home_lists_its_caseload_from_patients_for(client, psychiatrist, patient, patient2):
    log_in(client, psychiatrist)
    with mock.patch("clinic.views.patients_for", wraps=access.patients_for) as helper:
        response = client.get(reverse("psychiatrist_home"))

    assert response.status_code == 200
    helper.assert_called_once_with(psychiatrist)
    assert [row.pk for row in response.context["patients"]] == [patient.pk]


def test_inbox_reads_reports_of_patients_for(client, psychiatrist):
    log_in(client, psychiatrist)
    with mock.patch("medications.views.patients_for", wraps=access.patients_for) as helper:
        response = client.get(reverse("medications:inbox"))

    assert response.status_code == 200
    helper.assert_called_once_with(psychiatrist)
