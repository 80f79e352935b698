"""seed_demo refuses a database that holds real users unless told --force. These tests need a
database without the demo, so they do not share test_seed_demo.py's seeded clinic."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from clinic.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_refuses_a_database_with_real_users():
    UserFactory(email="real.person@clinic.example")

    with pytest.raises(CommandError, match="looks like real data"):
        call_command("seed_demo")
    assert not User.objects.filter(email__endswith="@demo.titrate.test").exists()


def test_force_seeds_anyway():
    UserFactory(email="real.person@clinic.example")

    call_command("seed_demo", "--force")

    assert User.objects.filter(email__endswith="@demo.titrate.test").count() == 5
