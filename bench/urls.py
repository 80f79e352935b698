"""The production URLconf plus the floor view (bench.settings only; never in clinic.urls)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from clinic import audit
from clinic.models import AuditEvent, User
from clinic.urls import handler400, handler403, handler404, handler500  # noqa: F401
from clinic.urls import urlpatterns as clinic_urlpatterns


@login_required
def floor(request: HttpRequest) -> HttpResponse:
    """The cheapest authenticated page on this stack: session, user, one query, no template."""
    name = User.objects.filter(pk=request.user.pk).values_list("first_name", flat=True).first()
    return HttpResponse(f"ok {len(name or '')}", content_type="text/plain")


@login_required
def floor_audited(request: HttpRequest) -> HttpResponse:
    """The floor plus the one thing every page showing patient data must also do: append its audit
    row (AUD-1: one per request, hash-chained, committed before the response). Not a target of
    issue 7; measured so the ratios can be read against the cheapest page the rules allow."""
    name = User.objects.filter(pk=request.user.pk).values_list("first_name", flat=True).first()
    audit.record(AuditEvent.Action.VIEW, request=request, detail={"page": "bench_floor_audited", "patient_ids": []})
    return HttpResponse(f"ok {len(name or '')}", content_type="text/plain")


urlpatterns = [
    path("bench/floor/", floor, name="bench_floor"),
    path("bench/floor/audited/", floor_audited, name="bench_floor_audited"),
    *clinic_urlpatterns,
]
