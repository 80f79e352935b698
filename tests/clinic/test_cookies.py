"""No names in any cookie (issue 18 item 9): flash messages live in the session, so the only
cookies are the session id and the CSRF token.

Django's default message storage put "Successfully signed in as <full name>." in a `messages`
cookie: signed, not encrypted, so anyone who sees the cookie (a shared workstation's browser
profile, a proxy log) reads the name. Each persona signs in and triggers messages that carry
names; every cookie any response set, and every cookie the browser holds, is read back in every
form a cookie can encode text (raw, URL-quoted, signed base64 or zlib) and searched for them.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from urllib.parse import unquote

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from clinic.models import User
from tests.factories import ClinicAdminFactory
from tests.helpers import form_data, log_in

pytestmark = pytest.mark.django_db


class CookieWatchingClient(Client):
    """A browser that keeps every Set-Cookie value it was ever sent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[str, str]] = []

    def request(self, **request):
        response = super().request(**request)
        self.seen += [(name, morsel.value) for name, morsel in response.cookies.items()]
        return response

    def every_cookie(self) -> list[tuple[str, str]]:
        return self.seen + [(name, morsel.value) for name, morsel in self.cookies.items()]


def readable_forms(value: str) -> list[str]:
    """The cookie value and whatever text it encodes: URL-quoting, and the base64 (optionally
    zlib-compressed) payload of a signed value ``payload:signature`` (django.core.signing)."""
    forms = [value, unquote(value)]
    for part in re.split(r"[:$]", unquote(value)):
        compressed = part.startswith(".")
        part = part.removeprefix(".")
        try:
            data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
            if compressed:
                data = zlib.decompress(data)
        except (binascii.Error, ValueError, zlib.error):
            continue
        forms.append(data.decode("utf-8", "replace"))
    return forms


def names_in_cookies(client: CookieWatchingClient, names: set[str]) -> list[tuple[str, str]]:
    return [
        (cookie, name)
        for cookie, value in client.every_cookie()
        for text in readable_forms(value)
        for name in names
        if name.lower() in text.lower()
    ]


def names_of(user: User) -> set[str]:
    return {user.get_full_name(), user.first_name, user.last_name}


def test_readable_forms_reads_a_signed_messages_cookie():
    # Guards the check below: Django's cookie message storage, the one this file replaces.
    from django.contrib.messages import constants
    from django.contrib.messages.storage.base import Message
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpRequest

    encoded = CookieStorage(HttpRequest())._encode([Message(constants.SUCCESS, "Signed in as Ada Lovelace.")])
    assert any("Ada Lovelace" in text for text in readable_forms(encoded))


def test_messages_are_stored_in_the_session():
    assert settings.MESSAGE_STORAGE == "django.contrib.messages.storage.session.SessionStorage"


def test_a_patients_sign_in_and_sign_out_leave_no_name_in_any_cookie(patient):
    browser = CookieWatchingClient()
    log_in(browser, patient.user, keep_messages=True)
    home = browser.get(reverse("patient_home"), follow=True)
    assert f"Successfully signed in as {patient.user.get_full_name()}" in home.content.decode()
    browser.post(reverse("account_logout"))

    names = names_of(patient.user) | {patient.display_name, patient.legal_first_name, patient.legal_last_name}
    assert names_in_cookies(browser, names) == []
    assert {cookie for cookie, _ in browser.every_cookie()} <= {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME}


def test_a_psychiatrists_messages_leave_no_name_in_any_cookie(patient, psychiatrist):
    browser = CookieWatchingClient()
    log_in(browser, psychiatrist, keep_messages=True)
    browser.get(reverse("home"), follow=True)
    therapist = "Ingrid Thorsdottir-Qzphi"
    response = browser.post(
        reverse("patients:care_contact_create", args=[patient.pk]), {"kind": "therapist", "name": therapist}
    )
    assert response.status_code == 302
    chart = browser.get(response["Location"])
    assert f"Added {therapist} to the care team contacts." in chart.content.decode()

    names = names_of(psychiatrist) | {therapist, patient.display_name, patient.legal_last_name}
    assert names_in_cookies(browser, names) == []


def test_the_front_desks_messages_leave_no_name_in_any_cookie(patient):
    admin = ClinicAdminFactory()
    browser = CookieWatchingClient()
    log_in(browser, admin, keep_messages=True)
    browser.get(reverse("home"), follow=True)
    url = reverse("patients:edit_demographics", args=[patient.pk])
    response = browser.post(url, form_data(browser.get(url).context["form"]))
    assert response.status_code == 302
    page = browser.get(response["Location"]).content.decode()
    assert f"Saved {patient.display_name}" in page.replace("&#x27;", "'")

    names = names_of(admin) | {patient.display_name, patient.legal_first_name, patient.legal_last_name}
    assert names_in_cookies(browser, names) == []
