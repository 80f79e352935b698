"""Questionnaire (interop.fhir.questionnaire): every instrument's definition is served, valid FHIR,
with no token and no audit row (no patient data), and each QuestionnaireResponse's `questionnaire`
resolves to a definition whose answer options carry the response's own answer codings."""

from __future__ import annotations

import pytest
from django.test import override_settings

from clinic.models import AuditEvent
from patients import instruments, questionnaires
from tests.interop.test_api_access import validate

pytestmark = pytest.mark.django_db

BASE = "https://titrate.example.test"


@override_settings(TITRATE_BASE_URL=BASE)
@pytest.mark.parametrize("code", sorted(instruments.INSTRUMENTS))
def test_every_instrument_is_a_valid_questionnaire(client, code):
    before = AuditEvent.objects.count()

    response = client.get(f"/fhir/Questionnaire/{code.replace('_', '-')}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    validate(body)
    instrument = instruments.INSTRUMENTS[code]
    assert body["url"] == f"{BASE}/fhir/Questionnaire/{code.replace('_', '-')}"
    assert [item["linkId"] for item in body["item"]] == [item.key for item in instrument.items] + ["total"]
    for item, served in zip(instrument.items, body["item"], strict=False):
        assert len(served["answerOption"]) == len(item.options)
        if item.scored:  # each option's points, as the scorer counts them
            points = [o["extension"][0]["valueDecimal"] for o in served["answerOption"]]
            assert points == [option.points for option in item.options]
    assert AuditEvent.objects.count() == before


def test_the_phq9_carries_its_loinc_codes(client):
    body = client.get("/fhir/Questionnaire/phq9").json()

    assert body["code"][0]["code"] == "44249-1"
    first = body["item"][0]
    assert first["code"] == [{"system": "http://loinc.org", "code": "44250-9"}]
    assert [o["valueCoding"]["code"] for o in first["answerOption"]] == ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]


def test_unknown_questionnaire_is_404(client):
    response = client.get("/fhir/Questionnaire/beck")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


@override_settings(TITRATE_BASE_URL=BASE)
def test_search_lists_every_instrument_or_the_ones_named(client):
    everything = client.get("/fhir/Questionnaire").json()
    validate(everything)
    assert everything["total"] == len(instruments.INSTRUMENTS)

    by_id = client.get("/fhir/Questionnaire", {"_id": "gad7,phq2"}).json()
    by_url = client.get("/fhir/Questionnaire", {"url": f"{BASE}/fhir/Questionnaire/aims"}).json()

    assert sorted(entry["resource"]["id"] for entry in by_id["entry"]) == ["gad7", "phq2"]
    assert [entry["resource"]["id"] for entry in by_url["entry"]] == ["aims"]


@override_settings(TITRATE_BASE_URL=BASE)
@pytest.mark.parametrize("language", ["en", "es"])
def test_a_response_names_a_questionnaire_that_has_its_answers(client, patient, psychiatrist, token, language):
    saved = questionnaires.submit(
        patient=patient,
        instrument="phq9",
        answers={str(n): n % 4 for n in range(1, 10)} | {"difficulty": 2},
        completed_by=patient.user,
        context="portal",
        language=language,
    )
    response = client.get(f"/fhir/QuestionnaireResponse/{saved.pk}", HTTP_AUTHORIZATION=token(patient.user)).json()

    definition = client.get(response["questionnaire"].removeprefix(BASE)).json()

    options = {
        item["linkId"]: [o["valueCoding"]["code"] for o in item.get("answerOption", [])] for item in definition["item"]
    }
    for item in response["item"]:
        answer = item["answer"][0]
        if "valueCoding" in answer:
            assert answer["valueCoding"]["code"] in options[item["linkId"]], item["linkId"]
    assert [item["linkId"] for item in response["item"]] == list(options)
