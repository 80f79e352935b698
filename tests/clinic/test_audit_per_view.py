"""AUD-1/AUD-2: every page that shows or changes PHI writes exactly one audit row.

Driven by ROUTES of the access matrix: every route is classified below, so a new URL
must be decided here too (``test_every_route_is_classified``).

- ``PATIENT``: the page is about one patient (the world's patient): one row whose
  ``patient`` is that patient.
- ``LIST``: the page lists several patients (home pages, inbox, registry, day view):
  one ``view`` row with no ``patient`` and ``detail = {"page": <name>, "patient_ids":
  [...]}`` naming every patient shown (possibly none). The privacy-officer view and its
  "by patient" filter read those ids too.
- ``NOT_PHI``: no patient data is shown or changed (forms without data, settings of
  one's own, redirects, health checks); 0 rows.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.models import AuditEvent
from tests import clinical_world
from tests.conftest import log_in
from tests.test_access_matrix import ROUTES, resolve

pytestmark = pytest.mark.django_db

PATIENT = "patient"
LIST = "list"
NOT_PHI = "not_phi"

CLASS = {
    "home": NOT_PHI,  # a redirect to the role's home page
    "healthz": NOT_PHI,
    "psychiatrist_home": LIST,
    "patient_home": PATIENT,
    "front_desk_home": LIST,
    "patients:search": LIST,
    "patients:registry": LIST,
    "patients:register": NOT_PHI,  # the empty form (POST: one "create" row, tested below)
    "medications:inbox": LIST,
    "medications:my_report_create": PATIENT,
    "medications:my_report_sent": NOT_PHI,  # a thank-you page
    "appointments:week": LIST,
    "appointments:day": LIST,
    "appointments:availability": NOT_PHI,  # a psychiatrist's working hours
    "appointments:book": NOT_PHI,  # the empty form; a booking writes one "create" row
    "appointments:my_appointments": PATIENT,
    "appointments:my_book": NOT_PHI,  # free slots only
    "appointments:my_waitlist": NOT_PHI,
    "appointments:my_feed": NOT_PHI,  # the psychiatrist's calendar-link settings
    "appointments:ics_feed": NOT_PHI,  # audited as no patient: times and initials only
    "notifications": NOT_PHI,  # in-app messages carry no clinical text
    "reminder_preferences": NOT_PHI,
    "delivery_report": NOT_PHI,  # counts by status and channel
    "appointment_action": NOT_PHI,
    "patients:my_questionnaires": PATIENT,
    "alerts": LIST,
    "alerts_on_call": LIST,
}

PERSONA_FOR_KIND = {
    "psychiatrist_patient": "psychiatrist",
    "staff_patient": "psychiatrist",
    "patient_own": "patient",
    "patient": "patient",
    "psychiatrist": "psychiatrist",
    "staff": "clinic_admin",
    "clinic_admin": "clinic_admin",
    "logged_in": "patient",
    "public": "anonymous",
    "privacy_officer": "privacy_officer",
}


def classification(name: str) -> str:
    if name in CLASS:
        return CLASS[name]
    if ROUTES[name].kind in ("psychiatrist_patient", "staff_patient", "patient_own"):
        return PATIENT
    raise KeyError(name)


def test_every_route_is_classified():
    unclassified = []
    for name in ROUTES:
        try:
            classification(name)
        except KeyError:
            unclassified.append(name)
    assert unclassified == []


@pytest.fixture
def people(db, patient, psychiatrist, clinic_admin):
    from tests.factories import ClinicAdminFactory

    officer = ClinicAdminFactory()
    from django.contrib.auth.models import Permission

    officer.user_permissions.add(Permission.objects.get(codename="view_audit_log", content_type__app_label="clinic"))
    return {
        "anonymous": None,
        "patient": patient.user,
        "psychiatrist": psychiatrist,
        "clinic_admin": clinic_admin,
        "privacy_officer": officer,
    }


GET_CASES = sorted(name for name, route in ROUTES.items() if not route.post_only and "get" in route.methods)


@pytest.mark.parametrize("name", GET_CASES)
def test_get_writes_one_audit_row(client, people, patient, psychiatrist, name):
    route = ROUTES[name]
    world = clinical_world.build(patient, psychiatrist)
    url = reverse(name, args=[resolve(world, path) for path in route.args])
    user = people[PERSONA_FOR_KIND[route.kind]]
    if user is not None:
        log_in(client, user)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = client.get(url)

    assert response.status_code in (200, 302), response.status_code
    rows = list(AuditEvent.objects.filter(id__gt=last))
    kind = classification(name)
    if kind == NOT_PHI:
        assert rows == []
        return
    assert len(rows) == 1, [(r.action, r.object_type, r.detail) for r in rows]
    row = rows[0]
    assert row.action in (AuditEvent.Action.VIEW, AuditEvent.Action.EXPORT)
    assert row.actor == user
    if kind == PATIENT:
        assert row.patient == patient
    else:
        assert row.patient is None
        assert "patient_ids" in row.detail
        assert all(isinstance(pk, int) for pk in row.detail["patient_ids"])
