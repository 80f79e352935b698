"""Issue 18, item 4: the client address comes from a configured count of trusted proxies, and
only failed sign-ins spend a budget — thirty correct sign-ins from one address all succeed."""

from __future__ import annotations

import pytest
from allauth.account.adapter import get_adapter
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse

from clinic import audit
from clinic.models import AuditEvent
from tests.factories import DEMO_LIKE_PASSWORD, PatientUserFactory

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"
TOO_MANY = b"Too many failed login attempts. Try again later."


def behind_proxy(client_address: str, forged: str = "") -> Client:
    """A browser at ``client_address`` reaching gunicorn through one proxy of ours, which appends
    the address it saw to whatever X-Forwarded-For the browser sent."""
    chain = f"{forged}, {client_address}" if forged else client_address
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=chain)


def post_login(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password})


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        (0, "198.51.100.7", PROXY),  # no proxy configured: the header is ignored
        (1, "", PROXY),
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "203.0.113.9, 198.51.100.7", "198.51.100.7"),  # the left entry is the browser's own claim
        (2, "203.0.113.9, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (2, "198.51.100.7", "198.51.100.7"),  # one hop short: every entry is still ours
        (1, "not-an-address", PROXY),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address_counts_trusted_proxies_from_the_right(settings, trusted, forwarded, expected):
    settings.TITRATE_TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)

    assert audit.client_ip(request) == expected
    assert get_adapter(request).get_client_ip(request) == expected


def test_thirty_correct_logins_from_one_address_all_succeed(db):
    users = PatientUserFactory.create_batch(31)
    for user in users:
        response = post_login(Client(REMOTE_ADDR=PROXY), user.email, DEMO_LIKE_PASSWORD)
        assert response.status_code == 302, response.content[:300]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN).count() == 31


def test_sign_ins_in_flight_at_once_spend_no_address_budget(db):
    """Thirty sign-ins that have passed the rate-limit check and not finished checking their
    password (what thirty browsers pressing "Sign in" at 8:00 look like to the server)."""
    users = PatientUserFactory.create_batch(30)
    request = RequestFactory().post(reverse("account_login"), REMOTE_ADDR=PROXY)
    refused = 0
    for user in users:
        try:
            get_adapter(request).pre_authenticate(request, email=user.email, password=DEMO_LIKE_PASSWORD)
        except ValidationError:
            refused += 1
    assert refused == 0


def test_failures_behind_the_proxy_lock_out_their_own_address_only(settings):
    settings.TITRATE_TRUSTED_PROXIES = 1
    victim, other = PatientUserFactory.create_batch(2)
    attacker = behind_proxy("203.0.113.66")
    # Ten wrong passwords over several accounts (the per-account limit is 5), from one browser.
    targets = PatientUserFactory.create_batch(5)
    for n in range(10):
        post_login(attacker, targets[n % 5].email, f"wrong-guess-{n}")

    assert TOO_MANY in post_login(attacker, victim.email, DEMO_LIKE_PASSWORD).content
    # The rest of the clinic, behind the same proxy, signs in; a forged header changes nothing.
    assert post_login(behind_proxy("198.51.100.7"), victim.email, DEMO_LIKE_PASSWORD).status_code == 302
    forged = behind_proxy("203.0.113.66", forged="198.51.100.8")
    assert TOO_MANY in post_login(forged, other.email, DEMO_LIKE_PASSWORD).content
    rows = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED)
    assert set(rows.values_list("ip_address", flat=True)) == {"203.0.113.66"}


def test_only_failures_are_counted(db):
    users = PatientUserFactory.create_batch(3)
    client = Client(REMOTE_ADDR=PROXY)
    # Nine failures and any number of successes: the tenth failure is still allowed.
    for n in range(9):
        post_login(client, users[n % 3].email, f"wrong-guess-{n}")
        assert post_login(Client(REMOTE_ADDR=PROXY), users[n % 3].email, DEMO_LIKE_PASSWORD).status_code == 302
    response = post_login(client, users[0].email, "wrong-guess-10")
    assert TOO_MANY not in response.content
    assert TOO_MANY in post_login(client, users[1].email, DEMO_LIKE_PASSWORD).content
