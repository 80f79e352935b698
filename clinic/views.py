from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clinic import health
from clinic.access import patients_for, role_required
from clinic.models import User

HOME_FOR_ROLE = {
    User.Role.PSYCHIATRIST: "psychiatrist_home",
    User.Role.PATIENT: "patient_home",
    User.Role.CLINIC_ADMIN: "front_desk_home",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect(HOME_FOR_ROLE[request.user.role])


@role_required(User.Role.PSYCHIATRIST)
def psychiatrist_home(request: HttpRequest) -> HttpResponse:
    patients = (
        patients_for(request.user)
        .active()
        .only("id", "mrn", "legal_first_name", "legal_last_name", "preferred_name", "date_of_birth")
    )
    return render(request, "clinic/psychiatrist_home.html", {"patients": patients})


@role_required(User.Role.PATIENT)
def patient_home(request: HttpRequest) -> HttpResponse:
    patient = patients_for(request.user).select_related("primary_psychiatrist").first()
    return render(request, "clinic/patient_home.html", {"patient": patient})


@role_required(User.Role.CLINIC_ADMIN)
def front_desk_home(request: HttpRequest) -> HttpResponse:
    psychiatrists = (
        User.objects.filter(role=User.Role.PSYCHIATRIST, is_active=True)
        .annotate(patient_count=Count("primary_patients"))
        .order_by("last_name", "first_name")
    )
    patient_count = patients_for(request.user).active().count()
    return render(
        request,
        "clinic/front_desk_home.html",
        {"psychiatrists": psychiatrists, "patient_count": patient_count},
    )


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = health.run_checks()
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


def error_400(request, exception=None):
    return render(request, "400.html", status=400)


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def csrf_failure(request, reason=""):
    # Almost always a form left open past its session, or a page from an old tab.
    return render(request, "403_csrf.html", status=403)


def error_404(request, exception=None):
    return render(request, "404.html", status=404)


def error_500(request):
    # No context processors: the failure may be in one of them.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)
