"""The production URLconf plus the floor view (bench.settings only; never in clinic.urls)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from clinic.models import User
from clinic.urls import handler400, handler403, handler404, handler500  # noqa: F401
from clinic.urls import urlpatterns as clinic_urlpatterns


@login_required
def floor(request: HttpRequest) -> HttpResponse:
    """The cheapest authenticated page on this stack: session, user, one query, no template."""
    name = User.objects.filter(pk=request.user.pk).values_list("first_name", flat=True).first()
    return HttpResponse(f"ok {len(name or '')}", content_type="text/plain")


urlpatterns = [path("bench/floor/", floor, name="bench_floor"), *clinic_urlpatterns]
