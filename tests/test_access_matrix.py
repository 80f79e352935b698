"""Every URL of ours, tried by every persona, with every method it takes.

A new URL without an entry in ROUTES fails `test_every_url_has_an_entry`: access is
decided on purpose, never by omission. For "not yours" the answer is 404 and nothing
changes in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from appointments.models import Appointment, VisitNote, WeeklyAvailability
from medications.models import DosePlanStep, Prescription, PrescriptionEvent, SideEffectReport
from patients.models import Addendum, Allergy, Diagnosis, Evaluation, Patient
from tests import clinical_world
from tests.conftest import log_in

PERSONAS = ["anonymous", "patient", "other_patient", "psychiatrist", "other_psychiatrist", "clinic_admin"]

# Who gets what, by kind of page. "ok" means 200 or a redirect the page itself chose.
ACCESS = {
    "public": dict.fromkeys(PERSONAS, "ok"),
    "logged_in": {"anonymous": "login", **dict.fromkeys(PERSONAS[1:], "ok")},
    "psychiatrist": {
        "anonymous": "login",
        "patient": 403,
        "other_patient": 403,
        "psychiatrist": "ok",
        "other_psychiatrist": "ok",
        "clinic_admin": 403,
    },
    # Takes the first patient's id: the other psychiatrist is not on the care team.
    "psychiatrist_patient": {
        "anonymous": "login",
        "patient": 403,
        "other_patient": 403,
        "psychiatrist": "ok",
        "other_psychiatrist": 404,
        "clinic_admin": 403,
    },
    "patient": {
        "anonymous": "login",
        "patient": "ok",
        "other_patient": "ok",
        "psychiatrist": 403,
        "other_psychiatrist": 403,
        "clinic_admin": 403,
    },
    # Front desk and psychiatrists; an id of the first patient's: the other psychiatrist gets 404.
    "staff": {
        "anonymous": "login",
        "patient": 403,
        "other_patient": 403,
        "psychiatrist": "ok",
        "other_psychiatrist": "ok",
        "clinic_admin": "ok",
    },
    "staff_patient": {
        "anonymous": "login",
        "patient": 403,
        "other_patient": 403,
        "psychiatrist": "ok",
        "other_psychiatrist": 404,
        "clinic_admin": "ok",
    },
    # A patient acting on their own record by id: another patient gets 404.
    "patient_own": {
        "anonymous": "login",
        "patient": "ok",
        "other_patient": 404,
        "psychiatrist": 403,
        "other_psychiatrist": 403,
        "clinic_admin": 403,
    },
    "clinic_admin": {
        "anonymous": "login",
        "patient": 403,
        "other_patient": 403,
        "psychiatrist": 403,
        "other_psychiatrist": 403,
        "clinic_admin": "ok",
    },
    # Holders of clinic.view_audit_log only (the "Privacy officer" group, superusers): a plain
    # clinic admin is refused. tests/clinic/test_privacy.py checks a clinic admin in the group gets in.
    "privacy_officer": {
        "anonymous": "login",
        "patient": 403,
        "other_patient": 403,
        "psychiatrist": 403,
        "other_psychiatrist": 403,
        "clinic_admin": 403,
        "privacy_officer": "ok",
    },
}


@dataclass(frozen=True)
class Route:
    kind: str
    args: tuple[str, ...] = ()  # attribute paths on the world: "patient", "evaluation", ...
    post_only: bool = False
    methods: tuple[str, ...] = field(default=("get", "post"))


PATIENT = ("patient",)
ROUTES = {
    "home": Route("logged_in", methods=("get",)),
    "psychiatrist_home": Route("psychiatrist", methods=("get",)),
    "patient_home": Route("patient", methods=("get",)),
    "front_desk_home": Route("clinic_admin", methods=("get",)),
    "healthz": Route("public", methods=("get",)),
    "patients:search": Route("psychiatrist"),
    "patients:chart": Route("psychiatrist_patient", PATIENT, methods=("get",)),
    "patients:evaluation_create": Route("psychiatrist_patient", PATIENT),
    "patients:evaluation_detail": Route("psychiatrist_patient", ("patient", "evaluation"), methods=("get",)),
    "patients:evaluation_edit": Route("psychiatrist_patient", ("patient", "evaluation")),
    "patients:evaluation_sign": Route("psychiatrist_patient", ("patient", "evaluation"), post_only=True),
    "patients:evaluation_addendum": Route("psychiatrist_patient", ("patient", "evaluation"), post_only=True),
    "patients:diagnosis_create": Route("psychiatrist_patient", PATIENT),
    "patients:diagnosis_resolve": Route("psychiatrist_patient", ("patient", "diagnosis"), post_only=True),
    "patients:allergy_create": Route("psychiatrist_patient", PATIENT),
    "patients:allergy_inactivate": Route("psychiatrist_patient", ("patient", "allergy"), post_only=True),
    "patients:care_contact_create": Route("psychiatrist_patient", PATIENT),
    "patients:registry": Route("clinic_admin"),
    "patients:register": Route("clinic_admin"),
    "patients:edit_demographics": Route("clinic_admin", PATIENT),
    "medications:prescription_start": Route("psychiatrist_patient", PATIENT),
    "medications:prescription_detail": Route("psychiatrist_patient", ("patient", "prescription"), methods=("get",)),
    "medications:prescription_change": Route("psychiatrist_patient", ("patient", "prescription")),
    "medications:prescription_stop": Route("psychiatrist_patient", ("patient", "prescription")),
    "medications:plan_confirm_step": Route("psychiatrist_patient", ("patient", "prescription", "plan"), post_only=True),
    "medications:inbox": Route("psychiatrist", methods=("get",)),
    "medications:staff_report_create": Route("psychiatrist_patient", PATIENT),
    "medications:report_detail": Route("psychiatrist_patient", ("patient", "report")),
    "medications:report_acknowledge": Route("psychiatrist_patient", ("patient", "report"), post_only=True),
    "medications:my_report_create": Route("patient"),
    "medications:my_report_sent": Route("patient", methods=("get",)),
    "appointments:visit_create": Route("psychiatrist_patient", PATIENT),
    "appointments:visit_detail": Route("psychiatrist_patient", ("patient", "visit"), methods=("get",)),
    "appointments:visit_edit": Route("psychiatrist_patient", ("patient", "visit")),
    "appointments:visit_sign": Route("psychiatrist_patient", ("patient", "visit"), post_only=True),
    "appointments:visit_addendum": Route("psychiatrist_patient", ("patient", "visit"), post_only=True),
    "appointments:week": Route("clinic_admin", methods=("get",)),
    "appointments:day": Route("clinic_admin", methods=("get",)),
    "appointments:availability": Route("clinic_admin", ("appointment.psychiatrist",)),
    "appointments:book": Route("staff"),
    "appointments:appointment_detail": Route("staff_patient", ("appointment",)),
    "appointments:my_appointments": Route("patient", methods=("get",)),
    "appointments:my_book": Route("patient"),
    "appointments:my_cancel": Route("patient_own", ("appointment",), post_only=True),
    "appointments:my_waitlist": Route("patient", post_only=True),
    "appointments:my_feed": Route("psychiatrist"),
    "appointments:ics_feed": Route("public", ("feed.token",), methods=("get",)),
    "notifications": Route("logged_in", methods=("get",)),
    "reminder_preferences": Route("patient"),
    "delivery_report": Route("clinic_admin", methods=("get",)),
    # The signed token is the permission: anyone holding the link may confirm.
    "appointment_action": Route("public", ("action_token",)),
    "medications:pregnancy_status": Route("psychiatrist_patient", PATIENT),
    "medications:lab_results": Route("psychiatrist_patient", PATIENT, methods=("get",)),
    "medications:lab_result_create": Route("psychiatrist_patient", PATIENT),
    "medications:lab_result_detail": Route("psychiatrist_patient", ("patient", "lab_result"), methods=("get",)),
    "patients:questionnaire_list": Route("psychiatrist_patient", PATIENT),
    "patients:questionnaire_fill": Route("psychiatrist_patient", ("patient", "questionnaire.instrument")),
    "patients:questionnaire_detail": Route("psychiatrist_patient", ("patient", "questionnaire"), methods=("get",)),
    "patients:questionnaire_cancel": Route(
        "psychiatrist_patient", ("patient", "questionnaire_assignment"), post_only=True
    ),
    "patients:my_questionnaires": Route("patient", methods=("get",)),
    "patients:my_questionnaire_fill": Route("patient_own", ("questionnaire_assignment",)),
    "patients:my_questionnaire_result": Route("patient_own", ("questionnaire",), methods=("get",)),
    "alerts": Route("psychiatrist", methods=("get",)),
    "alert_acknowledge": Route("psychiatrist_patient", ("alert",), post_only=True),
    "alerts_on_call": Route("staff", methods=("get",)),
    "privacy_audit_log": Route("privacy_officer", methods=("get",)),
    "privacy_audit_export": Route("privacy_officer", methods=("get",)),
    "privacy_break_glass": Route("privacy_officer", methods=("get",)),
    "my_record_access": Route("patient", methods=("get",)),
    "break_glass": Route("psychiatrist"),
}
OUR_NAMESPACES = {"patients", "medications", "appointments"}


def our_url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, namespace=None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                # Our apps' namespaces, and our own un-namespaced includes (clinic.*_urls).
                if pattern.namespace in OUR_NAMESPACES or (
                    pattern.namespace is None and getattr(pattern.urlconf_name, "__name__", "").startswith("clinic.")
                ):
                    walk(pattern.url_patterns, pattern.namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver().url_patterns)
    return names


def test_every_url_has_an_entry():
    assert our_url_names() == set(ROUTES)


def resolve(world, path: str):
    """'patient' -> world.patient.pk; 'feed.token' -> world.feed.token."""
    if path == "action_token":
        from clinic import notifications

        return notifications.action_token(world.appointment, "confirm")
    obj = world
    parts = path.split(".")
    for part in parts:
        obj = getattr(obj, part)
    return obj if len(parts) > 1 and not hasattr(obj, "pk") else obj.pk


def snapshot() -> dict[str, int]:
    return {
        "patients": Patient.objects.count(),
        "evaluations": Evaluation.objects.count(),
        "signed": Evaluation.objects.filter(status="signed").count()
        + VisitNote.objects.filter(status="signed").count(),
        "visits": VisitNote.objects.count(),
        "addenda": Addendum.objects.count(),
        "prescriptions": Prescription.objects.active().count(),
        "events": PrescriptionEvent.objects.count(),
        "confirmed_steps": DosePlanStep.objects.exclude(started_on=None).count(),
        "reports": SideEffectReport.objects.count(),
        "acknowledged": SideEffectReport.objects.exclude(acknowledged_at=None).count(),
        "diagnoses": Diagnosis.objects.active().count(),
        "allergies": Allergy.objects.filter(is_active=True).count(),
        "appointments": Appointment.objects.exclude(status="cancelled").count(),
        "availability": WeeklyAvailability.objects.count(),
    }


@pytest.fixture
def people(db, patient, patient2, psychiatrist, psychiatrist2, clinic_admin):
    return {
        "anonymous": None,
        "patient": patient.user,
        "other_patient": patient2.user,
        "psychiatrist": psychiatrist,
        "other_psychiatrist": psychiatrist2,
        "clinic_admin": clinic_admin,
    }


CASES = [
    (name, persona, method)
    for name, route in sorted(ROUTES.items())
    for persona in PERSONAS
    for method in (("get", "post") if route.post_only else route.methods)
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "persona", "method"), CASES)
def test_access(client, people, patient, psychiatrist, name, persona, method):
    route = ROUTES[name]
    world = clinical_world.build(patient, psychiatrist)
    url = reverse(name, args=[resolve(world, path) for path in route.args])
    if people[persona] is not None:
        log_in(client, people[persona])
    before = snapshot()

    response = getattr(client, method)(url)

    if route.post_only and method == "get":
        assert response.status_code == 405
        return
    expected = ACCESS[route.kind][persona]
    if expected == "login":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    elif expected == "ok":
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 302:
            assert not response["Location"].startswith(reverse("account_login"))
    else:
        assert response.status_code == expected
    if expected != "ok":
        assert snapshot() == before, "a refused request changed data"
