"""The audit trail: one append-only row per security-relevant event.

Authentication events come from Django's and allauth's signals (they cover the
allauth pages and the admin alike); PHI reads and writes call :func:`record`
from the domain functions that perform them.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from clinic.models import AuditEvent

USER_AGENT_MAX = 300


def client_ip(request: HttpRequest | None) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless the proxy
    # rewrites it, and gunicorn's forwarded_allow_ips already handles trusted proxies.
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor=None,
    patient=None,
    obj=None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    user_agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_role=getattr(actor, "role", "") or "",
        patient=patient,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        ip_address=client_ip(request),
        user_agent=user_agent[:USER_AGENT_MAX],
        detail=detail or {},
    )


def _on_login(sender, request, user, **kwargs) -> None:
    record(AuditEvent.Action.LOGIN, request=request, actor=user)


def _on_logout(sender, request, user, **kwargs) -> None:
    # user is None when the session had already expired.
    record(AuditEvent.Action.LOGOUT, request=request, actor=user)


def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked the password in ``credentials``.
    attempted = (credentials.get("email") or credentials.get("username") or "").strip().lower()
    actor = get_user_model().objects.filter(email=attempted).first() if attempted else None
    record(
        AuditEvent.Action.LOGIN_FAILED,
        request=request,
        actor=actor,
        detail={"attempted_login": attempted[:254]},
    )


def _on_mfa_event(action: str):
    def receiver(sender, request, user, authenticator, **kwargs) -> None:
        detail = {"authenticator_type": authenticator.type}
        if kwargs.get("reauthenticated") or kwargs.get("reauthentication"):
            detail["reauthentication"] = True
        record(action, request=request, actor=user, detail=detail)

    return receiver


def _on_authenticator_added(sender, request, user, authenticator, **kwargs) -> None:
    from allauth.account.internal.flows.login import record_authentication

    # Activating TOTP or a security key means typing a valid code from the
    # device, so it counts as having passed the second factor this session.
    if request is not None and authenticator.type != authenticator.Type.RECOVERY_CODES:
        record_authentication(request, user, "mfa", type=authenticator.type, activated=True)


_receivers: list = []


def connect_signals() -> None:
    from allauth.mfa import signals as mfa_signals

    user_logged_in.connect(_on_login, dispatch_uid="audit_login")
    user_logged_out.connect(_on_logout, dispatch_uid="audit_logout")
    user_login_failed.connect(_on_login_failed, dispatch_uid="audit_login_failed")
    pairs = [
        (mfa_signals.authenticator_added, AuditEvent.Action.MFA_ADDED),
        (mfa_signals.authenticator_removed, AuditEvent.Action.MFA_REMOVED),
        (mfa_signals.authenticator_reset, AuditEvent.Action.MFA_RESET),
        (mfa_signals.authenticator_used, AuditEvent.Action.MFA_USED),
        (mfa_signals.authentication_failed, AuditEvent.Action.MFA_FAILED),
    ]
    for signal, action in pairs:
        receiver = _on_mfa_event(action)
        # Signals hold weak references; keep the closures alive.
        _receivers.append(receiver)
        signal.connect(receiver, dispatch_uid=f"audit_{action}")
    mfa_signals.authenticator_added.connect(_on_authenticator_added, dispatch_uid="mfa_added_counts")
