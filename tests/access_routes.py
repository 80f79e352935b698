"""Every URL of ours and who may use it: the table the access matrix (tests/test_access_matrix.py),
the policy check (tests/clinic/test_access_policy.py) and the audit walk (tests/clinic/
test_audit_per_view.py) share.

ACCESS rows name the six base personas. The derived personas need no entry:
- privacy_officer: a clinic admin in the "Privacy officer" group gets what a clinic admin
  gets, and the audit review pages (their kind names it);
- superuser: a Django superuser whose role is clinic admin gets what a clinic admin gets
  (is_superuser opens the Django admin, not patients' records);
- mfa_pending: a psychiatrist who typed the password but not the TOTP code is still
  anonymous to our views; every non-public page sends them to log in, and the login page
  sends them on to the second-factor step ("mfa").
A kind may still name a derived persona to override the rule. On a view whose declared
policy is permission_required(...), the superuser gets in (it holds every permission).

The FHIR API's URLs (namespace "interop", docs/api.md) take a bearer token, not a session, so they
have their own matrix: tests/interop/test_api_access.py tries every resource type with each
persona's token and fails on an API URL it does not classify.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver

from appointments import reminders
from clinic.access import AccessPolicy
from clinic.models import User
from patients import sharing

BASE_PERSONAS = ["anonymous", "patient", "other_patient", "psychiatrist", "other_psychiatrist", "clinic_admin"]
PERSONAS = [*BASE_PERSONAS, "privacy_officer", "superuser", "mfa_pending"]
# The role each logged-in base persona holds (tests/clinic/test_access_policy.py uses it).
PERSONA_ROLE = {
    "patient": User.Role.PATIENT,
    "other_patient": User.Role.PATIENT,
    "psychiatrist": User.Role.PSYCHIATRIST,
    "other_psychiatrist": User.Role.PSYCHIATRIST,
    "clinic_admin": User.Role.CLINIC_ADMIN,
}

# Who gets what, by kind of page. "ok" means 200 or a redirect the page itself chose.
ACCESS = {
    "public": dict.fromkeys(BASE_PERSONAS, "ok"),
    "logged_in": {"anonymous": "login", **dict.fromkeys(BASE_PERSONAS[1:], "ok")},
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
    # A clinical message thread (medications.threads): its patient's care team only; the front desk
    # reads scheduling threads only, so this one is a 404 for them as for the other psychiatrist.
    "clinical_thread": {
        "anonymous": "login",
        "patient": 403,
        "other_patient": 403,
        "psychiatrist": "ok",
        "other_psychiatrist": 404,
        "clinic_admin": 404,
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


# Derived personas that hold another persona's role and so get what it gets.
SAME_AS = {"superuser": "clinic_admin", "privacy_officer": "clinic_admin"}


def expected(kind: str, persona: str, policy: AccessPolicy | None = None):
    row = ACCESS[kind]
    if persona in row:
        return row[persona]
    if persona == "superuser" and policy is not None and policy.kind == "permission":
        return "ok"  # a superuser holds every Django permission
    if persona in SAME_AS:
        return row[SAME_AS[persona]]
    if persona == "mfa_pending":
        return "mfa" if row["anonymous"] == "login" else row["anonymous"]
    raise KeyError(persona)


@dataclass(frozen=True)
class Route:
    kind: str
    args: tuple[str, ...] = ()  # attribute paths on the world: "patient", "evaluation", ...
    post_only: bool = False
    methods: tuple[str, ...] = field(default=("get", "post"))


PATIENT = ("patient",)
# What a served (not refused) answer may be, where not 200 or 302: /healthz answers 503 while the
# test stack runs no beat or worker (clinic/health.py; tests/clinic/test_healthz.py covers it).
SERVED = {"healthz": (200, 503)}
ROUTES = {
    "home": Route("logged_in", methods=("get",)),
    "psychiatrist_home": Route("psychiatrist", methods=("get",)),
    "patient_home": Route("patient", methods=("get",)),
    "front_desk_home": Route("clinic_admin", methods=("get",)),
    "set_language": Route("public", post_only=True),
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
    "medications:my_messages": Route("patient", methods=("get",)),
    "medications:my_message_new": Route("patient"),
    "medications:my_thread": Route("patient_own", ("thread",)),
    "medications:message_inbox": Route("staff", methods=("get",)),
    "medications:thread_detail": Route("clinical_thread", ("thread",)),
    "medications:thread_assign": Route("clinical_thread", ("thread",), post_only=True),
    "medications:thread_done": Route("clinical_thread", ("thread",), post_only=True),
    "medications:staff_thread_new": Route("psychiatrist_patient", PATIENT),
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
    "appointments:my_waitlist": Route("patient"),  # GET leads to My appointments, where the waitlist is
    "appointments:my_feed": Route("psychiatrist"),
    "appointments:my_feed_replace": Route("patient", post_only=True),
    "appointments:ics_feed": Route("public", ("feed.token",), methods=("get",)),
    "notifications": Route("logged_in", methods=("get",)),
    "reminder_preferences": Route("patient"),
    "delivery_report": Route("clinic_admin", methods=("get",)),
    "clinic_metrics": Route("clinic_admin", methods=("get",)),
    "clinic_metrics_csv": Route("clinic_admin", methods=("get",)),
    "my_metrics": Route("psychiatrist", methods=("get",)),
    "my_metrics_csv": Route("psychiatrist", methods=("get",)),
    # The signed token is the permission: anyone holding the link may confirm.
    "appointment_action": Route("public", ("action_token",)),
    "medications:pregnancy_status": Route("psychiatrist_patient", PATIENT),
    "medications:outside_create": Route("psychiatrist_patient", PATIENT),
    "medications:outside_stop": Route("psychiatrist_patient", ("patient", "outside_medication"), post_only=True),
    "medications:my_refills": Route("patient"),
    "medications:my_adherence": Route("patient"),
    "medications:my_medicines": Route("patient"),
    "medications:outside_confirm": Route("psychiatrist_patient", ("patient", "patient_reported"), post_only=True),
    "medications:refill_queue": Route("psychiatrist", methods=("get",)),
    "medications:refill_detail": Route("psychiatrist_patient", ("patient", "refill")),
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
    "patients:my_visit_summaries": Route("patient", methods=("get",)),
    "patients:my_visit_summary": Route("patient_own", ("signed_visit",), methods=("get",)),
    "patients:my_visit_summary_print": Route("patient_own", ("signed_visit",), methods=("get",)),
    "patients:my_visit_summary_pdf": Route("patient_own", ("signed_visit",), methods=("get",)),
    # The patient's own record to download, and the clinic's exports (issue 23).
    "records:my_record": Route("patient"),
    "records:my_record_status": Route("patient_own", ("record_request",), methods=("get",)),
    "records:my_record_download": Route("patient_own", ("record_request",), methods=("get",)),
    "records:export_measures": Route("staff", methods=("get",)),
    "records:export_schedule": Route("clinic_admin", methods=("get",)),
    # The apps a person allowed through SMART, and withdrawing one (their own tokens only).
    "interop:my_apps": Route("logged_in"),
    "patients:visit_summary_print": Route("psychiatrist_patient", ("patient", "signed_visit"), methods=("get",)),
    "patients:visit_summary_pdf": Route("psychiatrist_patient", ("patient", "signed_visit"), methods=("get",)),
    "medications:prescription_print": Route("psychiatrist_patient", ("patient", "prescription"), methods=("get",)),
    "medications:prescription_pdf": Route("psychiatrist_patient", ("patient", "prescription"), methods=("get",)),
    "prescriber_details": Route("psychiatrist"),
    "alerts": Route("psychiatrist", methods=("get",)),
    "alert_acknowledge": Route("psychiatrist_patient", ("alert",), post_only=True),
    "alerts_on_call": Route("staff", methods=("get",)),
    "privacy_audit_log": Route("privacy_officer", methods=("get",)),
    "privacy_audit_export": Route("privacy_officer", methods=("get",)),
    "privacy_break_glass": Route("privacy_officer", methods=("get",)),
    "my_record_access": Route("patient", methods=("get",)),
    "break_glass": Route("psychiatrist"),
    "clinic_setup": Route("clinic_admin", methods=("get",)),
    "clinic_profile": Route("clinic_admin"),
    "appointments:type_create": Route("clinic_admin"),
    "appointments:type_edit": Route("clinic_admin", ("appointment.appointment_type",)),
    "appointments:type_active": Route("clinic_admin", ("appointment.appointment_type",), post_only=True),
    "appointments:type_delete": Route("clinic_admin", ("appointment.appointment_type",), post_only=True),
    # Issue 21: telehealth, the safety plan, sharing with the therapist.
    "appointments:my_join": Route("patient_own", ("appointment",), methods=("get",)),
    "appointments:camera_test": Route("patient", methods=("get",)),
    "appointments:telehealth_settings": Route("clinic_admin"),
    "patients:safety_plan": Route("psychiatrist_patient", PATIENT),
    "patients:share_summary": Route("psychiatrist_patient", ("patient", "care_contact")),
    "patients:my_safety_plan": Route("patient", methods=("get",)),
    "patients:my_care_contacts": Route("patient", methods=("get",)),
    "patients:my_care_contact_consent": Route("patient_own", ("care_contact",), post_only=True),
    # The single-use link is the permission: whoever holds it may open it (once).
    "shared_summary": Route("public", ("share_token",)),
    # Accounts and care teams (issue 19): clinic admins only.
    "user_list": Route("clinic_admin", methods=("get",)),
    "staff_invite": Route("clinic_admin"),
    "user_detail": Route("clinic_admin", ("colleague",)),
    "user_deactivate": Route("clinic_admin", ("colleague",), post_only=True),
    "user_reactivate": Route("clinic_admin", ("colleague",), post_only=True),
    "mfa_reset_request": Route("clinic_admin", ("colleague",), post_only=True),
    "mfa_reset_approve": Route("clinic_admin", ("mfa_reset",), post_only=True),
    "mfa_reset_cancel": Route("clinic_admin", ("mfa_reset",), post_only=True),
    "invitation_resend": Route("clinic_admin", ("invitation",), post_only=True),
    "invitation_revoke": Route("clinic_admin", ("invitation",), post_only=True),
    "patient_invite": Route("clinic_admin", PATIENT),
    "care_team": Route("clinic_admin", PATIENT),
    "care_team_contact_new": Route("clinic_admin", PATIENT),
    "care_team_contact_edit": Route("clinic_admin", ("patient", "care_contact")),
    # The emailed token is the permission: anyone holding the link may set the password.
    "invitation_accept": Route("public", ("invitation.token",)),
}
# The one page allowed the camera and microphone (appointments.telehealth_views.CAMERA_POLICY).
CAMERA_ROUTES = {"appointments:camera_test"}
OUR_NAMESPACES = {"patients", "medications", "appointments", "records"}
# The API's namespace holds one portal page (session login, not a token): it joins this matrix.
API_PORTAL_PAGES = {"interop:my_apps"}


def our_url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, namespace=None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                # Our apps' namespaces, and our own un-namespaced includes (clinic.*_urls, notifications.urls).
                module = getattr(pattern.urlconf_name, "__name__", "")
                if pattern.namespace in OUR_NAMESPACES or (
                    pattern.namespace is None and module.startswith(("clinic.", "notifications."))
                ):
                    walk(pattern.url_patterns, pattern.namespace)
                elif pattern.namespace == "interop":
                    names.update(
                        f"interop:{p.name}" for p in pattern.url_patterns if f"interop:{p.name}" in API_PORTAL_PAGES
                    )
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver().url_patterns)
    return names


def resolve(world, path: str):
    """'patient' -> world.patient.pk; 'feed.token' -> world.feed.token."""
    if path == "action_token":
        return reminders.action_token(world.appointment, "confirm")
    if path == "share_token":
        return sharing.link_token(world.share)
    obj = world
    parts = path.split(".")
    for part in parts:
        obj = getattr(obj, part)
    return obj if len(parts) > 1 and not hasattr(obj, "pk") else obj.pk
