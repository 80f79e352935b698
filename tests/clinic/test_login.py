"""Logging in, failing to, MFA for staff, and the audit rows each leaves."""

from __future__ import annotations

import time

import pytest
from allauth.mfa.models import Authenticator
from django.core import mail
from django.urls import reverse

from clinic.models import AuditEvent, User
from tests.factories import DEMO_LIKE_PASSWORD, TOTP_SECRET, PsychiatristFactory
from tests.helpers import log_in
from tests.totp import totp_code

pytestmark = pytest.mark.django_db


def post_login(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_patient_login_lands_on_patient_home_and_is_audited(client, patient):
    response = post_login(client, patient.user.email, DEMO_LIKE_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    home = client.get(reverse("home"), follow=True)
    assert home.redirect_chain == [(reverse("patient_home"), 302)]
    assert b"Hello, Alice" in home.content
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN)
    assert event.actor == patient.user
    assert event.actor_role == User.Role.PATIENT
    assert event.ip_address == "127.0.0.1"


def test_wrong_password_gets_a_clear_message_keeps_email_and_is_audited(client, patient):
    response = post_login(client, patient.user.email, "not-the-password")

    assert response.status_code == 200
    assert b"The email address and/or password you specified are not correct." in response.content
    assert f'value="{patient.user.email}"'.encode() in response.content
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert event.actor == patient.user
    assert event.detail == {"attempted_login": patient.user.email}
    assert "not-the-password" not in str(event.detail)


def test_failed_login_for_unknown_email_is_audited_without_actor(client, db):
    post_login(client, "nobody@example.test", "whatever-password")

    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert event.actor is None
    assert event.detail == {"attempted_login": "nobody@example.test"}


def test_repeated_failures_lock_the_account_out_for_a_while(client, patient):
    # allauth's login_failed limit: 5 per 5 minutes per account.
    for _ in range(5):
        post_login(client, patient.user.email, "wrong-password-guess")

    response = post_login(client, patient.user.email, DEMO_LIKE_PASSWORD)

    assert b"Too many failed login attempts. Try again later." in response.content
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED).count() == 5


def test_psychiatrist_login_asks_for_totp_then_lands_on_psychiatrist_home(client, psychiatrist):
    response = post_login(client, psychiatrist.email, DEMO_LIKE_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session  # the password alone is not a login

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert response.status_code == 302
    home = client.get(reverse("home"), follow=True)
    assert home.redirect_chain == [(reverse("psychiatrist_home"), 302)]
    assert home.status_code == 200
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    # ...then the home page's own row (it lists patients: tests/clinic/test_audit_per_view.py).
    assert actions == [AuditEvent.Action.MFA_USED, AuditEvent.Action.LOGIN, AuditEvent.Action.VIEW]


def test_wrong_totp_code_is_refused_and_audited(client, psychiatrist):
    post_login(client, psychiatrist.email, DEMO_LIKE_PASSWORD)
    good = totp_code()
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"

    response = client.post(reverse("mfa_authenticate"), {"code": wrong})

    assert response.status_code == 200
    assert b"Incorrect code." in response.content
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action=AuditEvent.Action.MFA_FAILED)
    assert event.actor == psychiatrist
    assert event.detail == {"authenticator_type": "totp"}


def test_totp_accepts_one_step_of_clock_drift_but_not_two_and_never_a_reused_code(client, psychiatrist):
    post_login(client, psychiatrist.email, DEMO_LIKE_PASSWORD)
    too_old = totp_code(at=time.time() - 65)
    response = client.post(reverse("mfa_authenticate"), {"code": too_old})
    assert response.status_code == 200
    assert b"Incorrect code." in response.content

    previous_step = totp_code(at=time.time() - 30)
    response = client.post(reverse("mfa_authenticate"), {"code": previous_step})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(psychiatrist.pk)

    client.logout()
    post_login(client, psychiatrist.email, DEMO_LIKE_PASSWORD)
    response = client.post(reverse("mfa_authenticate"), {"code": previous_step})
    assert response.status_code == 200  # a code opens one session, once
    assert "_auth_user_id" not in client.session


# transaction=True: allauth announces the new authenticator on commit, inside the request.
@pytest.mark.django_db(transaction=True)
def test_staff_without_authenticator_must_set_one_up_before_any_staff_page(client):
    newcomer = PsychiatristFactory(totp=False)
    log_in(client, newcomer, mfa=False)

    for url in [reverse("psychiatrist_home"), reverse("home"), "/admin/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("mfa_activate_totp"))

    # allauth asks for the password again before any change to MFA.
    response = client.get(reverse("mfa_activate_totp"))
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    response = client.post(response["Location"], {"password": DEMO_LIKE_PASSWORD})
    assert response["Location"] == reverse("mfa_activate_totp")
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = page.context["form"].secret
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=newcomer, type=Authenticator.Type.TOTP).exists()

    # Setting up the authenticator meant typing a code from it: that is the second factor.
    assert client.get(reverse("psychiatrist_home")).status_code == 200
    added = AuditEvent.objects.filter(actor=newcomer, action=AuditEvent.Action.MFA_ADDED)
    assert sorted(added.values_list("detail__authenticator_type", flat=True)) == ["recovery_codes", "totp"]


def test_staff_session_without_mfa_is_sent_to_the_mfa_step(client, clinic_admin):
    # A session that never passed the second factor (e.g. created before MFA was enforced).
    client.force_login(clinic_admin)

    response = client.get(reverse("front_desk_home"))

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_reauthenticate") + "?next=%2Ffront-desk%2F"
    response = client.post(response["Location"], {"code": totp_code()})
    assert response.status_code == 302
    assert response["Location"] == reverse("front_desk_home")
    assert client.get(reverse("front_desk_home")).status_code == 200


def test_patients_do_not_need_mfa(client, patient):
    log_in(client, patient.user)
    assert client.get(reverse("patient_home")).status_code == 200


def test_admin_site_login_goes_through_allauth(client, db):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_logout_is_audited(client, patient):
    log_in(client, patient.user)

    response = client.post(reverse("account_logout"))

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGOUT, actor=patient.user).count() == 1


def test_signup_creates_an_unverified_patient_account_that_cannot_log_in_yet(client, db, settings):
    settings.TITRATE_SIGNUP_OPEN = True  # off by default (tests/clinic/test_signup.py)
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new.person@example.test",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
            # Mass assignment attempts: ignored.
            "role": User.Role.PSYCHIATRIST,
            "is_staff": "on",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="new.person@example.test")
    assert (user.role, user.is_staff, user.is_superuser) == (User.Role.PATIENT, False, False)
    assert len(mail.outbox) == 1
    assert "Confirm" in mail.outbox[0].subject
    client.post(reverse("account_logout"))
    blocked = client.post(reverse("account_login"), {"login": user.email, "password": "a-long-enough-passphrase"})
    assert blocked["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session


def test_signup_refuses_a_short_password_and_keeps_the_email(client, db, settings):
    settings.TITRATE_SIGNUP_OPEN = True
    response = client.post(
        reverse("account_signup"),
        {"email": "short@example.test", "password1": "short1", "password2": "short1"},
    )

    assert response.status_code == 200
    assert b"This password is too short. It must contain at least 8 characters." in response.content
    assert b'value="short@example.test"' in response.content
    assert not User.objects.filter(email="short@example.test").exists()


def test_totp_secret_in_factories_matches_demo_secret():
    # The README tells testers to generate codes from this secret.
    from demo.seed import DEMO_TOTP_SECRET

    assert TOTP_SECRET == DEMO_TOTP_SECRET


def test_password_reset_mails_a_link_and_says_nothing_clinical(client, patient):
    response = client.post(reverse("account_reset_password"), {"email": patient.user.email})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [patient.user.email]
    assert "/accounts/password/reset/key/" in message.body
    assert patient.legal_last_name not in message.body
    assert patient.primary_psychiatrist.last_name not in message.body


def test_password_reset_for_unknown_email_looks_the_same(client, db):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.test"})

    # No account enumeration: same redirect; allauth mails an "unknown account" notice.
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")


def test_staff_can_reach_totp_recovery_codes_and_security_keys(client, psychiatrist):
    log_in(client, psychiatrist)

    response = client.get(reverse("mfa_index"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Authenticator App" in content
    assert "Security Keys" in content
    assert "Recovery Codes" in content
