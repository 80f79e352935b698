"""Issue 18, item 6: public sign-up is off by default, and when a clinic opens it, it answers an
address that has an account exactly as a new one: the same page, one email, the same hashing work."""

from __future__ import annotations

import statistics
import time

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.test import Client
from django.urls import reverse

from clinic.models import User

pytestmark = pytest.mark.django_db

PASSPHRASE = "a-long-enough-passphrase"
HASH_SECONDS = 0.08


class CountingHasher(MD5PasswordHasher):
    """The test suite's hasher, counting its work and taking a fixed time for it, as PBKDF2 does
    in production (hundreds of milliseconds)."""

    algorithm = "counting_md5"
    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        time.sleep(HASH_SECONDS)
        return super().encode(password, salt)


@pytest.fixture
def open_signup(settings):
    settings.TITRATE_SIGNUP_OPEN = True
    settings.PASSWORD_HASHERS = ["tests.clinic.test_signup.CountingHasher"]
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": ""}  # many tries below


def sign_up(email: str):
    return Client().post(reverse("account_signup"), {"email": email, "password1": PASSPHRASE, "password2": PASSPHRASE})


def test_sign_up_is_closed_by_default(client, db):
    before = User.objects.count()

    page = client.get(reverse("account_signup"))
    posted = client.post(reverse("account_signup"), {"email": "new@example.test", "password1": PASSPHRASE})

    assert page.status_code == posted.status_code == 200
    assert "Accounts come from the clinic" in posted.content.decode()
    assert User.objects.count() == before
    assert mail.outbox == []
    login = client.get(reverse("account_login")).content.decode()
    assert reverse("account_signup") not in login
    assert "get their sign-in from the clinic" in login


def test_a_clinic_can_open_it(client, open_signup):
    assert reverse("account_signup") in client.get(reverse("account_login")).content.decode()
    assert sign_up("new.person@example.test").status_code == 302
    assert User.objects.filter(email="new.person@example.test", role=User.Role.PATIENT).exists()


@pytest.mark.parametrize("who", ["patient", "psychiatrist"])
def test_an_existing_address_gets_the_same_answer_email_and_work_as_a_new_one(open_signup, patient, psychiatrist, who):
    existing = patient.user.email if who == "patient" else psychiatrist.email
    answers = {}
    for label, email in (("new", "someone.new@example.test"), ("existing", existing)):
        mail.outbox.clear()
        CountingHasher.calls = 0
        response = sign_up(email)
        answers[label] = (response.status_code, response["Location"], CountingHasher.calls, [m.to for m in mail.outbox])

    # The same redirect and one password hash each; then one email, to the address, either way.
    assert answers["new"][:3] == answers["existing"][:3] == (302, reverse("account_email_verification_sent"), 1)
    assert answers["new"][3] == [["someone.new@example.test"]]
    assert answers["existing"][3] == [[existing]]


def test_median_times_are_alike(open_signup, patient):
    """Medians over repeated tries, with the hashing cost fixed: no wall-clock threshold, only the
    two paths against each other (before issue 18 the known address skipped the hash entirely)."""
    new, known = [], []
    for n in range(5):
        for times, email in ((new, f"fresh{n}@example.test"), (known, patient.user.email)):
            started = time.perf_counter()
            assert sign_up(email).status_code == 302
            times.append(time.perf_counter() - started)

    fast, slow = sorted([statistics.median(new), statistics.median(known)])
    assert fast > slow / 2, (statistics.median(new), statistics.median(known))
