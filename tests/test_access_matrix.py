"""Every URL of ours, tried by every persona, with every method it takes.

A new URL without an entry in ROUTES fails `test_every_url_has_an_entry`: access is
decided on purpose, never by omission. For "not yours" the answer is 404 and nothing
changes in the database. The view's own declaration (clinic.access) is checked against
this table in tests/clinic/test_access_policy.py.

The table (ROUTES, ACCESS, the personas) lives in tests/access_routes.py; tests/clinic/
test_audit_per_view.py walks the same routes.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import resolve as django_resolve
from django.urls import reverse

from appointments.models import Appointment, WeeklyAvailability
from appointments.telehealth_views import CAMERA_POLICY
from clinic.access import policy_of
from clinic.models import User
from medications.models import Allergy, DosePlanStep, Prescription, PrescriptionEvent, SideEffectReport
from patients.models import Addendum, Diagnosis, Evaluation, Patient, VisitNote
from tests import clinical_world, factories
from tests.access_routes import (
    ACCESS,
    CAMERA_ROUTES,
    PERSONA_ROLE,
    PERSONAS,
    ROUTES,
    SERVED,
    expected,
    our_url_names,
    resolve,
)
from tests.factories import DEMO_LIKE_PASSWORD, TOTP_SECRET
from tests.helpers import log_in

PERMISSIONS_POLICY_HEADER = ", ".join(f"{feature}={allow}" for feature, allow in settings.PERMISSIONS_POLICY.items())


def test_every_url_has_an_entry():
    assert our_url_names() == set(ROUTES)


# Tables a refused request may legitimately write to: the audit trail (a denial may be
# recorded) and the session bookkeeping.
NOT_STATE = {"clinic.AuditEvent"}
STATE_APPS = ("clinic", "patients", "medications", "appointments", "records", "account", "mfa")


@functools.cache
def state_models() -> tuple:
    return tuple(
        model
        for label in STATE_APPS
        for model in apps.get_app_config(label).get_models()
        if model._meta.label not in NOT_STATE and not model._meta.proxy
    )


def snapshot() -> dict[str, object]:
    """Row count and a digest of every row of every table of ours: a refused request
    must neither add, remove nor edit anything (a status flip or a swapped FK shows)."""
    models = state_models()
    if connection.vendor == "postgresql":
        # One round trip for all tables: the matrix takes two snapshots per case.
        quote = connection.ops.quote_name
        parts = [
            f"(SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t.{quote(m._meta.pk.column)}),"
            f" '')) FROM {quote(m._meta.db_table)} t)"
            for m in models
        ]
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts))
            return dict(zip((m._meta.label for m in models), cursor.fetchone(), strict=True))
    state: dict[str, object] = {}
    for model in models:
        fields = [f.attname for f in model._meta.concrete_fields]
        rows = list(model._default_manager.order_by("pk").values_list(*fields))
        state[model._meta.label] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return state


def test_snapshot_covers_the_clinical_tables():
    labels = {model._meta.label for model in state_models()}
    for model in (Patient, Evaluation, VisitNote, Addendum, Prescription, PrescriptionEvent, DosePlanStep,
                  SideEffectReport, Diagnosis, Allergy, Appointment, WeeklyAvailability, User):  # fmt: skip
        assert model._meta.label in labels
    newer = {"patients.QuestionnaireResponse", "patients.QuestionnaireAssignment", "medications.LabResult",
             "clinic.Alert", "clinic.Notification", "clinic.CalendarFeed", "appointments.WaitlistEntry"}  # fmt: skip
    assert newer <= labels
    assert "clinic.AuditEvent" not in labels


def privacy_officer() -> User:
    """A clinic admin in the "Privacy officer" group, as the clinic grants it."""
    user = factories.ClinicAdminFactory()
    group, _ = Group.objects.get_or_create(name="Privacy officer")
    # Transactional tests elsewhere flush the data migration's rows.
    group.permissions.add(Permission.objects.get(codename="view_audit_log", content_type__app_label="clinic"))
    user.groups.add(group)
    return user


def superuser() -> User:
    user = User.objects.create_superuser("root@example.test", DEMO_LIKE_PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    TOTP.activate(user, TOTP_SECRET)
    return user


@dataclass
class Shared:
    world: clinical_world.World
    sessions: dict[str, str]  # persona -> session key


def _session_of(user: User, *, mfa: bool) -> str:
    client = Client()
    log_in(client, user, mfa=mfa)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture(scope="module")
def shared(django_db_setup, django_db_blocker):
    """One clinic and one signed-in session per persona for the whole matrix.

    They are made once, inside a transaction that is rolled back when the module ends;
    each case runs in its own savepoint (pytest-django's per-test transaction), so what a
    case changes is undone before the next. Building the world and logging in per case
    took most of the matrix's time. The idle timeout is lengthened because the sessions'
    "last seen" writes roll back with each case (timeouts: tests/clinic/test_sessions.py).
    """
    long_idle = override_settings(TITRATE_IDLE_MINUTES_STAFF=24 * 60, TITRATE_IDLE_MINUTES_PATIENT=24 * 60)
    with django_db_blocker.unblock(), long_idle, transaction.atomic():
        psychiatrist = factories.PsychiatristFactory()
        psychiatrist2 = factories.PsychiatristFactory()
        patient = factories.PatientFactory(user=factories.PatientUserFactory(), primary_psychiatrist=psychiatrist)
        patient2 = factories.PatientFactory(user=factories.PatientUserFactory(), primary_psychiatrist=psychiatrist2)
        people = {
            "patient": patient.user,
            "other_patient": patient2.user,
            "psychiatrist": psychiatrist,
            "other_psychiatrist": psychiatrist2,
            "clinic_admin": factories.ClinicAdminFactory(),
            "privacy_officer": privacy_officer(),
            "superuser": superuser(),
        }
        world = clinical_world.build(patient, psychiatrist)
        world.signed_visit  # noqa: B018 -- made here, not in a case's savepoint that rolls it back
        world.record_request  # noqa: B018 -- the same: a prepared record for the download routes
        sessions = {persona: _session_of(user, mfa=True) for persona, user in people.items()}
        sessions["mfa_pending"] = _session_of(psychiatrist, mfa=False)
        yield Shared(world, sessions)
        transaction.set_rollback(True)


CASES = [
    (name, persona, method)
    for name, route in sorted(ROUTES.items())
    for persona in PERSONAS
    for method in (("get", "post") if route.post_only else route.methods)
]


@pytest.mark.parametrize(("name", "persona", "method"), CASES)
def test_access(shared, db, client, name, persona, method):
    route = ROUTES[name]
    url = reverse(name, args=[resolve(shared.world, path) for path in route.args])
    if persona != "anonymous":
        client.cookies[settings.SESSION_COOKIE_NAME] = shared.sessions[persona]
    before = snapshot()

    response = getattr(client, method)(url)

    if persona not in ("anonymous", "mfa_pending"):
        # Issue 18: nothing shown to a signed-in session stays in a shared workstation's cache.
        assert "no-store" in response.get("Cache-Control", ""), response.get("Cache-Control")
    # The camera test page, when it is shown, allows the camera and microphone to our origin only.
    camera = name in CAMERA_ROUTES and response.status_code == 200
    assert response["Permissions-Policy"] == (CAMERA_POLICY if camera else PERMISSIONS_POLICY_HEADER)
    if route.post_only and method == "get":
        # Nothing runs: the address sends everyone to the page above it (clinic.middleware).
        assert response.status_code == 302
        assert snapshot() == before
        return
    want = expected(route.kind, persona, policy_of(django_resolve(urlsplit(url).path).func))
    if want in ("login", "mfa"):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    elif want == "ok":
        assert response.status_code in SERVED.get(name, (200, 302)), response.status_code
        if response.status_code == 302:
            assert not response["Location"].startswith(reverse("account_login"))
    else:
        assert response.status_code == want
    if want != "ok":
        assert snapshot() == before, "a refused request changed data"
    if want == "mfa":
        # Still half way through logging in: the login page resumes at the second factor.
        assert client.get(response["Location"])["Location"] == reverse("mfa_authenticate")


def test_the_shared_sessions_are_who_they_say(shared, db, client):
    """Guards the shortcut above: each stored session is its persona's, fully signed in
    (or, for mfa_pending, not signed in at all)."""
    from django.contrib.sessions.models import Session

    users = {p: Session.objects.get(pk=key).get_decoded().get("_auth_user_id") for p, key in shared.sessions.items()}
    assert users["mfa_pending"] is None
    assert len({users[p] for p in PERSONAS if p not in ("anonymous", "mfa_pending")}) == len(PERSONAS) - 2
    roles = {p: User.objects.get(pk=users[p]).role for p in PERSONA_ROLE}
    assert roles == PERSONA_ROLE
    root = User.objects.get(pk=users["superuser"])
    assert (root.is_superuser, root.is_staff, root.role) == (True, True, User.Role.CLINIC_ADMIN)


# Routes with an object id where no persona holds "someone else's" object: one clinic
# whose front desk serves every patient, and token links that carry their own proof.
NO_OTHER_OWNER = {
    "patients:edit_demographics": "the front desk registers and edits every patient",
    "appointments:availability": "the front desk keeps every psychiatrist's diary",
    "appointments:ics_feed": "an unknown token is a 404 (tests/appointments)",
    "appointment_action": "a bad or stale token is refused (tests/clinic/test_reminder_pipeline.py)",
    "shared_summary": "a bad, used or revoked link is refused with 410 (tests/patients/test_sharing.py)",
    # Clinic set-up (issue 19): appointment types are the clinic's, with no owner among its admins.
    **dict.fromkeys(
        ["appointments:type_edit", "appointments:type_active", "appointments:type_delete"],
        "every clinic admin sets up the clinic's appointment types",
    ),
    # Accounts and care teams (issue 19): clinic admins manage every account and every patient's team.
    **dict.fromkeys(
        [
            "user_detail",
            "user_deactivate",
            "user_reactivate",
            "mfa_reset_request",
            "mfa_reset_approve",
            "mfa_reset_cancel",
            "invitation_resend",
            "invitation_revoke",
            "patient_invite",
            "care_team",
            "care_team_contact_new",
            "care_team_contact_edit",
        ],
        "clinic admins manage every account and every patient's care team",
    ),  # fmt: skip
    "invitation_accept": "an unknown, used, revoked or expired token is refused (tests/clinic/test_invitations.py)",
}


def test_every_object_route_is_tried_with_another_owners_id():
    """The world belongs to the first patient and psychiatrist, so for each route with an
    id some persona (the other patient or psychiatrist) must get 404 for it."""
    for name, route in ROUTES.items():
        if route.args and name not in NO_OTHER_OWNER:
            assert 404 in ACCESS[route.kind].values(), name
    assert set(NO_OTHER_OWNER) <= set(ROUTES)


def refused_requests(world):
    """(name, method, url) for every route and method an anonymous user may not use."""
    for name, route in sorted(ROUTES.items()):
        if ACCESS[route.kind]["anonymous"] == "ok":
            continue
        url = reverse(name, args=[resolve(world, path) for path in route.args])
        for method in ("post",) if route.post_only else route.methods:
            yield name, method, url


def redirected_elsewhere(outcomes: dict, target: str) -> dict:
    return {
        key: r.status_code
        for key, r in outcomes.items()
        if r.status_code != 302 or not r["Location"].startswith(target)
    }


@pytest.mark.django_db
def test_a_deactivated_user_is_anonymous_everywhere(client, patient, psychiatrist):
    world = clinical_world.build(patient, psychiatrist)
    log_in(client, psychiatrist)
    User.objects.filter(pk=psychiatrist.pk).update(is_active=False)
    requests = list(refused_requests(world))  # builds the world's lazy objects before the snapshot
    before = snapshot()

    outcomes = {(name, method): getattr(client, method)(url) for name, method, url in requests}

    wrong = redirected_elsewhere(outcomes, reverse("account_login"))
    assert len(outcomes) > 50
    assert wrong == {}
    assert snapshot() == before


@pytest.mark.django_db
def test_staff_without_a_second_factor_this_session_reach_only_the_mfa_step(client, patient, psychiatrist):
    """A session authenticated by password alone (begun before MFA was enforced, say) is
    sent to the second-factor step from every page that needs a login."""
    world = clinical_world.build(patient, psychiatrist)
    client.force_login(psychiatrist)
    requests = list(refused_requests(world))  # builds the world's lazy objects before the snapshot
    before = snapshot()

    outcomes = {(name, method): getattr(client, method)(url) for name, method, url in requests}

    wrong = redirected_elsewhere(outcomes, reverse("mfa_reauthenticate"))
    assert len(outcomes) > 50
    assert wrong == {}
    assert snapshot() == before


@pytest.mark.django_db
def test_anonymous_cannot_create_an_account_by_default(client, patient):
    """Issue 18: public sign-up is closed unless a clinic opens it (TITRATE_SIGNUP_OPEN); an
    anonymous visitor's sign-up, with a new address or a patient's, changes nothing and sends
    nothing (tests/clinic/test_signup.py covers the open case)."""
    from django.core import mail

    before = snapshot()
    users = User.objects.count()
    for email in ("someone.new@example.test", patient.user.email):
        data = {"email": email, "password1": DEMO_LIKE_PASSWORD, "password2": DEMO_LIKE_PASSWORD}
        assert client.post(reverse("account_signup"), data).status_code == 200

    assert (User.objects.count(), mail.outbox) == (users, [])
    assert snapshot() == before
