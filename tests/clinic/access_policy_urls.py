"""A test-only URLconf: the same real view with and without its declared access policy."""

from django.http import HttpResponse
from django.urls import include, path

from clinic import views


def outside_view(request):
    # Not one of our apps' modules: the deny-by-default check leaves it alone.
    return HttpResponse("third party")


urlpatterns = [
    path("declared/", views.healthz, name="declared"),
    # healthz's inner function: the same code, but no access policy on it.
    path("undeclared/", views.healthz.__wrapped__, name="undeclared"),
    path("outside/", outside_view, name="outside"),
    # The real site too: the error pages link to it.
    path("", include("clinic.urls")),
]
