"""Emergency ("break-glass") access to a chart outside one's care team: time-boxed, reasoned,
audited and told to the privacy officers at once (security.md; the access rule that honours an
open grant is clinic.access). The page is clinic.privacy_views.break_glass."""

from __future__ import annotations

import datetime
import re
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic import audit
from clinic.mfa_forms import claim_totp_step
from clinic.models import AuditEvent, BreakGlassGrant, Notification, User
from notifications import kinds, messages, outbox
from patients.models import Patient

# The notice is about a past event: worth telling for a day, not forever.
NOTICE_TTL = datetime.timedelta(days=1)
# The cap counts grants started in a rolling window, not per calendar day: no midnight reset.
CAP_WINDOW = datetime.timedelta(hours=24)

# What a reason must have beyond its length (issue 18: "aaaaaaaaaaaaaaaaaaaa" was accepted).
MIN_DISTINCT_WORDS = 3
MIN_DISTINCT_LETTERS = 8
_WORD = re.compile(r"[^\W\d_]+")
_LETTER_RUN = re.compile(r"([^\W\d_])\1{4,}")


def filler_problem(text: str) -> str | None:
    """Why ``text`` reads as filler typed to get past the form rather than a reason, or None.

    Privacy officers must be able to judge the emergency from it, so it needs a few different
    words (of two letters or more), a spread of letters, no letter held down, and no word making
    up half of it. Deliberately simple rules: they stop keyboard mashing, not a determined liar —
    the review by the privacy officer does that.
    """
    words = _WORD.findall(text.lower())
    if _LETTER_RUN.search(text.lower()):
        return "Write the reason in words: it repeats one letter."
    if len({word for word in words if len(word) > 1}) < MIN_DISTINCT_WORDS:
        return f"Write the reason in at least {MIN_DISTINCT_WORDS} different words."
    if len(set("".join(words))) < MIN_DISTINCT_LETTERS:
        return "Write the reason in words: it repeats the same few letters."
    if len(words) >= 4 and Counter(words).most_common(1)[0][1] * 2 > len(words):
        return "Write the reason in words: it repeats one word."
    return None


def grants_in_window(user: User, now: datetime.datetime | None = None) -> int:
    now = now or timezone.now()
    return BreakGlassGrant.objects.filter(user=user, started_at__gt=now - CAP_WINDOW).count()


def cosign_required(user: User) -> bool:
    """Over TITRATE_BREAK_GLASS_DAILY_CAP grants in 24 hours, a second psychiatrist co-signs."""
    return grants_in_window(user) >= settings.TITRATE_BREAK_GLASS_DAILY_CAP


class CosignError(Exception):
    pass


def verify_cosigner(request, *, requester: User, email: str, password: str, code: str) -> User:
    """The second psychiatrist, at the requester's side, proves who they are with their password
    and their authenticator's current code, as at sign-in. A wrong password goes through allauth's
    authentication, so it is audited as a failed login and spends their failed-login budget; a
    wrong code is refused the same way. One message for every failure: the form does not say
    whether an address belongs to a psychiatrist."""
    from allauth.account.adapter import get_adapter
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP
    from django.core.exceptions import ValidationError

    refused = CosignError("The second psychiatrist's sign-in details or code were not accepted.")
    try:
        cosigner = get_adapter(request).authenticate(request, email=email.strip().lower(), password=password)
    except ValidationError:  # their failed-login budget is spent
        raise refused from None
    if cosigner is None or cosigner.pk == requester.pk:
        raise refused
    if not cosigner.is_active or cosigner.role != User.Role.PSYCHIATRIST:
        raise refused
    totp = Authenticator.objects.filter(user=cosigner, type=Authenticator.Type.TOTP).first()
    # A code is single-use across sign-in and co-signing alike (clinic.mfa_forms, issue 18 item 2).
    if totp is None or not TOTP(totp).validate_code(code.strip()) or not claim_totp_step(totp, code.strip()):
        raise refused
    return cosigner


def refuse(*, user: User, request, refused: list[str], patient: Patient | None) -> None:
    """Audit a refused emergency access (issue 18). The patient, if the MRN named one, goes in
    ``detail["patient_ids"]`` rather than the row's patient: the privacy officer's patient filter
    finds it, while the patient's "who viewed my record" does not list an access that never
    happened. Never the typed reason or MRN."""
    audit.record(
        AuditEvent.Action.BREAK_GLASS_REFUSED,
        request=request,
        actor=user,
        detail={"refused": refused, "patient_ids": [patient.pk] if patient is not None else []},
    )


def privacy_officers() -> QuerySet[User]:
    """Active users who hold the permission directly, through a group, or as superusers."""
    return User.objects.filter(
        Q(is_superuser=True)
        | Q(user_permissions__codename="view_audit_log", user_permissions__content_type__app_label="clinic")
        | Q(groups__permissions__codename="view_audit_log", groups__permissions__content_type__app_label="clinic"),
        is_active=True,
    ).distinct()


def start(
    *,
    user: User,
    patient: Patient,
    reason_code: str,
    reason: str,
    cosigner: User | None = None,
    request=None,
) -> BreakGlassGrant:
    """Grant, audit and notify in one transaction: no access without its trail and its notice."""
    minutes = settings.TITRATE_BREAK_GLASS_MINUTES
    with transaction.atomic():
        now = timezone.now()
        grant = BreakGlassGrant.objects.create(
            user=user,
            patient=patient,
            reason_code=reason_code,
            reason=reason,
            cosigned_by=cosigner,
            started_at=now,
            expires_at=now + datetime.timedelta(minutes=minutes),
        )
        detail = {"minutes": minutes, "reason_code": reason_code}
        if cosigner is not None:
            detail["cosigned_by"] = cosigner.pk
        audit.record(
            AuditEvent.Action.BREAK_GLASS,
            request=request,
            actor=user,
            patient=patient,
            obj=grant,
            detail=detail,
        )
        rows = []
        for officer in privacy_officers():
            rows += outbox.send_now_rows(
                officer,
                key=f"break_glass:{grant.pk}:{officer.pk}",
                kind=Notification.Kind.BREAK_GLASS_USED,
                expires_at=now + NOTICE_TTL,
                sms=False,
            )
        outbox.insert(rows)
    return grant


def _context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    # The review list, never the grant or the patient.
    return {"details_url": messages.url("privacy_break_glass", absolute=absolute)}


def register_kinds() -> None:
    """Called from PatientsConfig.ready()."""
    kinds.register(Notification.Kind.BREAK_GLASS_USED, context=_context)
