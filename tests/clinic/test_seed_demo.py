from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import CommandError, call_command
from django.urls import reverse

from clinic.demo import DEMO_PASSWORD
from clinic.models import User
from patients.models import Patient
from tests.factories import UserFactory
from tests.totp import totp_code

pytestmark = pytest.mark.django_db


def counts():
    return (User.objects.count(), Patient.objects.count(), Authenticator.objects.count())


def test_seed_creates_the_published_logins_and_is_idempotent():
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")

    assert counts() == first
    assert first[:2] == (5, 32)
    roles = dict(User.objects.values_list("email", "role"))
    assert roles == {
        "psychiatrist@demo.titrate.test": "psychiatrist",
        "psychiatrist2@demo.titrate.test": "psychiatrist",
        "admin@demo.titrate.test": "clinic_admin",
        "patient@demo.titrate.test": "patient",
        "patient2@demo.titrate.test": "patient",
    }
    one = Patient.objects.get(user__email="patient@demo.titrate.test")
    two = Patient.objects.get(user__email="patient2@demo.titrate.test")
    assert one.primary_psychiatrist != two.primary_psychiatrist
    assert Patient.objects.filter(user=None).count() == 30


def test_demo_psychiatrist_logs_in_with_the_readme_totp_secret(client):
    call_command("seed_demo")

    client.post(reverse("account_login"), {"login": "psychiatrist@demo.titrate.test", "password": DEMO_PASSWORD})
    client.post(reverse("mfa_authenticate"), {"code": totp_code("JBSWY3DPEHPK3PXP")})

    assert client.get(reverse("psychiatrist_home")).status_code == 200


def test_refuses_a_database_with_real_users():
    UserFactory(email="real.person@clinic.example")

    with pytest.raises(CommandError, match="looks like real data"):
        call_command("seed_demo")
    assert not User.objects.filter(email__endswith="@demo.titrate.test").exists()


def test_force_seeds_anyway():
    UserFactory(email="real.person@clinic.example")

    call_command("seed_demo", "--force")

    assert User.objects.filter(email__endswith="@demo.titrate.test").count() == 5
