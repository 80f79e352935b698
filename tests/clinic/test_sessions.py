"""Session lifetimes (SESS-1), signed-in sessions and their end (AUTHN-8), and the staff
second factor that cannot be removed (AUTHN-2)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def later(minutes: float):
    return time_machine.travel(timezone.now() + datetime.timedelta(minutes=minutes), tick=False)


@pytest.mark.parametrize(
    ("persona", "home", "still_in_after", "out_after"),
    [("psychiatrist", "psychiatrist_home", 14, 16), ("patient", "patient_home", 29, 31)],
)
def test_idle_session_ends_after_the_roles_timeout(client, request, persona, home, still_in_after, out_after):
    person = request.getfixturevalue(persona)
    user = getattr(person, "user", person)
    log_in(client, user)
    assert client.get(reverse(home)).status_code == 200

    with later(still_in_after):
        assert client.get(reverse(home)).status_code == 200  # and this visit counts as activity
    with later(still_in_after + out_after):
        response = client.get(reverse(home))
        assert response.status_code == 302
        assert response["Location"] == reverse("account_login")
        page = client.get(response["Location"])
    minutes = 15 if persona == "psychiatrist" else 30
    assert f"signed out after {minutes} minutes without activity".encode() in page.content
    assert "_auth_user_id" not in client.session


def test_an_active_session_still_ends_twelve_hours_after_sign_in(client, patient):
    log_in(client, patient.user)
    client.get(reverse("patient_home"))
    start = timezone.now()
    for step in range(1, 72):  # a page every 10 minutes for almost 12 hours
        with time_machine.travel(start + datetime.timedelta(minutes=10 * step), tick=False):
            assert client.get(reverse("patient_home")).status_code == 200
    with time_machine.travel(start + datetime.timedelta(hours=12, minutes=5), tick=False):
        response = client.get(reverse("patient_home"))
    assert response.status_code == 302
    assert "at most 12 hours" in client.get(response["Location"]).content.decode()


def test_page_views_do_not_write_the_session_each_time(client, patient, django_assert_max_num_queries):
    log_in(client, patient.user)
    client.get(reverse("patient_home"))
    with django_assert_max_num_queries(30) as captured:
        client.get(reverse("patient_home"))
    assert not [q for q in captured.captured_queries if q["sql"].startswith("UPDATE") and "django_session" in q["sql"]]


def test_users_see_their_sessions_and_can_end_the_others(patient):
    laptop, phone = Client(), Client()
    log_in(laptop, patient.user)
    log_in(phone, patient.user)
    assert UserSession.objects.filter(user=patient.user).count() == 2

    page = laptop.get(reverse("usersessions_list"))
    assert page.status_code == 200
    response = laptop.post(reverse("usersessions_list"), {"action": "logout"})
    assert response.status_code == 302

    assert phone.get(reverse("patient_home")).status_code == 302  # the phone was signed out
    assert laptop.get(reverse("patient_home")).status_code == 200  # this one stays
    assert UserSession.objects.filter(user=patient.user).count() == 1


def test_deactivating_a_user_ends_all_their_sessions(psychiatrist):
    desk, home = Client(), Client()
    log_in(desk, psychiatrist)
    with later(1):  # a TOTP code opens one session only: the second sign-in uses the next code
        log_in(home, psychiatrist)

    psychiatrist.is_active = False
    psychiatrist.save()

    assert UserSession.objects.filter(user=psychiatrist).count() == 0
    for browser in (desk, home):
        assert browser.get(reverse("psychiatrist_home")).status_code == 302
        assert "_auth_user_id" not in browser.session


def test_a_password_change_signs_out_the_other_sessions(patient):
    from tests.factories import DEMO_LIKE_PASSWORD

    laptop, phone = Client(), Client()
    log_in(laptop, patient.user)
    log_in(phone, patient.user)
    new = "a-much-longer-passphrase-2026"
    response = laptop.post(
        reverse("account_change_password"),
        {"oldpassword": DEMO_LIKE_PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    assert phone.get(reverse("patient_home")).status_code == 302


def reauthenticate(client, url):
    """allauth asks for the password again before any change to MFA."""
    from tests.factories import DEMO_LIKE_PASSWORD

    response = client.get(url)
    if response.status_code == 302 and response["Location"].startswith(reverse("account_reauthenticate")):
        response = client.post(response["Location"], {"password": DEMO_LIKE_PASSWORD})
        assert response["Location"] == url
        response = client.get(url)
    return response


def test_staff_cannot_remove_their_only_authenticator(client, psychiatrist):
    log_in(client, psychiatrist)
    page = reauthenticate(client, reverse("mfa_deactivate_totp"))
    assert page.status_code == 200

    response = client.post(reverse("mfa_deactivate_totp"), {})

    assert response.status_code == 200  # the form again, with the refusal
    assert Authenticator.objects.filter(user=psychiatrist, type=Authenticator.Type.TOTP).exists()


def test_a_patient_may_remove_their_own_second_factor(client, patient):
    from tests.totp import totp_code

    log_in(client, patient.user)
    page = reauthenticate(client, reverse("mfa_activate_totp"))
    client.post(reverse("mfa_activate_totp"), {"code": totp_code(page.context["form"].secret)})
    assert Authenticator.objects.filter(user=patient.user, type=Authenticator.Type.TOTP).exists()

    reauthenticate(client, reverse("mfa_deactivate_totp"))
    response = client.post(reverse("mfa_deactivate_totp"), {})

    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=patient.user, type=Authenticator.Type.TOTP).exists()
