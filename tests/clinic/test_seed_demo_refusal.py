"""The demo clinic stays out of production (issue 19): seed_demo refuses production settings and a
database holding real users or patients, and demo logins cannot sign in under production settings.
These tests need a database without the demo, so they do not share test_seed_demo.py's seeded
clinic. The test settings allow the demo (clinic/settings_test.py); TITRATE_DEMO_ALLOWED=False is
what DJANGO_DEBUG=false gives, as the subprocess test shows."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from clinic.models import User
from tests.factories import PatientFactory, PsychiatristFactory, UserFactory
from tests.helpers import log_in, manage, production_env

pytestmark = pytest.mark.django_db

PRODUCTION = override_settings(TITRATE_DEMO_ALLOWED=False)


def demo_users() -> int:
    return User.objects.filter(email__endswith="@demo.titrate.test").count()


def test_refuses_a_database_with_real_users():
    UserFactory(email="real.person@clinic.example")

    with pytest.raises(CommandError, match="1 user\\(s\\) and 0 patient\\(s\\) that are not demo rows"):
        call_command("seed_demo")
    assert demo_users() == 0


def test_refuses_a_database_with_real_patients_even_when_every_user_is_a_demo_one():
    PatientFactory(primary_psychiatrist=PsychiatristFactory(email="psychiatrist@demo.titrate.test"))

    with pytest.raises(CommandError, match="0 user\\(s\\) and 1 patient\\(s\\) that are not demo rows"):
        call_command("seed_demo")
    assert demo_users() == 1


def test_force_seeds_a_development_database_anyway():
    UserFactory(email="real.person@clinic.example")

    call_command("seed_demo", "--force")

    assert demo_users() == 5


@PRODUCTION
def test_production_settings_refuse_even_with_force_on_an_empty_database():
    with pytest.raises(CommandError, match="DJANGO_DEBUG is off"):
        call_command("seed_demo", "--force")
    assert User.objects.count() == 0


def test_debug_off_refuses_in_a_real_process(tmp_path):
    # Refused before the database is read: this one has no tables at all.
    result = manage("seed_demo", "--force", env=production_env(DATABASE_URL=f"sqlite:///{tmp_path}/empty.sqlite3"))

    assert result.returncode == 1
    assert "DJANGO_DEBUG is off: these are production settings" in result.stderr
    assert "bootstrap_clinic" in result.stderr


def test_demo_login_is_refused_under_production_settings(client):
    demo = PsychiatristFactory(email="psychiatrist@demo.titrate.test")
    real = PsychiatristFactory(email="dr.real@clinic.example")

    with PRODUCTION:
        response = client.post(reverse("account_login"), {"login": demo.email, "password": "correct-horse-battery-9"})
        assert response.status_code == 302
        assert response["Location"] == reverse("account_inactive")
        assert "_auth_user_id" not in client.session

        log_in(client, real)
        assert int(client.session["_auth_user_id"]) == real.pk


def test_a_demo_session_ends_when_production_settings_apply(client):
    demo = PsychiatristFactory(email="psychiatrist@demo.titrate.test")
    log_in(client, demo)
    assert client.get(reverse("home"))["Location"] == reverse("psychiatrist_home")

    with PRODUCTION:
        response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
