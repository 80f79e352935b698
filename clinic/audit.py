"""The audit trail: one append-only row per security-relevant event.

Authentication events come from Django's and allauth's signals (they cover the
allauth pages and the admin alike); PHI reads and writes call :func:`record`
from the domain functions that perform them.

Tamper evidence: every row stores ``prev_hash`` (the previous row's ``row_hash``)
and ``row_hash`` = sha256 over a canonical serialisation of its own fields plus
``prev_hash``. Appends are serialised (a PostgreSQL advisory lock, SQLite's write
lock) inside the caller's transaction, so the chain follows id order and never
forks; ``manage.py verify_audit`` walks it. On PostgreSQL a trigger refuses UPDATE
and DELETE on the table (migration 0006).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import connections, router, transaction
from django.http import HttpRequest
from django.utils.ipv6 import clean_ipv6_address

from clinic.models import AuditEvent, BreakGlassGrant

USER_AGENT_MAX = 300


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: REMOTE_ADDR, or behind ``TITRATE_TRUSTED_PROXIES`` proxies of ours
    the address the outermost of them saw, read from X-Forwarded-For counting from the right.

    Each proxy appends the address it received the request from, so only the last N entries were
    written by machines we trust; anything left of them is whatever the client sent and is never
    read (a forged header cannot pick the address that rate limits and the audit trail see).
    gunicorn does not rewrite REMOTE_ADDR, so behind a proxy it is always the proxy's. The same
    address feeds the audit rows, allauth's per-address rate limits and the sessions list
    (clinic.adapters.AccountAdapter.get_client_ip).
    """
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    trusted = settings.TITRATE_TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not trusted or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    # Fewer entries than proxies: every entry is still one of ours; the leftmost is the client.
    candidate = hops[-trusted] if len(hops) >= trusted else hops[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # A proxy of ours wrote something that is no address (misconfiguration): do not guess.
        return remote


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
    grant_id = _break_glass_grant_id(actor, patient)
    if grant_id is not None:
        detail = {**(detail or {}), "break_glass": grant_id}
    event = AuditEvent(
        action=action,
        actor=actor,
        actor_role=getattr(actor, "role", "") or "",
        patient_id=patient if isinstance(patient, int) or patient is None else patient.pk,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        ip_address=client_ip(request),
        user_agent=user_agent[:USER_AGENT_MAX],
        detail=detail or {},
    )
    using = router.db_for_write(AuditEvent)
    # Fail closed: this runs in the caller's transaction (no savepoint), so an insert
    # that fails rolls back the change it was recording. Outside any transaction it
    # opens one, so the chain lock is held until the row is committed.
    with transaction.atomic(using=using, savepoint=False):
        event.prev_hash = _lock_chain_head(using)
        event.row_hash = chain_hash(event)
        event.save(force_insert=True, using=using)
    return event


def record_many(action: str, entries) -> list[AuditEvent]:
    """Append one row per ``(patient, obj, detail)`` entry for a system event (no actor, no
    request), e.g. a batch of notifications sent: the same rows ``record`` would write one by one,
    chained under ONE acquisition of the append lock and inserted in one statement.

    Fail closed like ``record``: it runs in the caller's transaction without a savepoint. The
    rows are inserted in chain order, so their ids follow the chain as ``verify_audit`` expects.
    """
    events = [
        AuditEvent(
            action=action,
            actor=None,
            actor_role="",
            patient_id=patient if isinstance(patient, int) or patient is None else patient.pk,
            object_type=obj._meta.label if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            ip_address=None,
            user_agent="",
            detail=detail or {},
        )
        for patient, obj, detail in entries
    ]
    if not events:
        return []
    using = router.db_for_write(AuditEvent)
    with transaction.atomic(using=using, savepoint=False):
        head = _lock_chain_head(using)
        for event in events:
            event.prev_hash = head
            event.row_hash = head = chain_hash(event)
        AuditEvent.objects.using(using).bulk_create(events)
    return events


def page(request: HttpRequest, patient, page: str, obj=None) -> AuditEvent:
    """The one row of a page about one patient that shows their record without changing it
    (a form to add to it, re-rendered with errors too). A valid POST records the change instead."""
    return record(AuditEvent.Action.VIEW, request=request, patient=patient, obj=obj or patient, detail={"page": page})


def record_list(request: HttpRequest, page: str, patient_ids) -> AuditEvent:
    """The one row of a page that lists several patients: which ones were shown, by id."""
    ids = sorted({int(pk) for pk in patient_ids})
    return record(AuditEvent.Action.VIEW, request=request, detail={"page": page, "patient_ids": ids})


def _break_glass_grant_id(actor, patient) -> int | None:
    """The active emergency grant under which ``actor`` reaches ``patient``, if any.

    Only psychiatrists can hold one, so other actors cost no query.
    """
    if patient is None or actor is None or getattr(actor, "role", None) != "psychiatrist":
        return None
    patient_id = patient if isinstance(patient, int) else patient.pk
    return (
        BreakGlassGrant.objects.active()
        .filter(user=actor, patient_id=patient_id)
        .order_by("-expires_at")
        .values_list("id", flat=True)
        .first()
    )


# --- Hash chain -----------------------------------------------------------

GENESIS = "0" * 64
CHAIN_VERSION = 1


def _canonical_ip(value: str | None) -> str | None:
    if value and ":" in value:
        # PostgreSQL's inet prints IPv6 in its own normal form: compare normal forms.
        return clean_ipv6_address(value)
    return value or None


def canonical(event) -> bytes:
    """The bytes a row's hash covers: every field except the id, plus prev_hash.

    The id is left out because the database assigns it after the hash is computed;
    order is still protected, since each row names its predecessor's hash.
    Works on historical (migration) models too. Changing this means a new
    CHAIN_VERSION and a migration that re-chains or marks the cut-over.
    """
    occurred_at = event.occurred_at.astimezone(datetime.UTC)
    payload = {
        "v": CHAIN_VERSION,
        "occurred_at": occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "patient_id": event.patient_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "ip_address": _canonical_ip(event.ip_address),
        "user_agent": event.user_agent,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(event) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


def _lock_chain_head(using: str) -> str:
    """Take the append lock and return the newest row's hash: one query.

    PostgreSQL: clinic_audit_chain_head() (migration 0006) takes a transaction-scoped
    advisory lock and then reads the head; being a VOLATILE function its read gets a
    fresh snapshot after the lock, so it sees the row the previous holder committed.
    SQLite: transactions begin IMMEDIATE (settings), so the caller already holds the
    database's write lock. Either way the lock lasts until the caller commits.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT clinic_audit_chain_head()")
            head = cursor.fetchone()[0]
    else:
        head = AuditEvent.objects.using(using).order_by("-id").values_list("row_hash", flat=True).first()
    return head or GENESIS


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
