"""AUD-1/AUD-2: every page that shows or changes PHI writes exactly one audit row.

Driven by ROUTES of the access matrix: every route is classified below, so a new URL
must be decided here too (``test_every_route_is_classified``).

- ``PATIENT``: the page is about one patient (the world's patient): one row whose
  ``patient`` is that patient.
- ``LIST``: the page lists several patients (home pages, inbox, registry, day view):
  one ``view`` row with no ``patient`` and ``detail = {"page": <name>, "patient_ids":
  [...]}`` naming every patient shown (possibly none). The privacy-officer view and its
  "by patient" filter read those ids too.
- ``REVIEW``: the privacy officer's audit log and its export: one row (``view`` or
  ``export``) with the filters used, ids and dates only.
- ``METRICS``: the clinic metrics pages and their CSV (counts, no patient): one row (``view`` or
  ``export``) with the page and the range, no patient and no patient ids.
- ``NOT_PHI``: no patient data is shown or changed (forms without data, settings of
  one's own, redirects, health checks); 0 rows.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent
from tests import clinical_world
from tests.access_routes import ROUTES, SERVED, resolve
from tests.helpers import form_data, log_in

pytestmark = pytest.mark.django_db

PATIENT = "patient"
LIST = "list"
NOT_PHI = "not_phi"
REVIEW = "review"
METRICS = "metrics"

CLASS = {
    "home": NOT_PHI,  # a redirect to the role's home page
    "healthz": NOT_PHI,
    "set_language": NOT_PHI,  # POST only: a language choice
    "psychiatrist_home": LIST,
    "patient_home": PATIENT,
    "front_desk_home": LIST,
    "patients:search": NOT_PHI,  # the empty form; a search (POST) lists results: one row, tested below
    "patients:edit_demographics": PATIENT,
    "patients:registry": LIST,
    "patients:register": NOT_PHI,  # the empty form (POST: one "create" row, tested below)
    "medications:inbox": LIST,
    "medications:refill_queue": LIST,
    "medications:my_refills": PATIENT,
    "medications:my_adherence": PATIENT,
    "medications:my_medicines": PATIENT,
    "medications:my_report_create": PATIENT,
    "medications:my_report_sent": NOT_PHI,
    "medications:my_messages": PATIENT,
    "medications:my_message_new": PATIENT,
    "medications:message_inbox": LIST,
    "medications:thread_detail": PATIENT,
    "medications:thread_assign": PATIENT,
    "medications:thread_done": PATIENT,  # without a report just sent it redirects; with one: tested below
    "appointments:week": LIST,
    "appointments:day": LIST,
    "appointments:availability": NOT_PHI,  # a psychiatrist's working hours
    "appointments:book": LIST,  # the patient picker: {"patient_count": n}; a booking writes one "create" row
    "appointments:my_appointments": PATIENT,
    "appointments:my_book": NOT_PHI,  # free slots only
    "appointments:my_waitlist": NOT_PHI,
    "appointments:my_feed": NOT_PHI,  # the psychiatrist's calendar-link settings
    "appointments:my_feed_replace": PATIENT,  # POST only: one "update" row naming the patient
    "appointments:ics_feed": NOT_PHI,  # audited as no patient: times and initials only
    "notifications": NOT_PHI,  # in-app messages carry no clinical text
    "reminder_preferences": NOT_PHI,
    "delivery_report": NOT_PHI,  # counts by status and channel
    "clinic_metrics": METRICS,
    "clinic_metrics_csv": METRICS,
    "my_metrics": METRICS,
    "my_metrics_csv": METRICS,
    "appointment_action": NOT_PHI,
    "patients:my_questionnaires": PATIENT,
    "patients:my_visit_summaries": PATIENT,
    "prescriber_details": NOT_PHI,  # the psychiatrist's own NPI/DEA (a save writes one "update" row, no patient)
    "alerts": LIST,
    "alerts_on_call": LIST,
    "privacy_audit_log": REVIEW,
    "privacy_audit_export": REVIEW,
    "privacy_break_glass": LIST,
    "my_record_access": PATIENT,
    "clinic_setup": NOT_PHI,  # the clinic's details and appointment types; changes: test_clinic_setup.py
    "clinic_profile": NOT_PHI,
    "appointments:type_create": NOT_PHI,
    "appointments:type_edit": NOT_PHI,
    "appointments:type_active": NOT_PHI,  # POST only: one "update" row with no patient
    "appointments:type_delete": NOT_PHI,
    "break_glass": NOT_PHI,  # the form; starting an emergency access writes one row (test_break_glass.py)
    "patients:my_safety_plan": PATIENT,
    "patients:my_care_contacts": PATIENT,
    "appointments:camera_test": NOT_PHI,  # the patient's own camera, nothing of the record
    "appointments:telehealth_settings": NOT_PHI,  # the clinic's video provider and rooms
    # The page before opening names the therapist only; opening it (POST) is one row with no actor
    # (tests/patients/test_sharing.py).
    "shared_summary": NOT_PHI,
    # Accounts (issue 19). The users page lists patients' accounts: one row naming their records.
    "user_list": LIST,
    "staff_invite": NOT_PHI,  # the empty form; an invitation writes one "create" row (test_invitations.py)
    "user_detail": NOT_PHI,  # a colleague's account; a patient's account page is audited as theirs (test_users.py)
    "invitation_accept": NOT_PHI,  # the password form; accepting writes one "create" row (test_invitations.py)
    # POST only, each one audited change of an account (tests/clinic/test_users.py, test_invitations.py).
    "user_deactivate": NOT_PHI,
    "user_reactivate": NOT_PHI,
    "mfa_reset_request": NOT_PHI,
    "mfa_reset_approve": NOT_PHI,
    "mfa_reset_cancel": NOT_PHI,
    "invitation_resend": NOT_PHI,
    "invitation_revoke": NOT_PHI,
    "patient_invite": PATIENT,
    "care_team": PATIENT,
    "care_team_contact_new": PATIENT,
    "care_team_contact_edit": PATIENT,
    # Issue 23. The page and each download are the patient's (a download is one "export" row); the
    # status its script polls shows no PHI; the exports' forms show none (an export: tests/records).
    "records:my_record": PATIENT,
    "records:my_record_status": NOT_PHI,
    "records:export_measures": NOT_PHI,
    "records:export_schedule": NOT_PHI,
    # App names and scopes of one's own; a withdrawal writes one row (tests/interop/test_connected_apps.py).
    "interop:my_apps": NOT_PHI,
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
    "clinical_thread": "psychiatrist",
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

    assert response.status_code in SERVED.get(name, (200, 302)), response.status_code
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
    elif kind == REVIEW:
        assert row.patient is None
        assert row.detail["page"] in ("audit_log", "audit_export")
    elif kind == METRICS:
        assert row.patient is None
        assert row.detail["page"] == name
        assert "patient_ids" not in row.detail
        assert row.detail["first_day"] <= row.detail["last_day"]
    else:
        assert row.patient is None
        assert row.detail["page"]
        if name == "appointments:book":
            assert row.detail["patient_count"] >= 1
        else:
            assert all(isinstance(pk, int) for pk in row.detail["patient_ids"])


SHOWS_WORLD_PATIENT = {"psychiatrist_home", "medications:inbox", "patients:registry", "alerts"}


@pytest.mark.parametrize("name", sorted(SHOWS_WORLD_PATIENT))
def test_list_rows_name_the_patients_shown(client, people, patient, psychiatrist, name):
    clinical_world.build(patient, psychiatrist)
    user = people[PERSONA_FOR_KIND[ROUTES[name].kind]]
    log_in(client, user)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    assert client.get(reverse(name)).status_code == 200

    row = AuditEvent.objects.get(id__gt=last)
    assert patient.pk in row.detail["patient_ids"]


POST_DATA = {
    "patients:evaluation_addendum": {"text": "Dose corrected."},
    "appointments:visit_addendum": {"text": "Dose corrected."},
}
POST_CASES = sorted(
    name for name, route in ROUTES.items() if "post" in route.methods and classification(name) == PATIENT
)


@pytest.mark.parametrize("name", POST_CASES)
def test_post_writes_one_audit_row(client, people, patient, psychiatrist, name):
    """An empty POST: either the change it asks for (sign, resolve, acknowledge...) or the
    form again with its errors. One row either way, naming the patient."""
    route = ROUTES[name]
    world = clinical_world.build(patient, psychiatrist)
    url = reverse(name, args=[resolve(world, path) for path in route.args])
    if name.endswith("_addendum"):  # addenda are for signed notes
        note = world.evaluation if name.startswith("patients:") else world.visit
        type(note).objects.filter(pk=note.pk).update(status="signed", signed_at=timezone.now())
    user = people[PERSONA_FOR_KIND[route.kind]]
    log_in(client, user)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = client.post(url, POST_DATA.get(name, {}))

    assert response.status_code in (200, 302), response.status_code
    rows = list(AuditEvent.objects.filter(id__gt=last))
    assert len(rows) == 1, [(r.action, r.object_type, r.detail) for r in rows]
    assert rows[0].patient == patient
    assert rows[0].actor == user


def _valid_post(client, url, data):
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    return list(AuditEvent.objects.filter(id__gt=last))


def test_valid_creates_and_updates_write_one_change_row_each(client, patient, psychiatrist):
    from medications.models import Allergy, OutsideMedication
    from patients.models import Diagnosis, Evaluation

    log_in(client, psychiatrist)
    cases = [
        ("patients:diagnosis_create", {"icd10_code": "F41.1"}, Diagnosis),
        ("patients:allergy_create", {"substance": "Latex", "severity": "mild"}, Allergy),
        ("medications:outside_create", {"name": "Advil", "source": "over the counter"}, OutsideMedication),
        ("patients:evaluation_create", {"evaluation_date": "2026-11-30", "presenting_symptoms": "x"}, Evaluation),
    ]
    for name, data, model in cases:
        before = model.objects.count()
        rows = _valid_post(client, reverse(name, args=[patient.pk]), data)
        assert model.objects.count() == before + 1, name
        assert [(r.action, r.patient_id, r.object_type) for r in rows] == [
            (AuditEvent.Action.CREATE, patient.pk, model._meta.label)
        ], name


def test_demographics_update_writes_one_row(client, patient, clinic_admin):
    log_in(client, clinic_admin)
    url = reverse("patients:edit_demographics", args=[patient.pk])
    data = form_data(client.get(url).context["form"])
    data["city"] = "Springfield"

    rows = _valid_post(client, url, data)

    assert [(r.action, r.patient_id) for r in rows] == [(AuditEvent.Action.UPDATE, patient.pk)]
    assert "city" in rows[0].detail["fields"]


def test_patient_report_and_its_thank_you_page_write_one_row_each(client, patient, psychiatrist):
    from medications.models import SideEffectReport

    clinical_world.build(patient, psychiatrist)
    log_in(client, patient.user)
    url = reverse("medications:my_report_create")
    form = client.get(url).context["form"]
    data = {
        "prescription": form.fields["prescription"].choices[-1][0],
        "symptoms": [form.fields["symptoms"].choices[0][0]],
        "severity": "mild",
        "onset_date": "2026-11-30",
        "ongoing": "yes",
    }
    before = SideEffectReport.objects.count()

    rows = _valid_post(client, url, data)

    assert SideEffectReport.objects.count() == before + 1
    assert [(r.action, r.patient_id) for r in rows] == [(AuditEvent.Action.CREATE, patient.pk)]
    last = rows[0].pk
    assert client.get(reverse("medications:my_report_sent")).status_code == 200
    assert [(r.action, r.patient_id) for r in AuditEvent.objects.filter(id__gt=last)] == [
        (AuditEvent.Action.VIEW, patient.pk)
    ]


def test_patient_search_writes_one_row_listing_the_results(client, patient, patient2, psychiatrist):
    log_in(client, psychiatrist)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = client.post(reverse("patients:search"), {"q": patient.mrn})

    assert response.status_code == 200
    row = AuditEvent.objects.get(id__gt=last)
    assert row.detail == {"page": "patient_search", "patient_ids": [patient.pk]}


def test_a_failing_audit_insert_fails_the_request_and_stores_nothing(client, patient, psychiatrist, monkeypatch):
    from patients.models import Diagnosis

    log_in(client, psychiatrist)
    before_rows, before_diagnoses = AuditEvent.objects.count(), Diagnosis.objects.count()

    def broken(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(AuditEvent, "save", broken)
    client.raise_request_exception = False

    response = client.post(reverse("patients:diagnosis_create", args=[patient.pk]), {"icd10_code": "F41.1"})

    assert response.status_code == 500
    assert Diagnosis.objects.count() == before_diagnoses
    assert AuditEvent.objects.count() == before_rows


# -- What a change sets off rides on the change's own row ----------------------------------------


def _new_rows(since: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=since).order_by("id"))


def _head() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_an_urgent_report_is_one_row_naming_its_alert(patient, psychiatrist):
    from clinic.models import Alert
    from medications import side_effects

    since = _head()
    report = side_effects.submit_report(
        patient=patient, reporter=patient.user, prescription=None, symptoms=[],
        other_symptoms="the rash is spreading all over and I have a fever and blisters in my mouth",
        severity="severe", onset_date=timezone.localdate(), ongoing=True,
    )  # fmt: skip

    alert = Alert.objects.get()
    rows = _new_rows(since)
    assert [(r.action, r.object_id) for r in rows] == [("create", str(report.pk))]
    assert rows[0].detail["alert_raised"] == alert.pk


def test_a_positive_screen_is_one_row_naming_the_follow_up(patient):
    from patients import questionnaires

    since = _head()
    questionnaires.submit(
        patient=patient, instrument="phq2", answers={"1": 2, "2": 1}, completed_by=patient.user, context="portal"
    )

    rows = _new_rows(since)
    assert len(rows) == 1
    follow_up = patient.questionnaire_assignments.get(instrument="phq9")
    assert rows[0].detail["follow_up_assignment"] == follow_up.pk


def test_blood_pressure_is_one_row_naming_both_results(patient, psychiatrist):
    from medications import monitoring

    since = _head()
    systolic, diastolic = monitoring.record_result(
        patient=patient, test_code="BP", value="142/86", unit="mmHg",
        collected_on=timezone.localdate(), entered_by=psychiatrist,
    )  # fmt: skip

    rows = _new_rows(since)
    assert len(rows) == 1
    assert rows[0].detail["results"] == [systolic.pk, diastolic.pk]


def test_a_prescription_start_is_one_row(patient, psychiatrist):
    from medications.models import Prescription

    since = _head()
    # A safety override is folded into this row too (tests/medications/test_safety*.py check its detail).
    from tests import factories

    factories.start(patient, psychiatrist)
    rows = _new_rows(since)
    assert [(r.action, r.object_type) for r in rows] == [("create", "medications.Prescription")]
    assert Prescription.objects.count() == 1


# -- The Django admin's pages with patient data (issue 18) ---------------------------------------
# Each (url name, how to get its args from the world, kind): the same rows as the portal's pages.


def _admin_world(patient, psychiatrist):
    from allauth.account.models import EmailAddress
    from allauth.usersessions.models import UserSession

    from appointments.models import WaitlistEntry

    world = clinical_world.build(patient, psychiatrist)
    world.waitlist = WaitlistEntry.objects.create(
        patient=patient, psychiatrist=psychiatrist, appointment_type=world.appointment.appointment_type,
        wanted_before=timezone.now() + timezone.timedelta(days=14),
    )  # fmt: skip
    world.email = EmailAddress.objects.get(user=patient.user)
    world.session = UserSession.objects.create(user=patient.user, ip="203.0.113.9", session_key="s" * 32)
    return world


ADMIN_PAGES = {
    "admin:patients_patient_changelist": (lambda w: [], LIST),
    "admin:patients_patient_change": (lambda w: [w.patient.pk], PATIENT),
    "admin:patients_patient_history": (lambda w: [w.patient.pk], PATIENT),
    "admin:clinic_user_changelist": (lambda w: [], LIST),
    "admin:clinic_user_change": (lambda w: [w.patient.user.pk], PATIENT),
    "admin:clinic_user_history": (lambda w: [w.patient.user.pk], PATIENT),
    "admin:appointments_waitlistentry_changelist": (lambda w: [], LIST),
    "admin:appointments_waitlistentry_change": (lambda w: [w.waitlist.pk], PATIENT),
    "admin:appointments_waitlistentry_delete": (lambda w: [w.waitlist.pk], PATIENT),
    "admin:account_emailaddress_changelist": (lambda w: [], LIST),
    "admin:account_emailaddress_change": (lambda w: [w.email.pk], PATIENT),
    "admin:mfa_authenticator_changelist": (lambda w: [], LIST),
    "admin:usersessions_usersession_changelist": (lambda w: [], LIST),
    "admin:usersessions_usersession_change": (lambda w: [w.session.pk], PATIENT),
}
# Lists that show the world's patient (the authenticator list shows staff: theirs only have TOTP).
ADMIN_LISTS_SHOWING_PATIENT = {name for name, (_, kind) in ADMIN_PAGES.items() if kind == LIST} - {
    "admin:mfa_authenticator_changelist"
}


@pytest.fixture
def superuser(db):
    from allauth.account.models import EmailAddress
    from allauth.mfa.totp.internal.auth import TOTP

    from clinic.models import User
    from tests.factories import DEMO_LIKE_PASSWORD, TOTP_SECRET

    user = User.objects.create_superuser("root@example.test", DEMO_LIKE_PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    TOTP.activate(user, TOTP_SECRET)
    return user


@pytest.mark.parametrize("name", sorted(ADMIN_PAGES))
def test_admin_page_writes_one_audit_row(client, superuser, patient, psychiatrist, name):
    args, kind = ADMIN_PAGES[name]
    world = _admin_world(patient, psychiatrist)
    log_in(client, superuser)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = client.get(reverse(name, args=args(world)))

    assert response.status_code == 200
    rows = list(AuditEvent.objects.filter(id__gt=last))
    assert len(rows) == 1, [(r.action, r.object_type, r.detail) for r in rows]
    row = rows[0]
    assert (row.action, row.actor) == (AuditEvent.Action.VIEW, superuser)
    if kind == PATIENT:
        assert row.patient == patient
    else:
        assert row.patient is None
        if name in ADMIN_LISTS_SHOWING_PATIENT:
            assert patient.pk in row.detail["patient_ids"]
