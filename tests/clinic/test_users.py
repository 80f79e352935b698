"""The users page and the care team page (issue 19): deactivation ends sessions at once, roles
change, a second-factor reset needs a second clinic admin, the care team decides the caseload.
Every change writes one audit row."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse

from clinic.access import patients_for
from clinic.models import AuditEvent, MFAResetRequest, User
from patients.models import CareContact
from tests.factories import (
    DEMO_LIKE_PASSWORD,
    ClinicAdminFactory,
    PatientFactory,
    PatientUserFactory,
    PsychiatristFactory,
)
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def head() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def changes(since: int) -> list[tuple[str, str]]:
    return [(r.action, r.detail.get("event", "")) for r in AuditEvent.objects.filter(id__gt=since).order_by("id")]


def test_users_page_lists_accounts_with_mfa_and_last_sign_in_within_budget(
    client, clinic_admin, psychiatrist, django_assert_max_num_queries
):
    patients = [PatientFactory(user=PatientUserFactory()) for _ in range(3)]
    PsychiatristFactory(totp=False)
    log_in(client, clinic_admin)
    before = head()

    # session, user, audit-officer check (nav), count, users page, invitations, resets, audit insert (+ lock)...
    with django_assert_max_num_queries(14):
        response = client.get(reverse("user_list"))

    assert response.status_code == 200
    users = list(response.context["page"])
    assert len(users) == User.objects.count() == 9  # each patient's record names its own psychiatrist
    by_email = {user.email: user for user in users}
    assert by_email[psychiatrist.email].has_mfa is True
    assert by_email[clinic_admin.email].last_login is not None
    row = AuditEvent.objects.get(id__gt=before)
    assert sorted(row.detail["patient_ids"]) == sorted(p.pk for p in patients)


def test_deactivating_ends_the_users_sessions_at_once_and_reactivating_lets_them_back(
    client, clinic_admin, psychiatrist
):
    theirs = Client()
    log_in(theirs, psychiatrist)
    assert theirs.get(reverse("psychiatrist_home")).status_code == 200
    log_in(client, clinic_admin)
    before = head()

    assert client.post(reverse("user_deactivate", args=[psychiatrist.pk])).status_code == 302

    psychiatrist.refresh_from_db()
    assert psychiatrist.is_active is False
    assert changes(before) == [("update", "user_deactivated")]
    response = theirs.get(reverse("psychiatrist_home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert patients_for(psychiatrist).count() == 0

    before = head()
    assert client.post(reverse("user_reactivate", args=[psychiatrist.pk])).status_code == 302
    assert changes(before) == [("update", "user_reactivated")]
    # The password is accepted again (the TOTP code of this 30 s step was used above: replay-refused).
    response = theirs.post(reverse("account_login"), {"login": psychiatrist.email, "password": DEMO_LIKE_PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")


def test_an_admin_cannot_deactivate_or_reset_themselves(client, clinic_admin):
    log_in(client, clinic_admin)
    before = head()
    client.post(reverse("user_deactivate", args=[clinic_admin.pk]))
    client.post(reverse("mfa_reset_request", args=[clinic_admin.pk]))
    clinic_admin.refresh_from_db()
    assert clinic_admin.is_active is True
    assert MFAResetRequest.objects.count() == 0
    assert changes(before) == []


def test_role_change_to_privacy_officer_and_back(client, clinic_admin):
    colleague = ClinicAdminFactory()
    log_in(client, clinic_admin)
    url = reverse("user_detail", args=[colleague.pk])
    before = head()

    assert client.post(url, {"role": "privacy_officer"}).status_code == 302
    colleague.refresh_from_db()
    assert colleague.has_perm("clinic.view_audit_log")
    assert client.post(url, {"role": "psychiatrist"}).status_code == 302

    colleague = type(colleague).objects.get(pk=colleague.pk)
    assert colleague.role == "psychiatrist"
    assert not colleague.has_perm("clinic.view_audit_log")
    assert changes(before) == [("update", "role_changed"), ("update", "role_changed")]


def test_a_psychiatrist_with_patients_keeps_the_role_until_they_are_moved(client, clinic_admin, patient, psychiatrist):
    log_in(client, clinic_admin)
    response = client.post(reverse("user_detail", args=[psychiatrist.pk]), {"role": "clinic_admin"})
    assert response.status_code == 200
    assert "care teams" in response.content.decode()
    psychiatrist.refresh_from_db()
    assert psychiatrist.role == "psychiatrist"


def test_mfa_reset_needs_a_second_admin(client, clinic_admin, psychiatrist):
    second_admin = ClinicAdminFactory()
    log_in(client, clinic_admin)
    before = head()
    assert client.post(reverse("mfa_reset_request", args=[psychiatrist.pk])).status_code == 302
    reset = MFAResetRequest.objects.get()

    # The admin who asked cannot approve their own request.
    client.post(reverse("mfa_reset_approve", args=[reset.pk]))
    assert Authenticator.objects.filter(user=psychiatrist).count() == 1
    assert changes(before) == [("create", "mfa_reset_requested")]

    other = Client()
    log_in(other, second_admin)
    before = head()
    assert other.post(reverse("mfa_reset_approve", args=[reset.pk])).status_code == 302

    assert Authenticator.objects.filter(user=psychiatrist).count() == 0
    reset.refresh_from_db()
    assert reset.approved_by == second_admin
    assert changes(before) == [("mfa_reset", "mfa_reset_approved")]
    # At the next sign-in they enrol again.
    theirs = Client()
    log_in(theirs, psychiatrist, mfa=False)
    assert theirs.get(reverse("psychiatrist_home"))["Location"].startswith(reverse("mfa_activate_totp"))


def test_care_team_page_decides_the_caseload_and_is_audited(client, clinic_admin, django_assert_max_num_queries):
    patient = PatientFactory(primary_psychiatrist=None)
    first, second = PsychiatristFactory(), PsychiatristFactory()
    log_in(client, clinic_admin)
    url = reverse("care_team", args=[patient.pk])
    before = head()

    with django_assert_max_num_queries(14):
        assert client.get(url).status_code == 200
    assert [(r.action, r.patient_id) for r in AuditEvent.objects.filter(id__gt=before)] == [("view", patient.pk)]

    before = head()
    assert client.post(url, {"primary_psychiatrist": first.pk, "others": [second.pk]}).status_code == 302

    assert list(patients_for(first)) == [patient]
    assert list(patients_for(second)) == [patient]
    row = AuditEvent.objects.get(id__gt=before)
    assert (row.action, row.patient_id, row.detail["added"]) == ("update", patient.pk, [second.pk])

    client.post(url, {"primary_psychiatrist": first.pk})
    assert list(patients_for(second)) == []


def test_outside_therapist_is_added_and_edited_by_the_front_desk_but_consent_is_the_patients(
    client, clinic_admin, patient
):
    log_in(client, clinic_admin)
    before = head()
    response = client.post(
        reverse("care_team_contact_new", args=[patient.pk]),
        {"kind": "therapist", "name": "Robin Lee", "organisation": "Harbor Counseling", "consent_to_share": "on"},
    )
    assert response.status_code == 302
    contact = CareContact.objects.get(patient=patient)
    # Consent to share is given or withdrawn by the patient in the portal (patients.sharing), never
    # ticked for them by staff: the posted box is ignored.
    assert contact.consent_to_share is False

    url = reverse("care_team_contact_edit", args=[patient.pk, contact.pk])
    response = client.post(url, {"kind": "therapist", "name": "Robin Lee", "organisation": "Harbor Counseling"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.is_active is False
    rows = list(AuditEvent.objects.filter(id__gt=before).order_by("id"))
    assert [(r.action, r.patient_id) for r in rows] == [("create", patient.pk), ("update", patient.pk)]
    assert rows[1].detail == {"fields": ["is_active"]}


def test_other_roles_are_refused_the_users_and_care_team_pages(client, psychiatrist, patient):
    log_in(client, psychiatrist)
    assert client.get(reverse("user_list")).status_code == 403
    assert client.get(reverse("care_team", args=[patient.pk])).status_code == 403
    assert client.post(reverse("user_deactivate", args=[psychiatrist.pk])).status_code == 403
    psychiatrist.refresh_from_db()
    assert psychiatrist.is_active is True
