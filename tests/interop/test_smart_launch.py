"""The SMART standalone launch of a patient app, end to end through the Django test client:
discovery → authorize with PKCE → the consent screen → a code → the token → a read."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.conf import settings
from django.urls import reverse
from fhir.resources.R4B.patient import Patient as FhirPatient

from clinic.models import AuditEvent
from tests.interop.conftest import REDIRECT

pytestmark = pytest.mark.django_db


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(app, challenge: str, scope: str = "launch/patient patient/*.rs", method: str = "S256") -> dict:
    return {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "xyz-state",
        "aud": settings.TITRATE_BASE_URL.rstrip("/") + "/fhir",
        "code_challenge": challenge,
        "code_challenge_method": method,
    }


def exchange(client, app, code: str, verifier: str):
    return client.post(
        reverse("oauth2_provider:token"),
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": app.client_id,
            "code_verifier": verifier,
        },
    )


def allow(client, params: dict) -> str:
    """The signed-in user allows the app on the consent screen; the code it gets (then signs out)."""
    allowed = client.post(reverse("interop:authorize"), {**params, "allow": "on"})
    code = parse_qs(urlparse(allowed["Location"]).query)["code"][0]
    client.logout()
    return code


def launch(client, app, user, login, scope: str) -> dict:
    """The whole standalone launch for ``user`` with ``scope``: the token endpoint's answer."""
    login(client, user)
    verifier, challenge = pkce()
    code = allow(client, authorize_params(app, challenge, scope=scope))
    return exchange(client, app, code, verifier).json()


def test_a_patient_app_launches_standalone_and_reads_the_patient(client, app, patient, login):
    discovery = client.get("/fhir/.well-known/smart-configuration").json()
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    authorize_url = urlparse(discovery["authorization_endpoint"]).path
    token_url = urlparse(discovery["token_endpoint"]).path

    login(client, patient.user)
    verifier, challenge = pkce()
    params = authorize_params(app, challenge)
    consent = client.get(f"{authorize_url}?{urlencode(params)}")
    assert consent.status_code == 200
    page = consent.content.decode()
    assert "Allow “Health app” to read your record?" in page
    assert "Read your whole record" in page

    allowed = client.post(authorize_url, {**params, "allow": "on"})
    assert allowed.status_code == 302
    redirect = urlparse(allowed["Location"])
    assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == REDIRECT
    answer = parse_qs(redirect.query)
    assert answer["state"] == ["xyz-state"]
    assert answer["iss"]  # RFC 9207: the response names its issuer
    code = answer["code"][0]
    assert AuditEvent.objects.filter(detail__event="fhir_app_authorized", patient=patient).count() == 1

    client.logout()
    assert token_url == reverse("oauth2_provider:token")
    token = exchange(client, app, code, verifier)
    assert token.status_code == 200, token.content
    body = token.json()
    assert body["patient"] == str(patient.pk)
    assert body["expires_in"] == settings.TITRATE_FHIR_ACCESS_TOKEN_SECONDS
    assert "refresh_token" not in body  # no offline_access asked
    assert set(body["scope"].split()) == {"launch/patient", "patient/*.rs"}

    read = client.get(f"/fhir/Patient/{body['patient']}", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert read.status_code == 200
    assert read["Content-Type"].startswith("application/fhir+json")
    resource = FhirPatient.model_validate(read.json())
    assert resource.id == str(patient.pk)
    assert resource.identifier[0].value == patient.mrn


def test_a_code_is_refused_without_the_pkce_verifier(client, app, patient, login):
    login(client, patient.user)
    verifier, challenge = pkce()
    params = authorize_params(app, challenge)
    code = allow(client, params)
    wrong = exchange(client, app, code, pkce()[0])
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"


def test_the_consent_screen_refuses_plain_pkce_and_missing_pkce(client, app, patient, login):
    login(client, patient.user)
    verifier, challenge = pkce()
    plain = client.get(reverse("interop:authorize"), authorize_params(app, verifier, method="plain"))
    assert plain.status_code == 400
    assert "S256" in plain.content.decode()
    params = authorize_params(app, challenge)
    del params["code_challenge"], params["code_challenge_method"]
    missing = client.get(reverse("interop:authorize"), params)
    assert missing.status_code == 400


def test_offline_access_gives_a_refresh_token(client, app, patient, login):
    body = launch(client, app, patient.user, login, "launch/patient patient/*.rs offline_access")
    assert body["refresh_token"]


@pytest.mark.parametrize("who", ["clinic_admin", "staff_scopes_for_patient", "patient_scopes_for_psychiatrist"])
def test_the_consent_screen_refuses_what_the_role_may_not_grant(
    client, app, patient, psychiatrist, clinic_admin, login, who
):
    user, scope = {
        "clinic_admin": (clinic_admin, "user/*.rs"),
        "staff_scopes_for_patient": (patient.user, "user/*.rs"),
        "patient_scopes_for_psychiatrist": (psychiatrist, "launch/patient patient/*.rs"),
    }[who]
    login(client, user)
    response = client.get(reverse("interop:authorize"), authorize_params(app, pkce()[1], scope=scope))
    assert response.status_code == 400
    assert "cannot be given access" in response.content.decode()


def test_the_consent_screen_is_in_spanish_for_a_spanish_speaking_patient(client, app, patient, login):
    patient.user.language = "es"
    patient.user.save(update_fields=["language"])
    login(client, patient.user)
    response = client.get(reverse("interop:authorize"), authorize_params(app, pkce()[1]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Permitir" in page
    assert "Allow “Health app”" not in page


def test_anonymous_users_are_sent_to_log_in_first(client, app):
    response = client.get(reverse("interop:authorize"), authorize_params(app, pkce()[1]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_openid_and_fhiruser_give_an_id_token_naming_the_patients_record(client, app, patient, login):
    from jwcrypto import jwk, jwt

    body = launch(client, app, patient.user, login, "openid fhirUser launch/patient patient/*.rs")
    keys = jwk.JWKSet.from_json(client.get(reverse("oauth2_provider:jwks-info")).content)
    claims = json.loads(jwt.JWT(jwt=body["id_token"], key=keys).claims)
    base = settings.TITRATE_BASE_URL.rstrip("/")
    assert claims["fhirUser"] == f"{base}/fhir/Patient/{patient.pk}"
    assert claims["aud"] == app.client_id
    assert claims["iss"] == base
    discovery = client.get("/.well-known/smart-configuration").json()
    assert "sso-openid-connect" in discovery["capabilities"]
    assert {"openid", "fhirUser"} <= set(discovery["scopes_supported"])


def test_openid_for_an_app_without_signed_id_tokens_is_refused_at_consent(client, app, patient, login):
    app.algorithm = ""
    app.save(update_fields=["algorithm"])
    login(client, patient.user)
    params = authorize_params(app, pkce()[1], scope="openid fhirUser launch/patient patient/*.rs")
    response = client.get(reverse("interop:authorize"), params)
    assert response.status_code == 400
    assert "openid" in response.content.decode()
