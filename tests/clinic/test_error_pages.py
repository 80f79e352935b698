from __future__ import annotations

import pytest
from django.test import RequestFactory

from clinic.views import error_500
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
