"""Query budgets of the benched pages that tests/patients/test_chart.py and tests/clinic/test_roles.py
do not already pin (chart, psychiatrist home, inbox and patient home are pinned there): the
patient's questionnaire page, the admin week calendar and the patient slot finder cost the same
number of queries with a small and a larger history, and stay within the 15-query budget of
docs/performance.md. Timings are measured by `make bench`, never asserted here."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appointments.models import WeeklyAvailability
from tests import factories
from tests.factories import submit_phq9
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

BUDGET = 15


def queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.status_code
    return len(captured.captured_queries)


def book(patient, psychiatrist, kind, hours_from_now: int):
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=hours_from_now)
    return factories.AppointmentFactory(
        patient=patient, psychiatrist=psychiatrist, appointment_type=kind, start=start, booked_by=psychiatrist
    )


@pytest.fixture
def open_all_week(psychiatrist):
    for weekday in range(7):
        WeeklyAvailability.objects.create(
            psychiatrist=psychiatrist, weekday=weekday, start_time=datetime.time(0, 0), end_time=datetime.time(23, 59)
        )


def test_questionnaire_page_costs_the_same_for_1_and_12_responses(client, patient):
    log_in(client, patient.user)
    submit_phq9(patient, 1)
    url = reverse("patients:my_questionnaires")
    few = queries(client, url)
    for n in range(11):
        submit_phq9(patient, n % 4)

    many = queries(client, url)

    assert many == few
    assert few <= BUDGET


def test_week_calendar_costs_the_same_for_1_and_12_appointments(client, clinic_admin, psychiatrist, patient):
    kind = factories.AppointmentTypeFactory()
    first = book(patient, psychiatrist, kind, 30)
    log_in(client, clinic_admin)
    params = {"psychiatrist": psychiatrist.pk, "week": timezone.localtime(first.start).date().isoformat()}
    few = queries(client, reverse("appointments:week"), params)
    others = factories.PatientFactory.create_batch(
        11, primary_psychiatrist=psychiatrist, user=None
    )  # a busier week, for other patients
    for n, other in enumerate(others):
        book(other, psychiatrist, kind, 32 + n)
    factories.PsychiatristFactory.create_batch(3)

    many = queries(client, reverse("appointments:week"), params)

    assert many == few
    assert few <= BUDGET


def test_slot_finder_costs_the_same_for_1_and_10_booked_visits(client, patient, psychiatrist, open_all_week):
    kind = factories.AppointmentTypeFactory(patient_bookable=True, min_notice_hours=1)
    book(patient, psychiatrist, kind, 30)
    log_in(client, patient.user)
    params = {"type": kind.pk}
    few = queries(client, reverse("appointments:my_book"), params)
    for n in range(9):
        book(patient, psychiatrist, kind, 40 + 3 * n)

    many = queries(client, reverse("appointments:my_book"), params)

    assert many == few
    assert few <= BUDGET


# The FHIR requests bench.web times (issue 23), with the bearer token it makes (bench.web.fhir_bearer):
# `$everything` and an Observation search cost the same queries for a short and a long record.
# `$everything`: the token look-up (1), the 12 reads of interop.search.everything_resources (one
# page per type, no COUNT) and the audit row (chain lock, previous hash, insert) - not the page
# budget of 15, because it is a whole record and not a page, but fixed whatever the record's length.
EVERYTHING_BUDGET = 18
SEARCH_BUDGET = 10  # tests/interop/test_query_budget.py's page budget


@pytest.mark.parametrize(
    ("path", "budget"),
    [("/fhir/Patient/{pk}/$everything", EVERYTHING_BUDGET), ("/fhir/Observation?patient={pk}", SEARCH_BUDGET)],
)
def test_the_benched_fhir_requests_cost_the_same_for_a_short_and_a_long_record(
    client, patient, patient2, psychiatrist, psychiatrist2, path, budget
):
    from bench.web import fhir_bearer
    from tests.interop.conftest import fill_record

    fill_record(patient, psychiatrist, months=1)
    fill_record(patient2, psychiatrist2, months=24)  # two years of monthly scores, labs and doses
    url, _, query = path.partition("?")

    def get(record):
        header = fhir_bearer(record.user)
        target = url.format(pk=record.pk)
        params = dict([query.format(pk=record.pk).split("=")]) if query else {}
        with CaptureQueriesContext(connection) as captured:
            response = client.get(target, params, HTTP_AUTHORIZATION=header)
        assert response.status_code == 200, response.content[:200]
        return len(captured.captured_queries), len(response.json()["entry"])

    short, short_entries = get(patient)
    long, long_entries = get(patient2)

    assert long == short <= budget
    assert long_entries > short_entries
