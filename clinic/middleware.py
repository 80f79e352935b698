from __future__ import annotations

import zoneinfo
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers

from clinic import languages
from clinic.access import is_our_view

# Pages a staff member may reach before passing their second factor: the ways
# in (set up or use an authenticator), the way out, and what needs no login.
MFA_EXEMPT_URL_NAMES = frozenset(
    {
        "account_login",
        "account_logout",
        "account_reauthenticate",
        "account_confirm_email",
        "account_email_verification_sent",
        "account_reset_password",
        "account_reset_password_done",
        "account_reset_password_from_key",
        "account_reset_password_from_key_done",
        "mfa_index",
        "mfa_authenticate",
        "mfa_reauthenticate",
        "mfa_activate_totp",
        "mfa_view_recovery_codes",
        "mfa_download_recovery_codes",
        "mfa_generate_recovery_codes",
        "mfa_add_webauthn",
        "mfa_list_webauthn",
        "healthz",
    }
)


def mfa_passed(request: HttpRequest) -> bool:
    return any(r.get("method") == "mfa" for r in get_authentication_records(request, request.user))


class StaffMFARequiredMiddleware:
    """Psychiatrists, clinic admins and Django-admin users must pass MFA each session.

    Without an authenticator they are sent to set one up; with one they have
    not used this session (a session from before MFA was enforced, say) they
    are sent to the MFA step.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or not user.requires_mfa:
            return None
        match = request.resolver_match
        if match is not None and match.url_name in MFA_EXEMPT_URL_NAMES:
            return None
        if mfa_passed(request):
            return None
        target = "mfa_reauthenticate" if is_mfa_enabled(user) else "mfa_activate_totp"
        query = urlencode({"next": request.get_full_path()}) if request.method == "GET" else ""
        return HttpResponseRedirect(reverse(target) + (f"?{query}" if query else ""))


class NoStoreForSessionsMiddleware:
    """Every response to a signed-in session says ``Cache-Control: no-store`` (issue 18).

    Clinic workstations are shared: a chart, a side-effect report or the audit CSV must not stay
    in the browser's cache (or its back button) after sign-out or a timeout. Signed in when the
    request arrived or when it left, so the response of a sign-in and of a timeout are covered
    too. Static files are answered by WhiteNoise before this runs, and stay cacheable.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        signed_in = request.user.is_authenticated
        response = self.get_response(request)
        if signed_in or request.user.is_authenticated:
            add_never_cache_headers(response)
        return response


class PermissionsPolicyMiddleware:
    """A ``Permissions-Policy`` header on every response, from settings.PERMISSIONS_POLICY."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.header = ", ".join(f"{feature}={allow}" for feature, allow in settings.PERMISSIONS_POLICY.items())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.header)
        return response


class UserTimezoneMiddleware:
    """Show times in the viewer's zone; storage stays UTC."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        zone = user.zone if user.is_authenticated else zoneinfo.ZoneInfo(settings.TITRATE_DEFAULT_TIME_ZONE)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class UserLanguageMiddleware:
    """A signed-in patient reads pages in their stored language (clinic.languages), staff in
    English; anyone else gets what LocaleMiddleware chose (the language cookie, then the browser's
    Accept-Language). Runs after authentication; LocaleMiddleware, outside, labels the response."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            code = languages.for_user(user)
            translation.activate(code)
            request.LANGUAGE_CODE = code
        return self.get_response(request)


class SessionExpiredMessageMiddleware:
    """Tell a returning user their session ended, instead of a bare login page.

    A session cookie whose session no longer exists (expired, or ended by a
    logout elsewhere) leaves ``session_key`` empty once the store is read.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.COOKIES.get(settings.SESSION_COOKIE_NAME)
            and not request.user.is_authenticated
            and request.path != "/healthz"
        ):
            request.session.load()
            if request.session.session_key is None and not request.session.keys():
                messages.info(request, "Your session has ended. Please sign in again.")
        return self.get_response(request)


# Session keys written by SessionTimeoutMiddleware (epoch seconds).
SESSION_STARTED = "titrate_started"
SESSION_SEEN = "titrate_seen"
# Refresh the last-seen stamp at most this often, so a page view is not a session write.
SEEN_RESOLUTION_SECONDS = 60


class SessionTimeoutMiddleware:
    """End a session after the role's idle time or the absolute lifetime (SESS-1).

    Staff sessions idle out after 15 minutes and patients' after 30; any session ends
    12 hours after sign-in however active. Settings: TITRATE_IDLE_MINUTES_STAFF,
    TITRATE_IDLE_MINUTES_PATIENT, TITRATE_SESSION_ABSOLUTE_HOURS.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            expired = self._check(request, user)
            if expired:
                logout(request)
                messages.info(request, expired)
                if request.path != reverse("account_login"):
                    return HttpResponseRedirect(reverse("account_login"))
        return self.get_response(request)

    @staticmethod
    def _check(request: HttpRequest, user) -> str | None:
        now = int(timezone.now().timestamp())
        session = request.session
        started = session.get(SESSION_STARTED)
        seen = session.get(SESSION_SEEN)
        if started is None or seen is None:  # a session from before this middleware
            session[SESSION_STARTED] = started or now
            session[SESSION_SEEN] = now
            return None
        minutes = settings.TITRATE_IDLE_MINUTES_STAFF if user.requires_mfa else settings.TITRATE_IDLE_MINUTES_PATIENT
        if now - started > settings.TITRATE_SESSION_ABSOLUTE_HOURS * 3600:
            hours = settings.TITRATE_SESSION_ABSOLUTE_HOURS
            return f"You were signed out: a session lasts at most {hours} hours. Please sign in again."
        if now - seen > minutes * 60:
            return f"You were signed out after {minutes} minutes without activity. Please sign in again."
        if now - seen >= SEEN_RESOLUTION_SECONDS:
            session[SESSION_SEEN] = now
        return None


class PostOnlyAddressMiddleware:
    """A GET of an address that only takes a form's POST goes to the page above it instead of a
    blank 405. People land there: the sign-in page's ``next`` after a session ended while a form
    was open, a bookmark, a shared link. /patients/7/visits/4/sign/ -> /patients/7/visits/4/,
    /my/waitlist/ -> /my/: our addresses nest, so the nearest one of ours above is the page the
    action belongs to. The view did nothing (its method check comes before anything else)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = request.resolver_match
        if request.method != "GET" or response.status_code != 405 or match is None or not is_our_view(match.func):
            return response
        messages.info(request, "Nothing was changed: that needs its button on this page.")
        return HttpResponseRedirect(page_above(request.path))


def page_above(path: str) -> str:
    """The nearest address above ``path`` that is one of our pages; the home page otherwise."""
    parts = [part for part in path.split("/") if part]
    while parts:
        parts.pop()
        candidate = "/" + "".join(f"{part}/" for part in parts)
        try:
            match = resolve(candidate)
        except Resolver404:
            continue
        if is_our_view(match.func):
            return candidate
    return reverse("home")
