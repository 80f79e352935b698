"""A TOTP code opens one session: refused in any other for as long as the clock would accept it
(issue 18 item 2; RFC 6238 §5.2, ASVS 6.5.1)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from clinic.mfa_forms import CODE_ALREADY_USED
from clinic.models import AuditEvent
from tests.factories import DEMO_LIKE_PASSWORD, TOTP_SECRET
from tests.totp import totp_code

pytestmark = pytest.mark.django_db

STEP = 30
# The start of a 30 s step (divisible by 30), in a quiet hour.
T0 = datetime.datetime(2026, 3, 2, 14, 0, 0, tzinfo=datetime.UTC)


@pytest.fixture
def clock_driven_cache(settings):
    # allauth's own used-code memory lives in the cache with a 30 s expiry. Redis counts that
    # expiry on its own clock, which time-machine cannot move, so under Redis the memory would
    # outlast the travelled window and hide the replay; the local-memory cache expires keys by
    # time.time(), the travelled clock, as production's Redis does in real time.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Rate limits off, so that every refusal below is the replay rule's and not the
    # five-failures-per-account limit's.
    settings.ACCOUNT_RATE_LIMITS = False


def second_factor(user, code: str):
    """A fresh browser: the password, then ``code``. Returns the MFA step's response."""
    client = Client()
    response = client.post(reverse("account_login"), {"login": user.email, "password": DEMO_LIKE_PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    response.signed_in = client.session.get("_auth_user_id") == str(user.pk)
    return response


def refused_as_used(response) -> bool:
    # Within 30 s of its use allauth's own cache memory refuses the code first ("Incorrect code.");
    # after that, ours does.
    page = response.content.decode()
    return CODE_ALREADY_USED in page or "Incorrect code." in page


def accepted_by_the_clock(code: str, at: float) -> bool:
    """Whether a one-step-drift verifier would take ``code`` at ``at`` (tests/totp.py's own maths)."""
    return any(totp_code(TOTP_SECRET, at + drift) == code for drift in (-STEP, 0, STEP))


@pytest.mark.usefixtures("clock_driven_cache")
def test_a_used_code_is_refused_in_a_second_session_for_its_whole_window(psychiatrist):
    start = T0.timestamp()
    # The code of the step after T0's, used at the first moment the drift tolerance takes it: it
    # stays acceptable to the clock for three steps, 90 s.
    code = totp_code(TOTP_SECRET, start + STEP)
    with time_machine.travel(T0, tick=False) as traveller:
        first = second_factor(psychiatrist, code)
        assert first.status_code == 302 and first.signed_in

        probes = [*range(0, 3 * STEP, 5), STEP - 1, STEP, 2 * STEP - 1, 2 * STEP, 3 * STEP - 1]
        for offset in sorted(set(probes)):
            traveller.move_to(T0 + datetime.timedelta(seconds=offset))
            assert accepted_by_the_clock(code, start + offset), offset
            replay = second_factor(psychiatrist, code)
            assert not replay.signed_in, f"the code opened a second session {offset} s after the first"
            assert replay.status_code == 200 and refused_as_used(replay), offset

        # Past the window the clock itself refuses it, and the current code still works.
        traveller.move_to(T0 + datetime.timedelta(seconds=3 * STEP))
        assert not accepted_by_the_clock(code, start + 3 * STEP)
        assert not second_factor(psychiatrist, code).signed_in
        fresh = second_factor(psychiatrist, totp_code(TOTP_SECRET, start + 3 * STEP))
        assert fresh.status_code == 302 and fresh.signed_in

    refusals = AuditEvent.objects.filter(actor=psychiatrist, action=AuditEvent.Action.MFA_FAILED)
    assert refusals.count() == len(set(probes)) + 1
    assert AuditEvent.objects.filter(actor=psychiatrist, action=AuditEvent.Action.MFA_USED).count() == 2


@pytest.mark.usefixtures("clock_driven_cache")
def test_a_code_from_a_step_before_the_last_accepted_one_is_refused(psychiatrist):
    # Codes are accepted in order: once the next step's code signed in, the current step's
    # (still inside the drift tolerance) cannot open another session either.
    start = T0.timestamp()
    with time_machine.travel(T0 + datetime.timedelta(seconds=10), tick=False):
        assert second_factor(psychiatrist, totp_code(TOTP_SECRET, start + STEP)).signed_in
        earlier = second_factor(psychiatrist, totp_code(TOTP_SECRET, start))
        assert not earlier.signed_in
        assert CODE_ALREADY_USED in earlier.content.decode()


@pytest.mark.usefixtures("clock_driven_cache")
def test_reauthentication_cannot_reuse_the_sign_in_code(client, psychiatrist):
    start = T0.timestamp()
    code = totp_code(TOTP_SECRET, start)
    with time_machine.travel(T0 + datetime.timedelta(seconds=5), tick=False) as traveller:
        client.post(reverse("account_login"), {"login": psychiatrist.email, "password": DEMO_LIKE_PASSWORD})
        assert client.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302
        traveller.move_to(T0 + datetime.timedelta(seconds=40))
        response = client.post(reverse("mfa_reauthenticate"), {"code": code})
        assert response.status_code == 200
        assert CODE_ALREADY_USED in response.content.decode()
        assert (
            client.post(reverse("mfa_reauthenticate"), {"code": totp_code(TOTP_SECRET, start + STEP)}).status_code
            == 302
        )
