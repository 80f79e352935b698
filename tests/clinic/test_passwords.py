"""Password policy by role (ASVS 6.2) and re-authentication before account changes (ASVS 7.5.1)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tests.factories import DEMO_LIKE_PASSWORD
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def errors(password: str, user) -> list[str]:
    try:
        validate_password(password, user)
    except ValidationError as error:
        return [e.code for e in error.error_list]
    return []


def test_staff_need_twelve_characters_patients_eight(patient, psychiatrist, clinic_admin):
    for staff in (psychiatrist, clinic_admin):
        assert errors("plum-kite-9x", staff) == []  # 12
        assert errors("plum-kite-9", staff) == ["password_too_short"]  # 11
    assert errors("plumkite", patient.user) == []  # 8
    assert errors("plumkit", patient.user) == ["password_too_short"]  # 7


def test_a_patient_with_django_admin_access_counts_as_staff(patient):
    patient.user.is_staff = True
    assert errors("plumkite", patient.user) == ["password_too_short"]


def test_no_user_gets_the_staff_rule():
    assert errors("plumkite", None) == ["password_too_short"]


def test_no_composition_rules_but_common_passwords_and_overlong_ones_are_refused(patient):
    assert errors("correct horse battery staple", patient.user) == []  # lowercase words only
    assert errors("password", patient.user) == ["password_too_common"]
    assert errors("314159265358", patient.user) == ["password_entirely_numeric"]
    assert errors("a" * 64 + "b" * 64, patient.user) == []  # 128: long passphrases are welcome
    assert errors("ab" * 64 + "c", patient.user) == ["password_too_long"]


def test_patient_changes_password_to_an_eight_character_one(client, patient):
    log_in(client, patient.user)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": DEMO_LIKE_PASSWORD, "password1": "plumkite", "password2": "plumkite"},
    )
    assert response.status_code == 302
    patient.user.refresh_from_db()
    assert patient.user.check_password("plumkite")


def test_staff_password_change_explains_the_twelve_character_rule(client, psychiatrist):
    log_in(client, psychiatrist)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": DEMO_LIKE_PASSWORD, "password1": "plum-kite-9", "password2": "plum-kite-9"},
    )
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
    psychiatrist.refresh_from_db()
    assert psychiatrist.check_password(DEMO_LIKE_PASSWORD)


def test_password_change_needs_the_current_password(client, patient):
    log_in(client, patient.user)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": "not-my-password", "password1": "plumkite-new", "password2": "plumkite-new"},
    )
    assert response.status_code == 200
    patient.user.refresh_from_db()
    assert patient.user.check_password(DEMO_LIKE_PASSWORD)


def test_adding_an_email_address_asks_for_the_password_again(client, patient):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        log_in(client, patient.user)
        # The login itself counts for 5 minutes; after that, an email change asks again.
        traveller.move_to(start + datetime.timedelta(minutes=6))
        response = client.post(reverse("account_email"), {"action_add": "", "email": "second@example.test"})
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_reauthenticate"))
        assert not EmailAddress.objects.filter(email="second@example.test").exists()

        response = client.post(response["Location"], {"password": DEMO_LIKE_PASSWORD})
        assert response.status_code == 302
        # allauth replays the pending action after a successful reauthentication.
        assert EmailAddress.objects.filter(user=patient.user, email="second@example.test").exists()
