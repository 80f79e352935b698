"""A real clinic's first run: its first clinic admin from the terminal (``manage.py bootstrap_clinic``),
and the synthetic demo clinic kept out of production (``manage.py seed_demo``, the sign-in backends).

The first admin gets no password: a one-time link, printed in the terminal, opens allauth's
"set a new password" page with a Django password-reset token. The token is made from the
account's password hash and last sign-in, so it stops working once used (or after
PASSWORD_RESET_TIMEOUT, three days); no email is needed, and the address is marked verified
because the person at the server's terminal vouched for it. TOTP enrolment follows at the first
sign-in, as for every staff member (clinic.middleware.StaffMFARequiredMiddleware).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse

from clinic import audit
from clinic.envconf import is_phone_number
from clinic.models import AuditEvent, ClinicProfile, User
from patients.models import Patient

# Every demo login is an address under this domain (.test is reserved, RFC 2606: no mail reaches
# it), and every demo patient's MRN starts with the prefix (demo/seed.py).
DEMO_DOMAIN = "demo.titrate.test"
DEMO_MRN_PREFIX = "DEMO-"


def is_demo_account(user) -> bool:
    return (user.email or "").lower().endswith(f"@{DEMO_DOMAIN}")


def demo_allowed() -> bool:
    """Whether the demo clinic may be seeded and its published logins used: a development
    configuration only (settings.TITRATE_DEMO_ALLOWED, which is DJANGO_DEBUG)."""
    return settings.TITRATE_DEMO_ALLOWED


def may_sign_in(user) -> bool:
    """Demo accounts share a published password and TOTP secret: never a way in under production
    settings, even if demo rows reached a production database."""
    return demo_allowed() or not is_demo_account(user)


def real_data() -> dict[str, int]:
    """Users and patients that the demo seeder did not make."""
    return {
        "users": User.objects.exclude(email__iendswith=f"@{DEMO_DOMAIN}").count(),
        "patients": Patient.objects.exclude(mrn__startswith=DEMO_MRN_PREFIX).count(),
    }


def demo_refusal(*, force: bool = False) -> str | None:
    """Why the demo clinic must not be seeded here, or None. ``force`` overrides the real-data
    check on a development database only; nothing overrides production settings."""
    if not demo_allowed():
        return (
            "DJANGO_DEBUG is off: these are production settings. The demo clinic publishes its "
            "passwords and TOTP secret, so it is never seeded here. To start a real clinic, run "
            "`manage.py bootstrap_clinic` (docs/deployment.md)."
        )
    found = real_data()
    if any(found.values()) and not force:
        return (
            f"This database holds {found['users']} user(s) and {found['patients']} patient(s) that are "
            "not demo rows: it looks like real data. Refusing to add demo accounts with published "
            "passwords. Use another database (DATABASE_URL), or --force on a development database."
        )
    return None


# -- bootstrap_clinic -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FirstRun:
    admins: list[str]  # active clinic admins, not demo ones: "email (signed in|never signed in)"
    profile: str  # the saved clinic profile, "" when none


class AlreadyBootstrapped(Exception):
    def __init__(self, found: FirstRun) -> None:
        self.found = found
        super().__init__(found)


def existing() -> FirstRun:
    admins = (
        User.objects.filter(role=User.Role.CLINIC_ADMIN, is_active=True)
        .exclude(email__iendswith=f"@{DEMO_DOMAIN}")
        .order_by("date_joined")
    )
    profile = ClinicProfile.objects.filter(pk=1).first()
    return FirstRun(
        admins=[f"{u.email} ({'signed in' if u.last_login else 'never signed in'})" for u in admins],
        profile=f"{profile.name}, {profile.phone}, {profile.time_zone}" if profile else "",
    )


def clean_clinic(*, email: str, clinic_name: str, phone: str, time_zone: str) -> dict[str, str]:
    """Each bad value by option name, so the command can say all of them at once."""
    errors = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = f"{email!r} is not an email address."
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = f"{email} already has an account."
    if not clinic_name.strip():
        errors["clinic-name"] = "The clinic's name is required."
    if not is_phone_number(phone, settings.PHONENUMBER_DEFAULT_REGION):
        errors["phone"] = f"{phone!r} is not a telephone number patients could dial."
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors["time-zone"] = f"{time_zone!r} is not an IANA time zone name (e.g. America/Chicago)."
    return errors


@transaction.atomic
def bootstrap(*, email: str, first_name: str, last_name: str, clinic_name: str, phone: str, time_zone: str) -> User:
    """The clinic's first admin (no usable password) and its profile, the admin on call until the
    clinic names someone else. Refused once a clinic admin or a profile exists."""
    found = existing()
    if found.admins or found.profile:
        raise AlreadyBootstrapped(found)
    # Full Django admin too (periodic tasks, groups), as createsuperuser gave before; the portal's
    # patient pages still follow the clinic admin role.
    admin = User.objects.create_superuser(
        email.lower(), None, first_name=first_name, last_name=last_name, time_zone=time_zone
    )
    EmailAddress.objects.create(user=admin, email=admin.email, verified=True, primary=True)
    profile = ClinicProfile(name=clinic_name.strip(), phone=phone.strip(), time_zone=time_zone, on_call=admin)
    profile.save()
    audit.record(AuditEvent.Action.CREATE, obj=admin, detail={"via": "bootstrap_clinic", "role": admin.role})
    audit.record(AuditEvent.Action.UPDATE, obj=profile, detail={"via": "bootstrap_clinic"})
    return admin


class LinkRefused(Exception):
    pass


def sign_in_link(admin: User) -> str:
    """The one-time "set your password" link for a bootstrapped admin who has not signed in yet
    (an admin who has uses the portal's own password reset)."""
    if not admin.is_active or admin.role != User.Role.CLINIC_ADMIN or is_demo_account(admin):
        raise LinkRefused(f"{admin.email} is not an active clinic admin of this clinic.")
    if admin.last_login is not None:
        raise LinkRefused(
            f"{admin.email} has signed in before: use 'Forgot your password?' on the sign-in page, "
            "or ask another clinic admin."
        )
    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(admin), "key": default_token_generator.make_token(admin)},
    )
    return settings.TITRATE_BASE_URL.rstrip("/") + path
