"""Each role lands on its own home; nobody reaches another role's pages."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.access import get_patient_for, patients_for
from tests.factories import PatientFactory, PatientUserFactory
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

HOMES = ["psychiatrist_home", "patient_home", "front_desk_home"]


@pytest.fixture
def people(psychiatrist, clinic_admin, patient):
    return {"psychiatrist": psychiatrist, "clinic_admin": clinic_admin, "patient": patient.user}


@pytest.mark.parametrize("url_name", ["home", *HOMES])
def test_anonymous_user_is_sent_to_login(client, url_name):
    response = client.get(reverse(url_name))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={reverse(url_name)}"


@pytest.mark.parametrize(
    ("person", "expected_home"),
    [
        ("psychiatrist", "psychiatrist_home"),
        ("clinic_admin", "front_desk_home"),
        ("patient", "patient_home"),
    ],
)
def test_each_role_lands_on_its_own_home(client, people, person, expected_home):
    log_in(client, people[person])

    response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response["Location"] == reverse(expected_home)
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize(
    ("person", "url_name", "status"),
    [
        ("psychiatrist", "psychiatrist_home", 200),
        ("psychiatrist", "patient_home", 403),
        ("psychiatrist", "front_desk_home", 403),
        ("clinic_admin", "psychiatrist_home", 403),
        ("clinic_admin", "patient_home", 403),
        ("clinic_admin", "front_desk_home", 200),
        ("patient", "psychiatrist_home", 403),
        ("patient", "patient_home", 200),
        ("patient", "front_desk_home", 403),
    ],
)
def test_role_pages_refuse_other_roles(client, people, person, url_name, status):
    log_in(client, people[person])

    response = client.get(reverse(url_name))

    assert response.status_code == status
    if status == 403:
        assert b"Not allowed" in response.content


def test_patient_cannot_open_the_django_admin(client, patient):
    log_in(client, patient.user)

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain == [("/admin/login/?next=/admin/", 302)]
    assert response.status_code == 403


def test_psychiatrist_home_lists_only_their_own_patients(
    client, psychiatrist, patient, patient2, django_assert_max_num_queries
):
    PatientFactory.create_batch(3, primary_psychiatrist=psychiatrist)
    log_in(client, psychiatrist)

    # * session  * user  * MFA authenticators (allauth)  * visit notes: drafts and today's
    # * today's appointments  * completed appointments without a signed note  * unacknowledged reports
    # * unsigned evaluations  * patients, one page  (+ the unread-notification badge)
    # * open safety alerts (with patient and source type)  * labs and reviews due (one query on the
    # stored lists, medications.due)  * worsened questionnaire scores  * persistent non-adherence
    # (patient-reported check-ins, medications.adherence)  * the audit row (chain head + insert)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("psychiatrist_home"))

    assert response.status_code == 200
    listed = response.context["patients"]
    assert len(listed) == 4
    assert patient.pk in {row.pk for row in listed}
    assert patient2.pk not in {row.pk for row in listed}
    assert b"Bob" not in response.content


def test_psychiatrist_home_query_count_does_not_grow_with_patients(client, psychiatrist):
    log_in(client, psychiatrist)
    PatientFactory.create_batch(2, primary_psychiatrist=psychiatrist)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("psychiatrist_home"))
    PatientFactory.create_batch(20, primary_psychiatrist=psychiatrist)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("psychiatrist_home"))

    assert len(many.captured_queries) == len(few.captured_queries)


def test_patient_home_shows_own_record_and_psychiatrist(client, patient, patient2):
    log_in(client, patient.user)

    response = client.get(reverse("patient_home"))

    assert response.context["patient"] == patient
    assert b"Hello, Alice" in response.content
    assert b"Maya Okafor, MD" in response.content
    assert b"Bob" not in response.content


def test_unlinked_patient_account_is_told_what_happens_next(client, stranger):
    log_in(client, stranger)

    response = client.get(reverse("patient_home"))

    assert response.status_code == 200
    assert response.context["patient"] is None
    assert b"not yet linked to your clinic record" in response.content


def test_front_desk_home_counts_patients_per_psychiatrist(
    client, clinic_admin, psychiatrist, psychiatrist2, patient, patient2, django_assert_max_num_queries
):
    PatientFactory.create_batch(2, primary_psychiatrist=psychiatrist)
    log_in(client, clinic_admin)

    # * session  * user  * MFA authenticators  * patient count  * psychiatrists with counts
    # * the audit row naming today's patients (chain head, insert)
    with django_assert_max_num_queries(6 + 2):
        response = client.get(reverse("front_desk_home"))

    counts = {p.pk: p.patient_count for p in response.context["psychiatrists"]}
    assert counts == {psychiatrist.pk: 3, psychiatrist2.pk: 1}
    assert response.context["patient_count"] == 4


class TestAccessScope:
    def test_psychiatrist_sees_own_patients_only(self, psychiatrist, patient, patient2):
        assert list(patients_for(psychiatrist)) == [patient]

    def test_patient_sees_only_self(self, patient, patient2):
        assert list(patients_for(patient.user)) == [patient]

    def test_clinic_admin_sees_the_registry(self, clinic_admin, patient, patient2):
        assert set(patients_for(clinic_admin)) == {patient, patient2}

    def test_stranger_sees_nobody(self, stranger, patient):
        assert list(patients_for(stranger)) == []

    def test_inactive_user_sees_nobody(self, psychiatrist, patient):
        psychiatrist.is_active = False
        assert list(patients_for(psychiatrist)) == []

    def test_other_psychiatrists_patient_is_404_not_403(self, psychiatrist, patient2):
        with pytest.raises(Http404):
            get_patient_for(psychiatrist, patient2.pk)

    def test_other_patients_record_is_404(self, patient, patient2):
        with pytest.raises(Http404):
            get_patient_for(patient.user, patient2.pk)

    def test_missing_id_is_the_same_404(self, psychiatrist):
        with pytest.raises(Http404):
            get_patient_for(psychiatrist, 987654)

    def test_own_patient_is_returned(self, psychiatrist, patient):
        assert get_patient_for(psychiatrist, patient.pk) == patient

    def test_patient_account_of_another_role_does_not_widen_scope(self, psychiatrist):
        PatientFactory(user=PatientUserFactory(), primary_psychiatrist=None)
        assert list(patients_for(psychiatrist)) == []
