"""The FHIR R4 read API (``/fhir/``), its SMART discovery documents and the consent screen.

Every API request: the bearer token (header only, never the URL) is checked by the OAuth server,
its scopes name the resource type, the records come through ``interop.smart.Grant.patients`` (the
portal's ``clinic.access.patients_for``), and exactly one audit row is written: ``view`` for a
read, a search or ``$everything`` (the patient, or the ids of the patients a search showed), or
``access_denied`` for a refused one. A request without a valid token gets 401 and no row: there is
nobody to name, and an unauthenticated caller must not be able to grow the audit chain.
"""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import AuthorizationView

from clinic import audit
from clinic.access import logged_in, public, token_access
from clinic.models import AuditEvent
from interop import capability, connections, fhir, search, smart
from patients import instruments

FHIR_JSON = "application/fhir+json"
TOKEN_REASON = "SMART on FHIR bearer token, checked by interop.views.authenticate (docs/api.md)"


def base_url() -> str:
    return settings.TITRATE_BASE_URL.rstrip("/")


def fhir_response(body: dict, status: int = 200, headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=f"{FHIR_JSON}; charset=utf-8")
    response["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def outcome(status: int, code: str, text: str, headers: dict | None = None) -> HttpResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    return fhir_response(body, status, headers)


def authenticate(request: HttpRequest) -> smart.Grant | HttpResponse:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if "access_token" in request.GET or not header.startswith("Bearer "):
        # Tokens in a URL end up in logs and browser history: only the header is read.
        return outcome(401, "login", "A bearer token is required.", {"WWW-Authenticate": 'Bearer realm="fhir"'})
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid:
        return outcome(
            401, "login", "The token is invalid or expired.", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    return smart.grant_for(oauth_request.access_token)


def _audit(
    request, grant: smart.Grant, action: str, *, interaction: str, resource_type: str, status: int, patient_ids=()
):
    patient_ids = sorted(patient_ids)
    detail = {
        "api": "fhir",
        "interaction": interaction,
        "type": resource_type,
        "client_id": grant.client_id,
        "status": status,
        # Parameter names only: values may be identifiers (an MRN) and never go in the trail.
        "params": sorted(set(request.GET) - {"_count", "_offset"}),
    }
    patient = patient_ids[0] if len(patient_ids) == 1 else None
    if len(patient_ids) > 1:
        detail["patient_ids"] = patient_ids
    audit.record(action, request=request, actor=grant.user, patient=patient, detail=detail)


def _shown(request, grant: smart.Grant, interaction: str, resource_type: str, patient_ids) -> None:
    _audit(
        request,
        grant,
        AuditEvent.Action.VIEW,
        interaction=interaction,
        resource_type=resource_type,
        status=200,
        patient_ids=patient_ids,
    )


def _refuse(request, grant, status: int, *, interaction: str, resource_type: str) -> HttpResponse:
    _audit(
        request,
        grant,
        AuditEvent.Action.ACCESS_DENIED,
        interaction=interaction,
        resource_type=resource_type,
        status=status,
    )
    if status == 403:
        return outcome(403, "forbidden", "The token's scopes do not cover this resource type.")
    # The same answer for "not yours" as for "missing", as in the portal.
    return outcome(404, "not-found", f"{resource_type} not found.")


def _grant_for_type(request, resource_type: str, interaction: str) -> smart.Grant | HttpResponse:
    """The request's grant if it may use ``resource_type``; otherwise the answer to send."""
    if resource_type not in search.RESOURCE_TYPES:
        return outcome(404, "not-supported", f"Titrate does not serve {resource_type}.")
    grant = authenticate(request)
    if isinstance(grant, HttpResponse):
        return grant
    if not grant.allows(resource_type):
        return _refuse(request, grant, 403, interaction=interaction, resource_type=resource_type)
    return grant


@require_GET
@token_access(TOKEN_REASON)
def resource_search(request: HttpRequest, resource_type: str) -> HttpResponse:
    grant = _grant_for_type(request, resource_type, "search-type")
    if isinstance(grant, HttpResponse):
        return grant
    try:
        query = search.Query.parse(request.GET)
        page = search.search(resource_type, grant.patients(), grant.user, query, base_url=base_url())
    except search.SearchError as error:
        return outcome(400, "invalid", str(error))
    _shown(request, grant, "search-type", resource_type, page.patient_ids)
    return fhir_response(search.searchset(resource_type, page, query, base_url=base_url()))


@require_GET
@token_access(TOKEN_REASON)
def resource_read(request: HttpRequest, resource_type: str, resource_id: str) -> HttpResponse:
    grant = _grant_for_type(request, resource_type, "read")
    if isinstance(grant, HttpResponse):
        return grant
    query = search.Query({"_id": [resource_id]}, count=1)
    page = search.search(resource_type, grant.patients(), grant.user, query, base_url=base_url())
    if not page.resources:
        return _refuse(request, grant, 404, interaction="read", resource_type=resource_type)
    _shown(request, grant, "read", resource_type, page.patient_ids)
    return fhir_response(page.resources[0])


@require_GET
@token_access(TOKEN_REASON)
def patient_everything(request: HttpRequest, resource_id: str) -> HttpResponse:
    grant = authenticate(request)
    if isinstance(grant, HttpResponse):
        return grant
    allowed = [resource_type for resource_type in search.RESOURCE_TYPES if grant.allows(resource_type)]
    if "Patient" not in allowed:
        return _refuse(request, grant, 403, interaction="operation", resource_type="Patient")
    record = grant.patients().filter(pk=int(resource_id)).first() if resource_id.isdigit() else None
    if record is None:
        return _refuse(request, grant, 404, interaction="operation", resource_type="Patient")
    resources = search.everything_resources(record, base_url=base_url(), types=allowed)
    _audit(
        request,
        grant,
        AuditEvent.Action.EXPORT,
        interaction="operation",
        resource_type="Patient",
        status=200,
        patient_ids={record.pk},
    )
    return fhir_response(search.bundle(resources, base_url=base_url()))


QUESTIONNAIRE_REASON = "The questionnaires' definitions (items, answers, points): no patient data."


@require_GET
@public(QUESTIONNAIRE_REASON)
def questionnaire_read(request: HttpRequest, resource_id: str) -> HttpResponse:
    by_id = {fhir.questionnaire_id(code): instrument for code, instrument in instruments.INSTRUMENTS.items()}
    if resource_id not in by_id:
        return outcome(404, "not-found", "Questionnaire not found.")
    return fhir_response(fhir.questionnaire(by_id[resource_id], base_url=base_url()))


@require_GET
@public(QUESTIONNAIRE_REASON)
def questionnaire_search(request: HttpRequest) -> HttpResponse:
    """Every instrument, or those named by ``_id`` or ``url`` (comma-separated or repeated)."""
    wanted = {value for key in ("_id", "url") for values in request.GET.getlist(key) for value in values.split(",")}
    entries = [
        fhir.questionnaire(instrument, base_url=base_url())
        for instrument in instruments.INSTRUMENTS.values()
        if not wanted
        or {fhir.questionnaire_id(instrument.code), fhir.questionnaire_url(instrument.code, base_url())} & wanted
    ]
    links = [{"relation": "self", "url": base_url() + request.get_full_path()}]
    return fhir_response(search.bundle(entries, base_url=base_url(), links=links))


@require_GET
@public("The FHIR CapabilityStatement: what the API serves, no patient data.")
def metadata(request: HttpRequest) -> HttpResponse:
    return fhir_response(capability.capability_statement(base_url()))


@require_GET
@public("SMART on FHIR discovery document: the OAuth endpoints and scopes, no patient data.")
def smart_configuration(request: HttpRequest) -> HttpResponse:
    root = base_url()
    body = {
        "issuer": root,
        "authorization_endpoint": root + reverse("interop:authorize"),
        "token_endpoint": root + reverse("oauth2_provider:token"),
        "revocation_endpoint": root + reverse("oauth2_provider:revoke-token"),
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "response_types_supported": ["code"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(smart.SmartScopes().get_all_scopes()),
        "capabilities": [
            "launch-standalone",
            "client-public",
            "client-confidential-symmetric",
            "context-standalone-patient",
            "permission-patient",
            "permission-user",
            "permission-offline",
            "permission-v2",
        ],
    }
    if oauth2_settings.OIDC_ENABLED:
        body["capabilities"] += ["sso-openid-connect"]
        body["jwks_uri"] = root + reverse("oauth2_provider:jwks-info")
    else:
        body["scopes_supported"] = [s for s in body["scopes_supported"] if s not in (smart.OPENID, smart.FHIR_USER)]
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


class ConsentView(AuthorizationView):
    """The SMART authorize step: the signed-in user sees which app asks for what, and allows or
    refuses it. PKCE with S256 is required; the scopes must fit the user's role (smart.scope_problem);
    a staff user has passed their second factor this session (clinic.middleware) to get here."""

    template_name = "interop/consent.html"

    def _problem(self, request, scopes, method: str, aud: str | None, client_id: str) -> str | None:
        if method != "S256":
            return _("This app must use PKCE with S256 (code_challenge_method=S256).")
        if aud and aud.rstrip("/") != base_url() + "/fhir":
            return _("This app asked for another server (aud) than this one.")
        if smart.OPENID in scopes and not smart.signs_id_tokens(client_id):
            # Without a signing key, or for an app registered without RS256, the token step would fail.
            return _("This app asks for sign-in (openid), which is not set up for it.")
        return smart.scope_problem(request.user, scopes)

    def get(self, request, *args, **kwargs):
        problem = self._problem(
            request,
            request.GET.get("scope", "").split(),
            request.GET.get("code_challenge_method", ""),
            request.GET.get("aud"),
            request.GET.get("client_id", ""),
        )
        if problem:
            return render(request, "interop/consent.html", {"problem": problem}, status=400)
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        problem = self._problem(
            request,
            request.POST.get("scope", "").split(),
            request.POST.get("code_challenge_method", ""),
            None,
            request.POST.get("client_id", ""),
        )
        if problem:
            return render(request, "interop/consent.html", {"problem": problem}, status=400)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        if form.cleaned_data.get("allow"):
            record = smart.patient_record_of(self.request.user)
            audit.record(
                AuditEvent.Action.CREATE,
                request=self.request,
                patient=record,
                detail={
                    "event": "fhir_app_authorized",
                    "client_id": form.cleaned_data["client_id"],
                    "scopes": sorted(form.cleaned_data["scope"].split()),
                },
            )
        return response


authorize = logged_in(ConsentView.as_view())


class WithdrawForm(forms.Form):
    application = forms.IntegerField(min_value=1)


@logged_in
def my_apps(request: HttpRequest) -> HttpResponse:
    """The apps this person allowed to read their record (a patient) or their care team's records
    (a psychiatrist), and withdrawing one. Lists app names and scopes only: not audited; a
    withdrawal writes one row (interop.connections.withdraw)."""
    if request.method == "POST":
        form = WithdrawForm(request.POST)
        if form.is_valid() and connections.withdraw(request.user, form.cleaned_data["application"], request=request):
            messages.success(request, _("Done: that app can no longer read your information."))
        else:
            messages.info(request, _("That app had no access to withdraw."))
        return redirect("interop:my_apps")
    return render(request, "interop/my_apps.html", {"connections": connections.connections_for(request.user)})
