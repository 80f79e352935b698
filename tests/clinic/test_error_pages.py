from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from clinic.views import error_500
from patients.models import Patient
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def test_unknown_page_gets_the_custom_404(client, patient):
    log_in(client, patient.user)

    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"Traceback" not in response.content


def test_500_page_is_plain_and_reassuring():
    response = error_500(RequestFactory().get("/"))

    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"988" in response.content


def test_rate_limited_page_is_friendly(client, db, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login": "1/m/ip"}
    client.post("/accounts/login/", {"login": "a@example.test", "password": "x" * 12})

    response = client.post("/accounts/login/", {"login": "a@example.test", "password": "x" * 12})

    assert response.status_code == 429
    assert b"Too many attempts" in response.content


def test_expired_session_gets_a_clear_message_on_the_login_page(client, db):
    client.cookies["sessionid"] = "a-session-that-no-longer-exists"

    response = client.get("/psychiatrist/", follow=True)

    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert b"Your session has ended. Please sign in again." in response.content


def test_first_visit_without_a_cookie_gets_no_expiry_message(client, db):
    response = client.get("/psychiatrist/", follow=True)

    assert b"Your session has ended" not in response.content


def test_logged_out_user_is_not_told_their_session_expired(client, patient):
    log_in(client, patient.user)
    client.post("/accounts/logout/")

    response = client.get("/my/", follow=True)

    assert b"Your session has ended" not in response.content


def test_stale_form_gets_a_friendly_csrf_page(db):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)

    response = client.post("/accounts/login/", {"login": "a@example.test", "password": "x" * 12})

    assert response.status_code == 403
    assert b"This form has expired" in response.content


# -- A chart outside the care team (issue 16, item 17) -------------------------------------------


def main_of(response) -> str:
    """The page's own content: what differs between two users' pages is the header's name."""
    page = response.content.decode()
    return page[page.index('<main id="main"') : page.index("</main>")]


@pytest.mark.parametrize("debug", [False, True])
def test_a_chart_outside_the_care_team_offers_emergency_access(client, settings, psychiatrist2, patient, debug):
    settings.DEBUG = debug  # `make run`: Django's own 404 page listed every URL pattern
    log_in(client, psychiatrist2)

    response = client.get(reverse("patients:chart", args=[patient.pk]))

    assert response.status_code == 404
    assert "Not on your care team" in main_of(response)
    assert f'href="{reverse("break_glass")}"' in main_of(response)
    assert b"URLconf" not in response.content


def test_a_missing_chart_and_a_forbidden_one_get_the_same_page(client, psychiatrist2, patient):
    log_in(client, psychiatrist2)
    client.get(reverse("psychiatrist_home"))  # shows, and so clears, "Successfully signed in"
    missing_pk = Patient.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000

    forbidden = client.get(reverse("patients:chart", args=[patient.pk]))
    missing = client.get(reverse("patients:chart", args=[missing_pk]))
    deeper = client.get(reverse("medications:prescription_start", args=[patient.pk]))

    assert [forbidden.status_code, missing.status_code, deeper.status_code] == [404, 404, 404]
    assert main_of(forbidden) == main_of(missing) == main_of(deeper)


@pytest.mark.parametrize("who", ["patient", "clinic_admin"])
def test_only_psychiatrists_are_offered_emergency_access(client, settings, who, patient, patient2, clinic_admin):
    settings.DEBUG = True
    log_in(client, patient.user if who == "patient" else clinic_admin)
    url = (
        reverse("appointments:my_cancel", args=[10**6])
        if who == "patient"
        else reverse("patients:edit_demographics", args=[10**6])
    )

    response = client.post(url) if who == "patient" else client.get(url)

    assert response.status_code == 404
    assert "Page not found" in main_of(response)
    assert reverse("break_glass") not in response.content.decode()


def test_forbidden_page_is_branded_under_debug_too(client, settings, patient):
    settings.DEBUG = True
    log_in(client, patient.user)

    response = client.get(reverse("psychiatrist_home"))

    assert response.status_code == 403
    assert "Not allowed" in main_of(response)
