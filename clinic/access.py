"""Who may see which patients. Every view that takes a patient id goes through here.

A patient outside a user's scope is indistinguishable from one that does not
exist (404), so ids never leak whether a record is there.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from clinic.models import BreakGlassGrant, User
from patients.models import Patient


def patients_for(user: User) -> QuerySet[Patient]:
    """The patients ``user`` may open, by role.

    - psychiatrist: the patients whose care team they are on (primary, or shared care), and
      those they hold an unexpired emergency (break-glass) grant for;
    - patient: their own record only;
    - clinic admin: every patient, for registration and scheduling (demographics only —
      clinical views check the role as well as this scope).
    """
    if not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    if user.role == User.Role.PSYCHIATRIST:
        shared = Patient.care_team.through.objects.filter(user=user).values("patient_id")
        # Emergency access (clinic.break_glass): time-boxed, for a stated reason, audited.
        emergency = BreakGlassGrant.objects.active().filter(user=user).values("patient_id")
        return Patient.objects.filter(Q(primary_psychiatrist=user) | Q(pk__in=shared) | Q(pk__in=emergency))
    if user.role == User.Role.PATIENT:
        return Patient.objects.filter(user=user)
    if user.role == User.Role.CLINIC_ADMIN:
        return Patient.objects.all()
    return Patient.objects.none()


def get_patient_for(user: User, pk: int) -> Patient:
    return get_object_or_404(patients_for(user), pk=pk)


def role_required(*roles: str) -> Callable:
    """Logged-in users of another role get 403; anonymous users go to the login page."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.user.role not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
