"""`manage.py bootstrap_clinic` (issue 19): the first clinic admin from the terminal, under production
settings in a subprocess, writing to this test's PostgreSQL database; the printed link then walks
through the portal: set a password, sign in, set up TOTP."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import connection
from django.urls import reverse

from clinic.models import AuditEvent, ClinicProfile, User
from tests.helpers import manage, production_env, require_service

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a long passphrase for the clinic"
FIRST = [
    "--email=Priya.Sandoval@harbor.example",
    "--first-name=Priya",
    "--last-name=Sandoval",
    "--clinic-name=Harbor Psychiatry",
    "--phone=(508) 555-0199",
    "--time-zone=America/Chicago",
]


def bootstrap(*args: str):
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    s = connection.settings_dict
    password = f":{quote(s['PASSWORD'], safe='')}" if s["PASSWORD"] else ""
    url = f"postgres://{quote(s['USER'], safe='')}{password}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"
    # The link's token is signed with the secret key: the portal under test must share it.
    env = production_env(
        DATABASE_URL=url, TITRATE_BASE_URL="https://titrate.example.org", DJANGO_SECRET_KEY=settings.SECRET_KEY
    )
    return manage("bootstrap_clinic", *args, env=env)


def printed_link(stdout: str) -> str:
    links = re.findall(r"https://titrate\.example\.org/\S+", stdout)
    assert len(links) == 1, stdout
    return links[0]


def test_it_creates_the_admin_and_the_clinic_and_prints_a_one_time_link():
    result = bootstrap(*FIRST)

    assert result.returncode == 0, result.stderr
    admin = User.objects.get()
    assert (admin.email, admin.role, admin.is_superuser, admin.time_zone) == (
        "priya.sandoval@harbor.example",
        User.Role.CLINIC_ADMIN,
        True,
        "America/Chicago",
    )
    assert not admin.has_usable_password()
    assert EmailAddress.objects.filter(user=admin, verified=True, primary=True).count() == 1
    profile = ClinicProfile.objects.get()
    assert (profile.name, profile.phone, profile.time_zone, profile.on_call_id) == (
        "Harbor Psychiatry",
        "(508) 555-0199",
        "America/Chicago",
        admin.pk,
    )
    assert sorted(AuditEvent.objects.values_list("action", "object_type")) == [
        ("create", "clinic.User"),
        ("update", "clinic.ClinicProfile"),
    ]
    assert "authenticator app (TOTP)" in result.stdout
    assert urlsplit(printed_link(result.stdout)).path.startswith("/accounts/password/reset/key/")


def test_the_link_sets_a_password_once_then_sign_in_asks_for_totp(client):
    path = urlsplit(printed_link(bootstrap(*FIRST).stdout)).path

    # allauth moves the key into the session, then shows the form on a key-less address.
    response = client.get(path)
    assert response.status_code == 302
    form_url = response["Location"]
    response = client.post(form_url, {"password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    assert User.objects.get().has_usable_password()

    response = client.post(reverse("account_login"), {"login": "priya.sandoval@harbor.example", "password": PASSWORD})
    assert response.status_code == 302
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_activate_totp"))

    client.logout()
    response = client.get(path, follow=True)
    assert response.status_code == 200
    assert response.context["token_fail"] is True


def test_a_second_run_refuses_and_says_what_exists():
    assert bootstrap(*FIRST).returncode == 0

    result = bootstrap("--email=someone.else@harbor.example", "--clinic-name=Other", "--phone=(508) 555-0123")

    assert result.returncode == 1
    assert "already set up; nothing was changed" in result.stderr
    assert "priya.sandoval@harbor.example (never signed in)" in result.stderr
    assert "Harbor Psychiatry, (508) 555-0199, America/Chicago" in result.stderr
    assert User.objects.count() == 1
    assert ClinicProfile.objects.get().name == "Harbor Psychiatry"


def test_bad_values_are_all_named_and_nothing_is_created():
    result = bootstrap("--email=not-an-email", "--clinic-name=Harbor", "--phone=12", "--time-zone=Mars/Olympus")

    assert result.returncode == 1
    for option in ("--email", "--phone", "--time-zone"):
        assert f"  {option}: " in result.stderr
    assert (User.objects.count(), ClinicProfile.objects.count(), AuditEvent.objects.count()) == (0, 0, 0)


def test_missing_options_are_named():
    result = bootstrap("--email=priya@harbor.example")

    assert result.returncode == 1
    assert "Missing --clinic-name, --phone" in result.stderr
    assert User.objects.count() == 0


def test_a_new_link_only_until_the_admin_first_signs_in():
    assert bootstrap(*FIRST).returncode == 0

    again = bootstrap("--new-link", "priya.sandoval@harbor.example")
    assert again.returncode == 0, again.stderr
    assert printed_link(again.stdout).startswith("https://titrate.example.org/accounts/password/reset/key/")

    User.objects.filter(email="priya.sandoval@harbor.example").update(last_login="2026-01-05T10:00:00Z")
    refused = bootstrap("--new-link", "priya.sandoval@harbor.example")
    assert refused.returncode == 1
    assert "has signed in before" in refused.stderr
    assert bootstrap("--new-link", "nobody@harbor.example").returncode == 1
