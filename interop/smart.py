"""SMART on FHIR v2 scopes and what a token may read (docs/api.md, "Access rule").

The OAuth server is django-oauth-toolkit; this module decides the SMART part:

- the scopes an app may ask for (:class:`SmartScopes`): ``patient/<type>.rs`` and ``user/<type>.rs``
  (``*`` for every type), ``launch/patient`` and ``offline_access``;
- what the token response carries (:class:`SmartValidator`): the patient id for a patient's
  ``launch/patient`` token, and a refresh token only when ``offline_access`` was granted;
- who a token reads (:func:`grant_for`): the token's user through the portal's own scope,
  ``clinic.access.patients_for`` — a patient their own record, a psychiatrist their care team's
  patients. A clinic admin's token reads nothing clinical, and a staff user without a second factor
  reads nothing (the portal makes staff set one up before they can reach the consent screen).
"""

from __future__ import annotations

from dataclasses import dataclass

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import Application
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes
from oauth2_provider.settings import oauth2_settings

from clinic.access import patients_for
from clinic.models import User
from patients.models import Patient

RESOURCE_TYPES = (
    "Patient",
    "Practitioner",
    "CareTeam",
    "Condition",
    "AllergyIntolerance",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
    "QuestionnaireResponse",
    "Appointment",
)
LAUNCH_PATIENT = "launch/patient"
OFFLINE = "offline_access"
OPENID, FHIR_USER = "openid", "fhirUser"
PATIENT_CONTEXT, USER_CONTEXT = "patient", "user"

# What the consent screen says for each scope (patients read it: translated).
_TYPE_NAMES = {
    "Patient": _("your name, date of birth and contact details"),
    "Practitioner": _("the names of your clinicians"),
    "CareTeam": _("who is on your care team"),
    "Condition": _("your diagnoses"),
    "AllergyIntolerance": _("your allergies"),
    "MedicationRequest": _("your prescriptions and every dose change"),
    "MedicationStatement": _("medicines and supplements from elsewhere"),
    "Observation": _("your questionnaire scores, lab results and measurements"),
    "QuestionnaireResponse": _("your questionnaire answers"),
    "Appointment": _("your appointments"),
}


def _descriptions() -> dict[str, str]:
    scopes = {
        "patient/*.rs": _(
            "Read your whole record: details, clinicians, diagnoses, allergies, medicines and dose history, "
            "scores, lab results, answers and appointments"
        ),
        "user/*.rs": _("Read the records of the patients on your care team"),
        LAUNCH_PATIENT: _("Know which patient record you chose"),
        OFFLINE: _("Keep reading after you close the app, until you withdraw it"),
        OPENID: _("Know that it is you who signed in"),
        FHIR_USER: _("Know which record in Titrate is yours"),
    }
    for resource_type, words in _TYPE_NAMES.items():
        scopes[f"patient/{resource_type}.rs"] = _("Read %(what)s") % {"what": words}
        scopes[f"user/{resource_type}.rs"] = _("Read %(what)s of your care team's patients") % {"what": resource_type}
    return scopes


def scope_descriptions() -> dict[str, str]:
    """Each scope and what it lets an app read, in the words of the consent screen."""
    return _descriptions()


class SmartScopes(BaseScopes):
    """The SMART v2 read scopes (``.rs``: read and search). Nothing here writes."""

    def get_all_scopes(self):
        return _descriptions()

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        return list(_descriptions())

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return [LAUNCH_PATIENT, "patient/*.rs"]


def patient_record_of(user: User) -> Patient | None:
    return patients_for(user).first() if user.role == User.Role.PATIENT else None


def signs_id_tokens(client_id: str) -> bool:
    """OpenID Connect is configured (a signing key) and this app takes RS256-signed id_tokens."""
    if not oauth2_settings.OIDC_ENABLED:
        return False
    return Application.objects.filter(client_id=client_id, algorithm=Application.RS256_ALGORITHM).exists()


def fhir_user_url(user: User, base_url: str) -> str | None:
    """The FHIR resource of the signed-in user (SMART's fhirUser claim)."""
    if user.role == User.Role.PATIENT:
        record = patient_record_of(user)
        return f"{base_url}/fhir/Patient/{record.pk}" if record is not None else None
    if user.role == User.Role.PSYCHIATRIST:
        return f"{base_url}/fhir/Practitioner/{user.pk}"
    return None


class SmartValidator(OAuth2Validator):
    # Claims in the id_token only when their scope was granted: fhirUser for "fhirUser".
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, FHIR_USER: FHIR_USER}

    def get_additional_claims(self, request):
        url = fhir_user_url(request.user, settings.TITRATE_BASE_URL.rstrip("/"))
        return {FHIR_USER: url} if url else {}

    def save_bearer_token(self, token, request, *args, **kwargs):
        scopes = set(token.get("scope", "").split())
        if OFFLINE not in scopes:
            # SMART: a refresh token only for offline_access; without it the app asks again.
            token.pop("refresh_token", None)
        super().save_bearer_token(token, request, *args, **kwargs)
        if LAUNCH_PATIENT in scopes and request.user is not None:
            record = patient_record_of(request.user)
            if record is not None:
                # The launch context of the SMART token response: the FHIR id of the patient.
                token["patient"] = str(record.pk)


def scope_problem(user: User, scopes) -> str | None:
    """Why this user may not grant these scopes (shown on the consent screen), or None."""
    scopes = set(scopes)
    if user.role == User.Role.CLINIC_ADMIN:
        return str(_("Clinic admin accounts cannot give apps access to clinical records."))
    if user.role == User.Role.PATIENT:
        if any(scope.startswith("user/") for scope in scopes):
            return str(_("This app asks for staff access. Patients can give an app access to their own record only."))
        if patient_record_of(user) is None:
            return str(_("Your account is not linked to a clinic record yet."))
    if user.role == User.Role.PSYCHIATRIST and any(scope.startswith("patient/") for scope in scopes):
        return str(_("Staff apps use user/ scopes; a launch with a chosen patient is not offered yet."))
    if user.requires_mfa and not is_mfa_enabled(user):
        return str(_("Set up a second sign-in step before you give an app access."))
    return None


@dataclass(frozen=True)
class Grant:
    """What one access token may read."""

    user: User
    client_id: str
    scopes: frozenset[str]

    @property
    def context(self) -> str:
        return PATIENT_CONTEXT if self.user.role == User.Role.PATIENT else USER_CONTEXT

    def allows(self, resource_type: str) -> bool:
        context = self.context
        return f"{context}/*.rs" in self.scopes or f"{context}/{resource_type}.rs" in self.scopes

    def patients(self) -> QuerySet[Patient]:
        """The patients this token reads: the portal's scope for its user, never wider. A clinic
        admin's scope (every patient, for scheduling) is not a clinical scope: none."""
        if self.user.role not in (User.Role.PATIENT, User.Role.PSYCHIATRIST):
            return Patient.objects.none()
        if self.user.requires_mfa and not is_mfa_enabled(self.user):
            return Patient.objects.none()
        return patients_for(self.user)


def grant_for(access_token) -> Grant:
    return Grant(access_token.user, access_token.application.client_id, frozenset(access_token.scope.split()))
