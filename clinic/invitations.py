"""Invitations: how every account is made in the portal (issue 19).

A clinic admin invites a staff member by email with a role, or a patient from their registry page
(the login is linked to that record). The email carries a link with a random token; the database
keeps only the token's SHA-256, so the link is the one copy. Opening it, the invitee sets their
own password (Django's validators, the staff or patient length of clinic.passwords); their address
counts as verified, since the link reached it. Staff then enrol TOTP at their first sign-in
(clinic.middleware.StaffMFARequiredMiddleware), as every staff member must.

Sent the way allauth sends account mail (its adapter, Django's email backend), not through the
reminder outbox: the outbox needs a recipient account, which does not exist yet. The email names
no one and says nothing about care: "you are invited to an account at <clinic>", and the link.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from clinic import audit
from clinic.contact import clinic
from clinic.models import AuditEvent, Invitation, User
from patients.models import Patient

logger = logging.getLogger(__name__)

PRIVACY_OFFICER_GROUP = "Privacy officer"
STAFF_ROLES = (Invitation.Role.PSYCHIATRIST, Invitation.Role.CLINIC_ADMIN, Invitation.Role.PRIVACY_OFFICER)
# What refuses a link, for every reason alike: a stranger learns nothing from the difference.
LINK_REFUSED = (
    "This invitation link is not valid. It may have expired, been replaced by a newer one, or been used already."
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, _hash(token)


def _expiry(now: datetime.datetime) -> datetime.datetime:
    return now + datetime.timedelta(days=settings.TITRATE_INVITATION_DAYS)


def user_role(invitation_role: str) -> str:
    """The account's User.Role: a privacy officer is a clinic admin in the "Privacy officer" group."""
    return User.Role.CLINIC_ADMIN if invitation_role == Invitation.Role.PRIVACY_OFFICER else invitation_role


def privacy_officer_group() -> Group:
    """The group holding clinic.view_audit_log (made by migration 0008; remade if it was removed)."""
    group, created = Group.objects.get_or_create(name=PRIVACY_OFFICER_GROUP)
    if created:
        group.permissions.add(Permission.objects.get(codename="view_audit_log", content_type__app_label="clinic"))
    return group


def check_address_free(email: str) -> None:
    """An address already used by an account, or by an open invitation, cannot be invited again."""
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "This address already belongs to an account."})
    if Invitation.objects.open().filter(email__iexact=email).exists():
        raise ValidationError(
            {"email": "An invitation to this address is already open. Resend or revoke it from Users."}
        )


def _create(request, *, by: User, patient: Patient | None = None, **fields) -> tuple[Invitation, str]:
    token, token_hash = _new_token()
    now = timezone.now()
    invitation = Invitation(
        token_hash=token_hash, invited_by=by, patient=patient, created_at=now, sent_at=now, expires_at=_expiry(now)
    )
    for name, value in fields.items():
        setattr(invitation, name, value)
    invitation.email = invitation.email.strip().lower()
    with transaction.atomic():
        check_address_free(invitation.email)
        try:
            with transaction.atomic():
                invitation.save(force_insert=True)
        except IntegrityError:
            # Two admins inviting the same address (or record) at the same moment.
            raise ValidationError("An invitation for this address or record was sent a moment ago.") from None
        audit.record(
            AuditEvent.Action.CREATE,
            request=request,
            actor=by,
            patient=patient,
            obj=invitation,
            detail={"event": "invitation_sent", "role": invitation.role},
        )
    return invitation, token


def invite_staff(
    *, email: str, role: str, first_name: str, last_name: str, credentials: str = "", by: User, request=None
) -> tuple[Invitation, str]:
    """A staff invitation, saved and audited; returns it with the token to email (``send``)."""
    if role not in STAFF_ROLES:
        raise ValidationError({"role": "Choose a staff role."})
    return _create(
        request,
        by=by,
        email=email,
        role=role,
        first_name=first_name,
        last_name=last_name,
        credentials=credentials if role == Invitation.Role.PSYCHIATRIST else "",
    )


def invite_patient(patient: Patient, *, email: str, by: User, request=None) -> tuple[Invitation, str]:
    """A portal invitation linked to ``patient``'s record. Refused when the record already has a
    login or an open invitation."""
    with transaction.atomic():
        # Locked: an invitation accepted at this moment links the record under the same lock.
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        if patient.user_id is not None:
            raise ValidationError("This patient already has a portal account.")
        if Invitation.objects.open().filter(patient=patient).exists():
            raise ValidationError("This patient already has an open invitation. Resend or revoke it.")
        return _create(
            request,
            by=by,
            patient=patient,
            email=email,
            role=Invitation.Role.PATIENT,
            first_name=patient.preferred_name or patient.legal_first_name,
            last_name=patient.legal_last_name,
        )


def resend(invitation: Invitation, *, by: User, request=None) -> str:
    """A new token and a new expiry: the link sent before is dead from now on."""
    token, token_hash = _new_token()
    now = timezone.now()
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.is_open:
            raise ValidationError("This invitation was already used or revoked.")
        locked.token_hash = token_hash
        locked.sent_at = now
        locked.expires_at = _expiry(now)
        locked.send_count += 1
        locked.save(update_fields=["token_hash", "sent_at", "expires_at", "send_count"])
        audit.record(
            AuditEvent.Action.UPDATE,
            request=request,
            actor=by,
            patient=locked.patient_id,
            obj=locked,
            detail={"event": "invitation_resent"},
        )
    invitation.refresh_from_db()
    return token


def revoke(invitation: Invitation, *, by: User, request=None) -> Invitation:
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.is_open:
            raise ValidationError("This invitation was already used or revoked.")
        locked.revoked_at = timezone.now()
        locked.revoked_by = by
        locked.save(update_fields=["revoked_at", "revoked_by"])
        audit.record(
            AuditEvent.Action.UPDATE,
            request=request,
            actor=by,
            patient=locked.patient_id,
            obj=locked,
            detail={"event": "invitation_revoked"},
        )
    return locked


def send(invitation: Invitation, token: str, request) -> bool:
    """Email the link. Call after the invitation is committed. False if the mail server refused:
    the invitation stands and can be resent."""
    url = request.build_absolute_uri(reverse("invitation_accept", args=[token]))
    context = {
        "clinic_name": clinic().name,
        "accept_url": url,
        "expires_at": invitation.expires_at,
        "days": settings.TITRATE_INVITATION_DAYS,
        "staff": invitation.role != Invitation.Role.PATIENT,
    }
    try:
        get_adapter(request).send_mail("account/email/invitation", invitation.email, context)
    except Exception:  # an SMTP error, a refused connection: the admin is told and can resend
        logger.exception("Invitation %s could not be emailed.", invitation.pk)
        return False
    return True


def find(token: str) -> Invitation | None:
    """The open, unexpired invitation this token opens; None for any other token."""
    if not token or len(token) > 100:
        return None
    invitation = Invitation.objects.open().filter(token_hash=_hash(token)).first()
    if invitation is None or invitation.is_expired:
        return None
    return invitation


def accept(token: str, *, password: str, first_name: str = "", last_name: str = "", request=None) -> User:
    """Make the account the invitation names, with the invitee's own password; the link is used up.

    The password is checked by the caller's form (Django's validators for this role). Raises
    ValidationError if the link stopped working meanwhile or the address was taken.
    """
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().open().filter(token_hash=_hash(token)).first()
        if invitation is None or invitation.is_expired:
            raise ValidationError(LINK_REFUSED)
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ValidationError("This address already belongs to an account. Sign in instead.")
        patient = None
        if invitation.patient_id is not None:
            patient = Patient.objects.select_for_update().get(pk=invitation.patient_id)
            if patient.user_id is not None:
                raise ValidationError("This patient record already has a portal account. Sign in instead.")
        user = User.objects.create_user(
            email=invitation.email,
            password=password,
            role=user_role(invitation.role),
            first_name=(first_name or invitation.first_name).strip(),
            last_name=(last_name or invitation.last_name).strip(),
            credentials=invitation.credentials,
        )
        if invitation.role == Invitation.Role.PRIVACY_OFFICER:
            user.groups.add(privacy_officer_group())
        # The link reached this address: it is verified, with no second confirmation email.
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        if patient is not None:
            patient.user = user
            patient.save(update_fields=["user"])
        invitation.accepted_at = timezone.now()
        invitation.user = user
        invitation.save(update_fields=["accepted_at", "user"])
        audit.record(
            AuditEvent.Action.CREATE,
            request=request,
            actor=user,
            patient=patient,
            obj=invitation,
            detail={"event": "invitation_accepted", "role": invitation.role, "user": user.pk},
        )
    return user
