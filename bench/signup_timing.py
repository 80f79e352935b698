"""Sign-up timing, new address against one that has an account, with the production password
hasher (issue 18: 30 ms against 470 ms before). Medians over repeated tries; informational, it
asserts nothing (tests/clinic/test_signup.py checks the same work is done on both paths).

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python -m bench.signup_timing [tries]

It creates and drops its own test database (Django's test runner), so it never touches real data.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings_test")

import django  # noqa: E402

django.setup()

from django.test import Client, override_settings  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402

PASSPHRASE = "a-long-enough-passphrase"


def sign_up(email: str) -> float:
    started = time.perf_counter()
    response = Client().post(
        reverse("account_signup"), {"email": email, "password1": PASSPHRASE, "password2": PASSPHRASE}
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 302:
        raise SystemExit(f"sign-up of {email} answered {response.status_code}")
    return elapsed


def main(tries: int) -> None:
    from clinic.settings import ACCOUNT_RATE_LIMITS

    # Production's hasher (the test settings use MD5); no sign-up rate limit for the repeated tries.
    with override_settings(
        TITRATE_SIGNUP_OPEN=True,
        PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
        ACCOUNT_RATE_LIMITS={**ACCOUNT_RATE_LIMITS, "signup": ""},
    ):
        sign_up("taken@example.test")  # the account the "existing" tries collide with
        new, known = [], []
        for n in range(tries):
            new.append(sign_up(f"fresh{n}@example.test"))
            known.append(sign_up("taken@example.test"))
    for label, times in (("new address", new), ("existing address", known)):
        print(f"{label:17} median {statistics.median(times) * 1000:7.1f} ms  (n={len(times)})")


if __name__ == "__main__":
    setup_test_environment()
    runner = DiscoverRunner(verbosity=0)
    old = runner.setup_databases()
    try:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
    finally:
        runner.teardown_databases(old)
        teardown_test_environment()
