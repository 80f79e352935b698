"""Emergency ("break-glass") access to a chart outside one's care team: time-boxed, reasoned,
audited and told to the privacy officers at once (security.md; the access rule that honours an
open grant is clinic.access). The page is clinic.privacy_views.break_glass."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEvent, BreakGlassGrant, Notification, User
from notifications import kinds, messages, outbox
from patients.models import Patient

# The notice is about a past event: worth telling for a day, not forever.
NOTICE_TTL = datetime.timedelta(days=1)


def privacy_officers() -> QuerySet[User]:
    """Active users who hold the permission directly, through a group, or as superusers."""
    return User.objects.filter(
        Q(is_superuser=True)
        | Q(user_permissions__codename="view_audit_log", user_permissions__content_type__app_label="clinic")
        | Q(groups__permissions__codename="view_audit_log", groups__permissions__content_type__app_label="clinic"),
        is_active=True,
    ).distinct()


def start(*, user: User, patient: Patient, reason: str, request=None) -> BreakGlassGrant:
    """Grant, audit and notify in one transaction: no access without its trail and its notice."""
    minutes = settings.TITRATE_BREAK_GLASS_MINUTES
    with transaction.atomic():
        now = timezone.now()
        grant = BreakGlassGrant.objects.create(
            user=user,
            patient=patient,
            reason=reason,
            started_at=now,
            expires_at=now + datetime.timedelta(minutes=minutes),
        )
        audit.record(
            AuditEvent.Action.BREAK_GLASS,
            request=request,
            actor=user,
            patient=patient,
            obj=grant,
            detail={"minutes": minutes},
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
