"""Hypothesis profiles for the form fuzzing (tests/conftest.py prints what each form went through).

CI (REQUIRE_SERVICES=1 or CI set) runs the "ci" profile: 200 examples per form, the same
examples every run (derandomized), no deadline (PostgreSQL and a full request per example).
A laptop runs "dev" (25 examples) unless HYPOTHESIS_PROFILE says otherwise.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]

# database=None: derandomized CI runs need no example database, and a laptop run should not
# leave a .hypothesis folder in the work tree; a failure prints its reproducing example.
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_SUPPRESS, print_blob=True)  # fmt: skip
settings.register_profile("dev", max_examples=25, deadline=None, database=None, suppress_health_check=_SUPPRESS)
_CI = os.environ.get("REQUIRE_SERVICES") == "1" or bool(os.environ.get("CI"))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _CI else "dev"))
