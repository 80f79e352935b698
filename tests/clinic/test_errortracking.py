"""Error tracking and error emails without patient data (clinic/errortracking.py, AUD-5): Sentry's
before_send scrubber, its settings when SENTRY_DSN is set, the cron monitors for the safety tasks
only, ADMINS from the environment (the error email to them: tests/test_phi_marker.py)."""

from __future__ import annotations

import json

from sentry_sdk.utils import match_regex_list

from clinic.errortracking import monitor_only, scrub
from clinic.schedules import PERIODIC_TASKS, SAFETY_TASKS
from tests.factories import PHI_MARKER
from tests.helpers import manage, production_env


def sentry_event() -> dict:
    """An event as sentry-sdk's Django integration builds it for a failed form post."""
    return {
        "level": "error",
        "request": {
            "url": "https://titrate.example.org/calendar/feed-secret.ics?patient=Ann",
            "method": "POST",
            "query_string": "patient=Ann+Example",
            "data": {"presenting_symptoms": f"Grief for {PHI_MARKER}"},
            "cookies": {"sessionid": "abc", "csrftoken": "def"},
            "headers": {"Cookie": "sessionid=abc", "User-Agent": "Firefox", "Referer": "/patients/7/?q=Ann"},
            "env": {"REMOTE_ADDR": "203.0.113.9"},
        },
        "user": {"id": "42", "email": "ann@example.org", "username": "ann@example.org", "ip_address": "203.0.113.9"},
        "logentry": {"message": "Not Found: /accounts/confirm-email/KEY123/", "params": [PHI_MARKER]},
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "value": "bad link /shared/token-abc",
                    "stacktrace": {"frames": [{"function": "save", "vars": {"note": f"{PHI_MARKER} notes"}}]},
                }
            ]
        },
        "breadcrumbs": {"values": [{"message": "GET /a/one-click-secret", "data": {"patient": PHI_MARKER}}]},
        "extra": {"patient_name": PHI_MARKER},
    }


def test_the_scrubber_drops_bodies_cookies_query_strings_and_emails():
    event = scrub(sentry_event(), {})

    request = event["request"]
    assert set(request) == {"url", "method", "headers"}
    assert request["url"] == "https://titrate.example.org/calendar/[masked].ics"
    assert request["headers"] == {"User-Agent": "Firefox"}
    assert event["user"] == {"id": "42"}
    assert event["logentry"] == {"message": "Not Found: /accounts/confirm-email/[masked]/"}
    exception = event["exception"]["values"][0]
    assert exception["value"] == "bad link /shared/[masked]"
    assert exception["stacktrace"]["frames"] == [{"function": "save"}]
    assert event["breadcrumbs"]["values"] == [{"message": "GET /a/[masked]"}]
    assert "extra" not in event
    text = json.dumps(event)
    assert PHI_MARKER not in text and "ann@example.org" not in text and "sessionid" not in text


def test_the_scrubber_keeps_an_event_without_a_request_or_user():
    assert scrub({"level": "error", "message": "beat missed"}, None) == {"level": "error", "message": "beat missed"}


def test_cron_monitors_are_for_the_safety_tasks_only():
    excluded = monitor_only(SAFETY_TASKS)

    for name in PERIODIC_TASKS:
        assert match_regex_list(name, excluded) is (name not in SAFETY_TASKS), name
    assert match_regex_list("celery.backend_cleanup", excluded) is True
    assert match_regex_list("Dispatch notifications twice", excluded) is True


SHOW_SETTINGS = (
    "import json, sentry_sdk; from django.conf import settings; o = sentry_sdk.get_client().options; "
    "print(json.dumps({'admins': settings.ADMINS, 'active': sentry_sdk.get_client().is_active(), "
    "'pii': o.get('send_default_pii'), 'locals': o.get('include_local_variables'), "
    "'before_send': getattr(o.get('before_send'), '__qualname__', None), "
    "'integrations': sorted(sentry_sdk.get_client().integrations), 'env': o.get('environment')}))"
)


def test_sentry_and_admins_come_from_the_environment():
    env = production_env(
        SENTRY_DSN="https://public@o0.ingest.sentry.invalid/1",
        DJANGO_ADMINS="ops@example.org,oncall@example.org",
    )
    result = manage("shell", "-c", SHOW_SETTINGS, env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])

    assert shown["admins"] == [["ops@example.org", "ops@example.org"], ["oncall@example.org", "oncall@example.org"]]
    assert (shown["active"], shown["pii"], shown["locals"], shown["env"]) == (True, False, False, "production")
    assert shown["before_send"] == "scrub"
    assert {"django", "celery"} <= set(shown["integrations"])

    off = json.loads(manage("shell", "-c", SHOW_SETTINGS, env=production_env()).stdout.strip().splitlines()[-1])
    assert (off["active"], off["admins"]) == (False, [])
