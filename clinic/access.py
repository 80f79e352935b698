"""Who may see what. Every view of ours declares one access policy; every view that
takes a patient id goes through ``get_patient_for``.

Deny by default: ``AccessPolicyMiddleware`` refuses (403) any view from our apps
that carries no policy, so a view that forgot its decorator fails closed instead of
being open to anyone. The policies are ``public(reason)``, ``token_access(reason)``
(a signed token in the URL is the permission), ``logged_in``, ``role_required(...)`` and
``permission_required(perm)``.

A patient outside a user's scope is indistinguishable from one that does not
exist (404), so ids never leak whether a record is there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.log import log_response

from clinic import audit
from clinic.models import AuditEvent, BreakGlassGrant, User
from patients.models import Patient


def patients_for(user: User) -> QuerySet[Patient]:
    """The patients ``user`` may open, by role.

    - psychiatrist: the patients whose care team they are on (primary, or shared care), and
      those they hold an unexpired emergency (break-glass) grant for;
    - patient: their own record only;
    - clinic admin: every patient, for registration and scheduling (demographics only —
      clinical views check the role as well as this scope).

    Lists start here, and page selectors add what they read to the queryset it returns.
    """
    if not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    if user.role == User.Role.PSYCHIATRIST:
        # order_by(): a model's default ordering is not allowed inside a UNION's branches.
        primary = Patient.objects.filter(primary_psychiatrist_id=user.pk).order_by().values("pk")
        shared = Patient.care_team.through.objects.filter(user_id=user.pk).order_by().values("patient_id")
        # Emergency access (clinic.break_glass): time-boxed, for a stated reason, audited.
        now = timezone.now()
        emergency = BreakGlassGrant.objects.active(now).filter(user_id=user.pk).order_by().values("patient_id")
        # One IN over a UNION, not ``primary = me OR id IN (...)``: PostgreSQL cannot use an index
        # for that OR and estimates half the table, so every caseload query scanned and hashed whole
        # tables. Each branch of the UNION is index-served (patient_psych_name, the care-team and
        # grant user indexes) and the planner estimates the caseload's real size.
        return Patient.objects.filter(pk__in=primary.union(shared, emergency))
    if user.role == User.Role.PATIENT:
        return Patient.objects.filter(user_id=user.pk)
    if user.role == User.Role.CLINIC_ADMIN:
        return Patient.objects.all()
    return Patient.objects.none()


class PatientNotFound(Http404):
    """No patient ``pk`` that this user may open: missing and out of scope alike, so neither the
    status nor the page (``not_found_page``) says whether the record exists."""


def get_patient_for(
    user: User, pk: int, *, read: Callable[[QuerySet[Patient]], QuerySet[Patient]] | None = None
) -> Patient:
    """The patient ``pk`` if ``user`` may open it; 404 otherwise, the same for "not yours" as for
    "missing". ``read`` is a page selector that adds what the page shows with the patient
    (select_related, annotations) to the scoped queryset, so the page still reads the patient in
    one query; it receives the scope and must only narrow it."""
    scope = patients_for(user)
    if read is not None:
        scope = read(scope)
    try:
        return scope.get(pk=pk)
    except Patient.DoesNotExist:
        raise PatientNotFound from None


def not_found_page(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 404 page. A psychiatrist refused a patient is told it is not on their care team and
    offered emergency access (break-glass asks for the MRN, so the page names nobody)."""
    user = getattr(request, "user", None)
    care_team = (
        isinstance(exception, PatientNotFound)
        and user is not None
        and user.is_authenticated
        and user.role == User.Role.PSYCHIATRIST
    )
    context = {"not_on_care_team": care_team, "break_glass_minutes": settings.TITRATE_BREAK_GLASS_MINUTES}
    return render(request, "404.html", context, status=404)


logger = logging.getLogger(__name__)

# The apps whose views must declare a policy. Third-party views (allauth, admin) have
# their own checks and are left alone.
OUR_APPS = frozenset(
    {"clinic", "patients", "medications", "appointments", "notifications", "records", "demo", "interop"}
)
POLICY_ATTR = "access_policy"


@dataclass(frozen=True)
class AccessPolicy:
    kind: str  # "public", "token", "logged_in", "role" or "permission"
    roles: tuple[str, ...] = ()
    reason: str = ""  # why it is open ("public", "token"), or the permission ("permission")


def _declare(view: Callable, policy: AccessPolicy) -> Callable:
    # functools.wraps copies __dict__, so a policy declared on an inner function shows
    # up on every wrapper: a second declaration on the same view is a mistake.
    if getattr(view, POLICY_ATTR, None) is not None:
        raise ImproperlyConfigured(f"{view.__module__}.{view.__qualname__} declares two access policies.")
    setattr(view, POLICY_ATTR, policy)
    return view


def policy_of(view: Callable) -> AccessPolicy | None:
    return getattr(view, POLICY_ATTR, None)


def public(reason: str) -> Callable:
    """Anyone, logged in or not. The reason is documentation and must be given."""
    if not reason or not reason.strip():
        raise ImproperlyConfigured("public() needs a reason.")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        return _declare(view, AccessPolicy("public", reason=reason))

    return decorator


def token_access(reason: str) -> Callable:
    """No login: the view itself checks a signed or random token from the URL."""
    if not reason or not reason.strip():
        raise ImproperlyConfigured("token_access() needs a reason.")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        return _declare(view, AccessPolicy("token", reason=reason))

    return decorator


def logged_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Any logged-in user, whatever the role (the view scopes its data to them)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return view(request, *args, **kwargs)

    return _declare(wrapped, AccessPolicy("logged_in"))


def role_required(*roles: str) -> Callable:
    """Logged-in users of another role get 403; anonymous users go to the login page."""
    if not roles:
        raise ImproperlyConfigured("role_required() needs at least one role.")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.user.role not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return _declare(wrapped, AccessPolicy("role", roles=tuple(roles)))

    return decorator


def permission_required(perm: str) -> Callable:
    """Logged-in users holding the Django permission ``perm`` (by group or directly);
    others get 403, anonymous users go to the login page."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return _declare(wrapped, AccessPolicy("permission", reason=perm))

    return decorator


def own_record_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A patient's own page (role_required(PATIENT)): the view is called with their clinic record
    after the request. A login the front desk has not linked to a record yet (signed up, identity
    not checked) gets a page that says so and how to reach the clinic, never a 404."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        patient = patients_for(request.user).select_related("primary_psychiatrist").first()
        if patient is None:
            return render(request, "clinic/not_linked.html")
        return view(request, patient, *args, **kwargs)

    return role_required(User.Role.PATIENT)(wrapped)


def is_our_view(view: Callable) -> bool:
    if getattr(view, "model_admin", None) is not None:
        # A Django admin page, even one whose ModelAdmin (clinic.admin) overrides it to write audit
        # rows: the admin site checks staff status and model permissions itself, after the MFA
        # middleware.
        return False
    module = getattr(getattr(view, "view_class", view), "__module__", None) or ""
    return module.split(".", 1)[0] in OUR_APPS


class AccessPolicyMiddleware:
    """Deny by default: a view of ours without a declared policy is refused (403)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if not is_our_view(view_func) or policy_of(view_func) is not None:
            return None
        # A programming error, not an attack: name the view so it gets a policy.
        name = request.resolver_match.view_name if request.resolver_match else ""
        logger.error("View %s (%s) declares no access policy; refused.", name, view_func.__module__)
        raise PermissionDenied

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not isinstance(exception, PermissionDenied | Http404):
            return None
        match = request.resolver_match
        if match is None or not is_our_view(match.func):
            return None
        if request.user.is_authenticated:
            self._record_refusal(request, match, exception)
        if not isinstance(exception, Http404):
            return None  # handler403 renders it, under DEBUG too
        # Our own 404 page even under DEBUG, whose technical page would list every URL pattern
        # and could not offer a psychiatrist emergency access. Logged as Django logs a 404.
        response = not_found_page(request, exception)
        log_response("Not Found: %s", request.path, response=response, request=request)
        return response

    @staticmethod
    def _record_refusal(request: HttpRequest, match, exception: Exception) -> None:
        # ASVS 16.3.2: a refused request leaves a trace. 404 counts too, since a record outside
        # the user's scope answers 404 (an id probe looks like a run of these).
        audit.record(
            AuditEvent.Action.ACCESS_DENIED,
            request=request,
            detail={
                "url_name": match.view_name,
                "method": request.method,
                "status": 403 if isinstance(exception, PermissionDenied) else 404,
                # Path ids only (the patient id a probe tried, say): never names or text.
                "ids": {key: str(value) for key, value in match.kwargs.items()},
            },
        )
