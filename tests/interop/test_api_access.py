"""Every resource type through the API for each persona, each response validated with fhir.resources
(R4B models: the package has no R4 module; R4B keeps R4's resources for everything served here).

The API's own access matrix (docs/api.md, "Access rule"): the session-based matrix of
tests/test_access_matrix.py cannot log a bearer token in, so the API's URLs are tried here instead,
and test_every_api_route_is_classified keeps new API URLs from slipping past.
"""

from __future__ import annotations

import pytest
from django.urls import get_resolver
from fhir.resources.R4B import get_fhir_model_class

from clinic.models import AuditEvent
from interop import search
from tests import factories
from tests.interop.conftest import fill_record

pytestmark = pytest.mark.django_db

PERSONAS = ["patient", "other_patient", "psychiatrist", "other_psychiatrist", "clinic_admin", "anonymous"]
# Who reads Alice's record: "ok" (entries, 200 reads), "none" (empty search, 404 read), 401.
EXPECTED = {
    "patient": "ok",
    "other_patient": "none",
    "psychiatrist": "ok",
    "other_psychiatrist": "none",
    "clinic_admin": "none",
    "anonymous": 401,
}

# Every URL of the API and what it is (the API matrix's classification).
API_ROUTES = {
    "interop:metadata": "public",
    "interop:smart_configuration": "public",
    "interop:smart_configuration_root": "public",
    "interop:search": "token",
    "interop:read": "token",
    "interop:everything": "token",
    "interop:authorize": "logged_in",
    "interop:questionnaire_read": "public",
    "interop:questionnaire_search": "public",
    # A portal page (the session's own tokens), in the portal's matrix: tests/access_routes.py.
    "interop:my_apps": "logged_in",
}


def validate(body: dict):
    model = get_fhir_model_class(body["resourceType"])
    parsed = model.model_validate(body)
    if body["resourceType"] == "Bundle":
        for entry in body.get("entry", []):
            validate(entry["resource"])
    return parsed


@pytest.fixture
def record(patient, psychiatrist):
    fill_record(patient, psychiatrist, months=2)
    return patient


def header_of(persona, token, patient, patient2, psychiatrist, psychiatrist2, clinic_admin):
    return {
        "patient": lambda: token(patient.user),
        "other_patient": lambda: token(patient2.user),
        "psychiatrist": lambda: token(psychiatrist, "user/*.rs"),
        "other_psychiatrist": lambda: token(psychiatrist2, "user/*.rs"),
        "clinic_admin": lambda: token(clinic_admin, "user/*.rs"),
        "anonymous": lambda: None,
    }[persona]()


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_reads_every_resource_type_of_alice_as_the_rule_says(
    client, record, patient2, psychiatrist, psychiatrist2, clinic_admin, token, persona
):
    patient = record
    header = header_of(persona, token, patient, patient2, psychiatrist, psychiatrist2, clinic_admin)
    own = {"HTTP_AUTHORIZATION": token(patient.user)}
    for resource_type in search.RESOURCE_TYPES:
        # The ids to read come from Alice's own token.
        mine = client.get(f"/fhir/{resource_type}", {"patient": patient.pk}, **own).json()
        assert mine["total"] >= 1, resource_type
        first_id = mine["entry"][0]["resource"]["id"]

        kwargs = {"HTTP_AUTHORIZATION": header} if header else {}
        before = AuditEvent.objects.count()
        searched = client.get(f"/fhir/{resource_type}", {"patient": patient.pk}, **kwargs)
        read = client.get(f"/fhir/{resource_type}/{first_id}", **kwargs)
        expected = EXPECTED[persona]
        if expected == 401:
            assert (searched.status_code, read.status_code) == (401, 401), resource_type
            assert AuditEvent.objects.count() == before
            continue
        # One audit row per request, refused or not.
        assert AuditEvent.objects.count() == before + 2, resource_type
        assert searched.status_code == 200, resource_type
        bundle = validate(searched.json())
        if expected == "ok":
            assert bundle.total >= 1, resource_type
            assert read.status_code == 200, resource_type
            resource = validate(read.json())
            assert resource.id == first_id
            if resource_type != "Practitioner":
                assert str(patient.pk) in str(read.json()), resource_type
        else:
            assert bundle.total == 0, (resource_type, persona)
            assert read.status_code == 404, (resource_type, persona)
            validate(read.json())  # an OperationOutcome
            last = AuditEvent.objects.order_by("-id").first()
            assert last.action == AuditEvent.Action.ACCESS_DENIED


def test_a_patient_search_without_a_patient_parameter_returns_only_their_own(client, record, patient2, token):
    fill_record(patient2, patient2.primary_psychiatrist)
    body = client.get("/fhir/Condition", HTTP_AUTHORIZATION=token(record.user)).json()
    subjects = {entry["resource"]["subject"]["reference"] for entry in body["entry"]}
    assert subjects == {f"Patient/{record.pk}"}


def test_a_psychiatrist_search_spans_only_the_care_team(client, record, patient2, psychiatrist, token):
    fill_record(patient2, patient2.primary_psychiatrist)
    body = client.get("/fhir/Patient", HTTP_AUTHORIZATION=token(psychiatrist, "user/*.rs")).json()
    assert [entry["resource"]["id"] for entry in body["entry"]] == [str(record.pk)]
    last = AuditEvent.objects.order_by("-id").first()
    assert last.patient_id == record.pk
    assert last.detail["client_id"]


def test_a_scope_for_one_type_reads_only_that_type(client, record, token):
    header = token(record.user, "launch/patient patient/Observation.rs")
    assert client.get("/fhir/Observation", HTTP_AUTHORIZATION=header).status_code == 200
    refused = client.get("/fhir/Condition", HTTP_AUTHORIZATION=header)
    assert refused.status_code == 403
    validate(refused.json())


def test_a_psychiatrist_without_a_second_factor_reads_nothing(client, record, psychiatrist, token):
    from allauth.mfa.models import Authenticator

    header = token(psychiatrist, "user/*.rs")
    Authenticator.objects.filter(user=psychiatrist).delete()
    body = client.get("/fhir/Patient", HTTP_AUTHORIZATION=header).json()
    assert body["total"] == 0


def test_an_expired_or_revoked_token_and_a_token_in_the_url_get_401(client, record, token):
    from oauth2_provider.models import AccessToken

    header = token(record.user)
    raw = header.removeprefix("Bearer ")
    assert client.get("/fhir/Patient", {"access_token": raw}).status_code == 401
    AccessToken.objects.update(expires="2000-01-01T00:00:00Z")
    response = client.get("/fhir/Patient", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "invalid_token" in response["WWW-Authenticate"]


def test_everything_for_each_persona(client, record, patient2, psychiatrist, psychiatrist2, clinic_admin, token):
    for persona in PERSONAS:
        header = header_of(persona, token, record, patient2, psychiatrist, psychiatrist2, clinic_admin)
        kwargs = {"HTTP_AUTHORIZATION": header} if header else {}
        response = client.get(f"/fhir/Patient/{record.pk}/$everything", **kwargs)
        expected = EXPECTED[persona]
        if expected == "ok":
            assert response.status_code == 200, persona
            bundle = validate(response.json())
            types = {entry.resource.__resource_type__ for entry in bundle.entry}
            assert types == set(search.RESOURCE_TYPES), persona
            last = AuditEvent.objects.order_by("-id").first()
            assert (last.action, last.patient_id) == (AuditEvent.Action.EXPORT, record.pk)
        elif expected == "none":
            assert response.status_code == 404, persona
        else:
            assert response.status_code == 401


def test_metadata_and_smart_configuration_are_public_and_valid(client):
    metadata = client.get("/fhir/metadata")
    assert metadata.status_code == 200
    statement = validate(metadata.json())
    served = {resource.type for resource in statement.rest[0].resource}
    assert served == set(search.RESOURCE_TYPES) | {"Questionnaire"}
    smart = client.get("/.well-known/smart-configuration").json()
    assert "patient/*.rs" in smart["scopes_supported"]
    assert "permission-v2" in smart["capabilities"]


def test_every_api_route_is_classified():
    names = set()
    for pattern in get_resolver().url_patterns:
        if getattr(pattern, "namespace", None) == "interop":
            names |= {f"interop:{p.name}" for p in pattern.url_patterns}
    assert names == set(API_ROUTES)


def test_practitioners_are_the_care_team_once_each(client, patient, patient2, psychiatrist, psychiatrist2, token):
    # psychiatrist2 is patient2's primary psychiatrist and shares patient's care: listed once,
    # with psychiatrist (patient's primary); a psychiatrist on no team of patient's is not listed.
    patient.care_team.add(psychiatrist2)
    patient2.care_team.add(psychiatrist)
    outsider = factories.PsychiatristFactory()

    def ids(header, **params):
        response = client.get("/fhir/Practitioner", params, HTTP_AUTHORIZATION=header)
        assert response.status_code == 200
        return sorted(int(entry["resource"]["id"]) for entry in response.json().get("entry", []))

    assert ids(token(patient.user)) == sorted([psychiatrist.pk, psychiatrist2.pk])
    assert ids(token(psychiatrist, "user/*.rs"), patient=patient2.pk) == sorted([psychiatrist.pk, psychiatrist2.pk])
    patient2.care_team.remove(psychiatrist)
    # patient2 is no longer theirs: asking who treats patient2 tells them nothing, even about
    # psychiatrist2, whom they still see as patient's co-psychiatrist.
    assert ids(token(psychiatrist, "user/*.rs"), patient=patient2.pk) == []
    assert psychiatrist2.pk in ids(token(psychiatrist, "user/*.rs"))
    assert outsider.pk not in ids(token(psychiatrist, "user/*.rs"))
