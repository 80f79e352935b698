"""Query budgets per resource page: a page of any type costs the same number of queries for a
short record as for a record ten times longer (django_assert_max_num_queries with the short
record's count), and never more than the pinned budget.

Per API page: the token look-up (token, application and user in one join), the second-factor check
(staff only), the search's count and its page, at most one prefetch (care-team members, or the dose
history of the prescriptions on the page), and the audit row (chain lock and insert)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from interop import search
from tests.interop.conftest import fill_record

pytestmark = pytest.mark.django_db

BUDGET = 10


@pytest.mark.parametrize("resource_type", search.RESOURCE_TYPES)
def test_a_page_costs_the_same_for_a_short_and_a_long_record(
    client, patient, patient2, psychiatrist, token, resource_type, django_assert_max_num_queries
):
    # Both patients on the same psychiatrist's team: the long record belongs to patient2.
    patient2.primary_psychiatrist = psychiatrist
    patient2.save(update_fields=["primary_psychiatrist"])
    fill_record(patient, psychiatrist, months=1)
    fill_record(patient2, psychiatrist, months=10)
    header = token(psychiatrist, "user/*.rs")
    with CaptureQueriesContext(connection) as short:
        small = client.get(f"/fhir/{resource_type}", {"patient": patient.pk, "_count": 50}, HTTP_AUTHORIZATION=header)
    assert small.status_code == 200
    with django_assert_max_num_queries(len(short.captured_queries)):
        large = client.get(f"/fhir/{resource_type}", {"patient": patient2.pk, "_count": 50}, HTTP_AUTHORIZATION=header)
    assert large.status_code == 200
    assert large.json()["total"] >= small.json()["total"]
    assert len(short.captured_queries) <= BUDGET, [q["sql"][:80] for q in short.captured_queries]


def test_paging_follows_next_links_to_the_end(client, patient, psychiatrist, token):
    fill_record(patient, psychiatrist, months=6)
    header = token(patient.user)
    url, seen, pages = "/fhir/Observation?_count=5", [], 0
    while url:
        body = client.get(url, HTTP_AUTHORIZATION=header).json()
        seen += [entry["resource"]["id"] for entry in body.get("entry", [])]
        url = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
        pages += 1
    assert len(seen) == len(set(seen)) == body["total"]
    assert pages == -(-body["total"] // 5)


def test_search_parameters_narrow_the_results(client, patient, psychiatrist, token):
    fill_record(patient, psychiatrist, months=2)
    header = token(patient.user)

    def total(resource_type, **params):
        response = client.get(f"/fhir/{resource_type}", params, HTTP_AUTHORIZATION=header)
        assert response.status_code == 200, response.content
        return response.json()["total"]

    assert total("Observation", category="survey") == 4
    assert total("Observation", category="vital-signs") == 2
    assert total("Observation", code="http://loinc.org|44261-6") == 4
    assert total("Observation", code="2951-2") == 2
    assert total("MedicationRequest", status="active") == 1
    assert total("MedicationRequest", status="stopped") == 3  # two sertraline doses replaced, trazodone stopped
    assert total("MedicationStatement", status="active") == 1
    assert total("Condition", **{"clinical-status": "active"}) == 1
    assert total("Observation", _lastUpdated="ge2000-01-01") == total("Observation")
    assert total("Observation", _lastUpdated="lt2000-01-01") == 0
    assert total("Patient", identifier=patient.mrn) == 1
    bad = client.get("/fhir/Observation", {"_lastUpdated": "gesoon"}, HTTP_AUTHORIZATION=header)
    assert bad.status_code == 400
    assert bad.json()["resourceType"] == "OperationOutcome"
