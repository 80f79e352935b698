"""What a clinic admin does to accounts (issue 19): deactivate and reactivate, change a staff
member's role, and reset a second factor with a second admin's approval. Every change is audited;
deactivating or changing a role ends the user's sessions at once (clinic.sessions)."""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic import audit, sessions
from clinic.invitations import PRIVACY_OFFICER_GROUP, STAFF_ROLES, privacy_officer_group, user_role
from clinic.models import AuditEvent, Invitation, MFAResetRequest, User
from patients.models import Patient


def _patient_id(user: User) -> int | None:
    """The record a patient's account is linked to: audit rows about the account name it."""
    if user.role != User.Role.PATIENT:
        return None
    return Patient.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()


def _record(action: str, user: User, event: str, *, by: User, request=None, **detail) -> None:
    audit.record(
        action,
        request=request,
        actor=by,
        patient=_patient_id(user),
        obj=user,
        detail={"event": event, **detail},
    )


def is_privacy_officer(user: User) -> bool:
    return user.groups.filter(name=PRIVACY_OFFICER_GROUP).exists()


def deactivate(user: User, *, by: User, request=None) -> User:
    """The account can no longer sign in, and every session it has ends now."""
    if user.pk == by.pk:
        raise ValidationError("You cannot deactivate your own account. Ask another clinic admin.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.is_active:
            raise ValidationError("This account is already deactivated.")
        user.is_active = False
        # update_fields names is_active: clinic.sessions ends every session on this save.
        user.save(update_fields=["is_active"])
        _record(AuditEvent.Action.UPDATE, user, "user_deactivated", by=by, request=request)
    return user


def reactivate(user: User, *, by: User, request=None) -> User:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_active:
            raise ValidationError("This account is already active.")
        user.is_active = True
        user.save(update_fields=["is_active"])
        _record(AuditEvent.Action.UPDATE, user, "user_reactivated", by=by, request=request)
    return user


def role_of(user: User, privacy_officer: bool) -> str:
    """The invitation-style role shown and chosen on the users page."""
    if user.role == User.Role.CLINIC_ADMIN and privacy_officer:
        return Invitation.Role.PRIVACY_OFFICER
    return user.role


def change_role(user: User, role: str, *, by: User, request=None) -> User:
    """Psychiatrist, clinic admin or privacy officer, for staff accounts. A patient's account stays
    a patient's (it is linked to their record), and nobody changes their own role. The user's
    sessions end, so the new role applies from their next sign-in."""
    if role not in STAFF_ROLES:
        raise ValidationError({"role": "Choose a staff role."})
    if user.role == User.Role.PATIENT:
        raise ValidationError("A patient's account cannot be given a staff role. Invite the person as staff.")
    if user.pk == by.pk:
        raise ValidationError("You cannot change your own role. Ask another clinic admin.")
    new_role = user_role(role)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        old = role_of(user, is_privacy_officer(user))
        if old == role:
            raise ValidationError({"role": "That is already this person's role."})
        if user.role == User.Role.PSYCHIATRIST and new_role != User.Role.PSYCHIATRIST:
            caring = Patient.objects.filter(primary_psychiatrist=user).exists() or user.shared_patients.exists()
            if caring:
                raise ValidationError(
                    "This psychiatrist is on patients' care teams. Move those patients to another "
                    "psychiatrist (their care team pages) first."
                )
        user.role = new_role
        user.save(update_fields=["role"])
        group = privacy_officer_group()
        if role == Invitation.Role.PRIVACY_OFFICER:
            user.groups.add(group)
        else:
            user.groups.remove(group)
        sessions.end_all_sessions(user)
        _record(AuditEvent.Action.UPDATE, user, "role_changed", by=by, request=request, old=old, new=role)
    return user


def has_second_factor(user: User) -> bool:
    return Authenticator.objects.filter(user=user).exists()


def request_mfa_reset(user: User, *, by: User, request=None) -> MFAResetRequest:
    """Ask for ``user``'s authenticators to be removed (a lost phone). Nothing changes until a
    second clinic admin approves."""
    if user.pk == by.pk:
        raise ValidationError("You cannot reset your own second factor. Ask another clinic admin.")
    if not has_second_factor(user):
        raise ValidationError("This account has no second factor to reset.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                reset = MFAResetRequest.objects.create(user=user, requested_by=by)
        except IntegrityError:
            raise ValidationError("A reset for this account is already waiting for approval.") from None
        _record(AuditEvent.Action.CREATE, user, "mfa_reset_requested", by=by, request=request, reset=reset.pk)
    return reset


def _open_request(reset: MFAResetRequest) -> MFAResetRequest:
    locked = MFAResetRequest.objects.select_for_update().select_related("user").get(pk=reset.pk)
    if not locked.is_open:
        raise ValidationError("This reset was already approved or cancelled.")
    return locked


def approve_mfa_reset(reset: MFAResetRequest, *, by: User, request=None) -> MFAResetRequest:
    """The second admin's approval: every authenticator (TOTP, security keys, recovery codes) of
    the user is removed and their sessions end; at their next sign-in they enrol a new one."""
    with transaction.atomic():
        reset = _open_request(reset)
        if by.pk in (reset.requested_by_id, reset.user_id):
            raise ValidationError("A second clinic admin, not the one who asked, must approve this reset.")
        removed = Authenticator.objects.filter(user_id=reset.user_id).delete()[0]
        reset.approved_by = by
        reset.approved_at = timezone.now()
        reset.save(update_fields=["approved_by", "approved_at"])
        sessions.end_all_sessions(reset.user)
        _record(
            AuditEvent.Action.MFA_RESET,
            reset.user,
            "mfa_reset_approved",
            by=by,
            request=request,
            reset=reset.pk,
            requested_by=reset.requested_by_id,
            authenticators_removed=removed,
        )
    return reset


def cancel_mfa_reset(reset: MFAResetRequest, *, by: User, request=None) -> MFAResetRequest:
    with transaction.atomic():
        reset = _open_request(reset)
        reset.cancelled_at = timezone.now()
        reset.save(update_fields=["cancelled_at"])
        _record(AuditEvent.Action.UPDATE, reset.user, "mfa_reset_cancelled", by=by, request=request, reset=reset.pk)
    return reset
