"""Invitations (issue 19): a clinic admin invites staff and patients; the invitee sets a password
through the emailed link, which works once, expires, dies when resent and can be revoked."""

from __future__ import annotations

import datetime
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent, Invitation, User
from tests.factories import PHI_MARKER, PatientFactory, PatientUserFactory
from tests.helpers import log_in
from tests.totp import totp_code

pytestmark = pytest.mark.django_db

STAFF_PASSWORD = "lantern orchard cobalt 7"
LINK = re.compile(r"https?://[^/\s]+(/invitation/[^/\s]+/)")


def link_in(message) -> str:
    return LINK.search(message.body).group(1)


def invite_staff(client, role="psychiatrist", email="new.doc@example.test", **extra):
    data = {"email": email, "role": role, "first_name": "Nadia", "last_name": "Okafor", "credentials": "MD", **extra}
    return client.post(reverse("staff_invite"), data)


def last_rows(since: int):
    return list(AuditEvent.objects.filter(id__gt=since).order_by("id"))


def head() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_admin_invites_a_psychiatrist_who_sets_a_password_and_must_enrol_totp(client, clinic_admin):
    log_in(client, clinic_admin)
    before = head()

    response = invite_staff(client)

    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.role, invitation.email, invitation.invited_by) == (
        "psychiatrist",
        "new.doc@example.test",
        clinic_admin,
    )
    assert invitation.expires_at - invitation.created_at == datetime.timedelta(days=7)
    assert [(r.action, r.detail["event"]) for r in last_rows(before)] == [("create", "invitation_sent")]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.doc@example.test"]
    path = link_in(message)
    # Only the hash is stored: the token itself is nowhere in the database row.
    assert path.split("/")[2] not in invitation.token_hash
    assert "Nadia" not in message.body and "Okafor" not in message.body

    client.logout()
    assert client.get(path).status_code == 200
    response = client.post(
        path, {"first_name": "Nadia", "last_name": "Okafor", "password1": STAFF_PASSWORD, "password2": STAFF_PASSWORD}
    )

    assert response.status_code == 302 and response["Location"] == reverse("account_login")
    user = User.objects.get(email="new.doc@example.test")
    assert (user.role, user.credentials, user.check_password(STAFF_PASSWORD)) == ("psychiatrist", "MD", True)
    assert EmailAddress.objects.filter(user=user, verified=True, primary=True).count() == 1
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None and invitation.user == user
    # Used once: the link now refuses.
    assert client.get(path).status_code == 404
    # Signing in goes straight to TOTP enrolment (no email-confirmation step).
    response = client.post(reverse("account_login"), {"login": user.email, "password": STAFF_PASSWORD})
    assert response.status_code == 302
    response = client.get(reverse("psychiatrist_home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_activate_totp"))


def test_a_short_password_is_refused_and_the_names_typed_are_kept(client, clinic_admin):
    log_in(client, clinic_admin)
    invite_staff(client, role="clinic_admin")
    path = link_in(mail.outbox[0])
    client.logout()

    response = client.post(
        path, {"first_name": "Nadia", "last_name": "Okafor-Reyes", "password1": "short pw 1", "password2": "short pw 1"}
    )

    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
    assert response.context["form"]["last_name"].value() == "Okafor-Reyes"
    assert not User.objects.filter(email="new.doc@example.test").exists()


def test_a_privacy_officer_invitation_makes_a_clinic_admin_in_the_group(client, clinic_admin):
    log_in(client, clinic_admin)
    invite_staff(client, role="privacy_officer")
    path = link_in(mail.outbox[0])
    client.logout()

    client.post(path, {"first_name": "P", "last_name": "O", "password1": STAFF_PASSWORD, "password2": STAFF_PASSWORD})

    user = User.objects.get(email="new.doc@example.test")
    assert user.role == "clinic_admin"
    assert user.has_perm("clinic.view_audit_log")


def test_resending_kills_the_old_link_and_revoking_kills_the_new(client, clinic_admin):
    log_in(client, clinic_admin)
    invite_staff(client)
    invitation = Invitation.objects.get()
    first = link_in(mail.outbox[0])

    assert client.post(reverse("invitation_resend", args=[invitation.pk])).status_code == 302
    second = link_in(mail.outbox[1])
    assert first != second
    invitation.refresh_from_db()
    assert invitation.send_count == 2
    before = head()
    assert client.post(reverse("invitation_revoke", args=[invitation.pk])).status_code == 302
    assert [(r.action, r.detail["event"]) for r in last_rows(before)] == [("update", "invitation_revoked")]

    client.logout()
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 404
    response = client.post(
        second, {"first_name": "N", "last_name": "O", "password1": STAFF_PASSWORD, "password2": STAFF_PASSWORD}
    )
    assert response.status_code == 404
    assert not User.objects.filter(email="new.doc@example.test").exists()


def test_an_expired_link_is_refused(client, clinic_admin):
    log_in(client, clinic_admin)
    invite_staff(client)
    path = link_in(mail.outbox[0])
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    client.logout()

    assert client.get(path).status_code == 404
    assert client.get("/invitation/not-a-token/").status_code == 404


def test_an_address_with_an_account_or_an_open_invitation_cannot_be_invited(client, clinic_admin):
    log_in(client, clinic_admin)
    response = invite_staff(client, email=clinic_admin.email.upper())
    assert "already belongs to an account" in response.content.decode()
    invite_staff(client)
    response = invite_staff(client, email="New.Doc@example.test", first_name="Typed")
    assert response.status_code == 200
    assert "already open" in response.content.decode()
    assert response.context["form"]["first_name"].value() == "Typed"
    assert Invitation.objects.count() == 1


def test_a_patient_invited_from_their_record_gets_a_linked_login(client, clinic_admin, psychiatrist):
    patient = PatientFactory(primary_psychiatrist=psychiatrist, email="pat@example.test")
    log_in(client, clinic_admin)
    url = reverse("patient_invite", args=[patient.pk])
    assert client.get(url).context["form"]["email"].value() == "pat@example.test"
    before = head()

    assert client.post(url, {"email": "pat@example.test"}).status_code == 302

    rows = last_rows(before)
    assert [(r.action, r.patient_id, r.detail["event"]) for r in rows] == [("create", patient.pk, "invitation_sent")]
    message = mail.outbox[0]
    assert PHI_MARKER not in message.body and PHI_MARKER not in message.subject
    path = link_in(message)
    client.logout()
    page = client.get(path)
    assert "first_name" not in page.context["form"].fields  # the record's name stands
    assert client.post(path, {"password1": "river maple 42", "password2": "river maple 42"}).status_code == 302

    patient.refresh_from_db()
    assert patient.user.email == "pat@example.test" and patient.user.role == "patient"
    assert patient.user.last_name == patient.legal_last_name
    log_in(client, patient.user, password="river maple 42")
    assert client.get(reverse("patient_home")).status_code == 200


def test_a_linked_patient_or_one_with_an_open_invitation_is_not_invited_twice(client, clinic_admin, patient):
    log_in(client, clinic_admin)
    url = reverse("patient_invite", args=[patient.pk])
    response = client.post(url, {"email": "another@example.test"})
    assert response.status_code == 200
    assert "already has a portal account" in response.content.decode()

    unlinked = PatientFactory()
    url = reverse("patient_invite", args=[unlinked.pk])
    assert client.post(url, {"email": "first@example.test"}).status_code == 302
    response = client.post(url, {"email": "second@example.test"})
    assert response.status_code == 200
    assert "Resend or revoke it" in response.content.decode()
    assert Invitation.objects.filter(patient=unlinked).count() == 1
    # An address that belongs to another user cannot be given to this record either.
    Invitation.objects.update(revoked_at=timezone.now())
    other = PatientUserFactory()
    response = client.post(url, {"email": other.email})
    assert "already belongs to an account" in response.content.decode()


def test_signed_in_users_are_told_to_sign_out_first(client, clinic_admin):
    log_in(client, clinic_admin)
    invite_staff(client)
    path = link_in(mail.outbox[0])
    response = client.get(path)
    assert response.status_code == 200 and response.context["signed_in"]
    assert Invitation.objects.get().accepted_at is None


# transaction=True: allauth announces the new authenticator on commit, inside the request.
@pytest.mark.django_db(transaction=True)
def test_totp_enrolment_after_invitation_then_the_psychiatrist_signs_in(client, clinic_admin):
    """The whole first sign-in, with the TOTP secret allauth offers at enrolment."""
    log_in(client, clinic_admin)
    invite_staff(client)
    path = link_in(mail.outbox[0])
    client.logout()
    client.post(path, {"first_name": "N", "last_name": "O", "password1": STAFF_PASSWORD, "password2": STAFF_PASSWORD})
    client.post(reverse("account_login"), {"login": "new.doc@example.test", "password": STAFF_PASSWORD})
    # allauth asks for the password again before any change to MFA (tests/clinic/test_login.py).
    response = client.get(reverse("mfa_activate_totp"))
    client.post(response["Location"], {"password": STAFF_PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    secret = page.context["form"].secret

    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})

    assert response.status_code == 302
    assert client.get(reverse("psychiatrist_home")).status_code == 200


def test_the_token_is_masked_in_logs():
    """A refused link is logged by Django ("Not Found: <path>"): the token must not be in it."""
    from clinic.logmask import MASK, mask

    line = 'Not Found: /invitation/Zx9-_abcDEF123/ "GET https://clinic.example/invitation/Zx9-_abcDEF123/"'
    assert mask(line) == f'Not Found: /invitation/{MASK}/ "GET https://clinic.example/invitation/{MASK}/"'
