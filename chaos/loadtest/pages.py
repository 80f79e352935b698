"""Every page the virtual users open, by the name it is reported under.

Plain data (no Django import): the locustfile runs under gevent in its own process and never sets
Django up. tests/test_loadtest.py checks each path against the URLconf with reverse(), so a
renamed or moved page fails a fast test instead of a load run answering 404s.

Each entry: report name -> (path with ``{placeholders}``, URL name, the URL's kwargs by
placeholder). The report name is the page type in the summary; a form and its submission are two
page types (the GET and the POST cost differently).
"""

from __future__ import annotations

PAGES: dict[str, tuple[str, str, dict[str, str]]] = {
    # Signing in (every role): the password step; staff also the TOTP step.
    "sign-in: login page": ("/accounts/login/", "account_login", {}),
    "sign-in: password": ("/accounts/login/", "account_login", {}),
    "sign-in: TOTP page": ("/accounts/2fa/authenticate/", "mfa_authenticate", {}),
    "sign-in: TOTP code": ("/accounts/2fa/authenticate/", "mfa_authenticate", {}),
    # Patients.
    "patient: home": ("/my/", "patient_home", {}),
    "patient: medicines": ("/my/medicines/", "medications:my_medicines", {}),
    "patient: messages": ("/my/messages/", "medications:my_messages", {}),
    "patient: side-effect form": ("/my/side-effects/new/", "medications:my_report_create", {}),
    "patient: side-effect report sent": ("/my/side-effects/new/", "medications:my_report_create", {}),
    "patient: questionnaires": ("/patients/me/questionnaires/", "patients:my_questionnaires", {}),
    "patient: questionnaire form": (
        "/patients/me/questionnaires/{assignment}/",
        "patients:my_questionnaire_fill",
        {"assignment_id": "assignment"},
    ),
    "patient: questionnaire sent": (
        "/patients/me/questionnaires/{assignment}/",
        "patients:my_questionnaire_fill",
        {"assignment_id": "assignment"},
    ),
    "patient: booking page": ("/my/appointments/book/", "appointments:my_book", {}),
    "patient: booking sent": ("/my/appointments/book/", "appointments:my_book", {}),
    # Psychiatrists.
    "psychiatrist: home": ("/psychiatrist/", "psychiatrist_home", {}),
    "psychiatrist: chart": ("/patients/{patient}/", "patients:chart", {"pk": "patient"}),
    "psychiatrist: side-effect inbox": ("/side-effects/", "medications:inbox", {}),
    "psychiatrist: messages inbox": ("/messages/", "medications:message_inbox", {}),
    "psychiatrist: visit note form": (
        "/patients/{patient}/visits/new/",
        "appointments:visit_create",
        {"pk": "patient"},
    ),
    "psychiatrist: visit note saved": (
        "/patients/{patient}/visits/new/",
        "appointments:visit_create",
        {"pk": "patient"},
    ),
    # Clinic admins.
    "admin: front desk": ("/front-desk/", "front_desk_home", {}),
    "admin: week calendar": ("/front-desk/calendar/", "appointments:week", {}),
    "admin: booking form": ("/appointments/new/", "appointments:book", {}),
    "admin: booking saved": ("/appointments/new/", "appointments:book", {}),
    # The bench's floor (bench/urls.py; loadtest.settings serves it): throughput under this harness.
    "floor": ("/bench/floor/", "bench_floor", {}),
}


def path(name: str, **values: object) -> str:
    """The path of page ``name`` with its placeholders filled: path("psychiatrist: chart", patient=4)."""
    return PAGES[name][0].format(**values)
