"""The CapabilityStatement at ``/fhir/metadata``: what the API serves and how to get a token."""

from __future__ import annotations

from django.utils import timezone

from interop import fhir

SEARCH_PARAMS = {
    "Patient": [("identifier", "token")],
    "Practitioner": [("identifier", "token")],
    "CareTeam": [("patient", "reference"), ("status", "token")],
    "Condition": [("patient", "reference"), ("clinical-status", "token")],
    "AllergyIntolerance": [("patient", "reference"), ("clinical-status", "token")],
    "MedicationRequest": [("patient", "reference"), ("status", "token"), ("intent", "token")],
    "MedicationStatement": [("patient", "reference"), ("status", "token")],
    "Observation": [("patient", "reference"), ("category", "token"), ("code", "token"), ("date", "date")],
    "QuestionnaireResponse": [("patient", "reference"), ("authored", "date"), ("status", "token")],
    "Appointment": [("patient", "reference"), ("date", "date"), ("status", "token")],
}
PROFILES = {
    "Patient": "us-core-patient",
    "Practitioner": "us-core-practitioner",
    "CareTeam": "us-core-careteam",
    "Condition": "us-core-condition-problems-health-concerns",
    "AllergyIntolerance": "us-core-allergyintolerance",
    "MedicationRequest": "us-core-medicationrequest",
    "Observation": "us-core-observation-lab",
}


def capability_statement(base_url: str) -> dict:
    resources = []
    for resource_type, params in SEARCH_PARAMS.items():
        entry = {
            "type": resource_type,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": "_id", "type": "token"},
                {"name": "_lastUpdated", "type": "date"},
                *({"name": name, "type": kind} for name, kind in params),
            ],
        }
        if resource_type in PROFILES:
            entry["supportedProfile"] = [fhir.US_CORE + PROFILES[resource_type]]
        if resource_type == "Patient":
            entry["operation"] = [
                {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}
            ]
        resources.append(entry)
    resources.append(
        {
            "type": "Questionnaire",
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": "_id", "type": "token"}, {"name": "url", "type": "uri"}],
            "documentation": "The instruments' definitions; no token needed (no patient data).",
        }
    )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": fhir.instant(timezone.now()),
        "kind": "instance",
        "software": {"name": "Titrate"},
        "implementation": {"description": "Titrate FHIR API (read-only)", "url": f"{base_url}/fhir"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                            "extension": [
                                {"url": "authorize", "valueUri": f"{base_url}/oauth/authorize/"},
                                {"url": "token", "valueUri": f"{base_url}/oauth/token/"},
                                {"url": "revoke", "valueUri": f"{base_url}/oauth/revoke_token/"},
                            ],
                        }
                    ],
                },
                "resource": resources,
            }
        ],
    }
