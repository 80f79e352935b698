"""Safety alerts: raised when a patient's report, questionnaire or result signals danger,
acknowledged by the care team, escalated once to the on-call contact when nobody does.

- ``raise_alert`` (called by side-effect triage, questionnaires, lab results) stores the alert and
  puts PHI-free SAFETY_ALERT notifications for the patient's psychiatrists in the outbox, sent at
  once (staff work alerts are not held for quiet hours).
- ``acknowledge`` is the care team's "I have seen it": it stops escalation.
- ``escalate_overdue`` (beat, every minute) escalates alerts past their deadline. The claim is a
  conditional UPDATE (``escalated_at IS NULL AND acknowledged_at IS NULL``): only the worker that
  changed the row sends, so two sweeps never escalate twice, and an acknowledged alert never
  escalates. No broker ETA is involved: the deadline is a column (DESIGN.md, "an outbox, not ETAs").

See docs/alerts.md for the on-call design.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from clinic import audit, contact
from clinic.access import patients_for
from clinic.models import Alert, AuditEvent, Notification, User
from notifications import kinds, messages, outbox
from notifications.preferences import enabled_channels

logger = logging.getLogger(__name__)

Kind, Channel = Notification.Kind, Notification.Channel
LEVELS = ("emergency", "urgent", "routine")
# An alert notification that could not go out within a day is stale: the escalation and the
# psychiatrist home have taken over by then.
ALERT_NOTICE_TTL = datetime.timedelta(hours=24)


def escalate_delay() -> datetime.timedelta:
    return datetime.timedelta(minutes=settings.TITRATE_ALERT_ESCALATE_MINUTES)


# -- Who hears about it ------------------------------------------------------------------------


def care_team_psychiatrists(patient) -> list[User]:
    """The psychiatrists who may open this patient (clinic.access.patients_for): the primary
    psychiatrist and the shared-care team, active ones only, primary first."""
    team: dict[int, User] = {}
    primary = patient.primary_psychiatrist
    if primary is not None and primary.is_active and primary.is_psychiatrist:
        team[primary.pk] = primary
    for user in patient.care_team.filter(is_active=True, role=User.Role.PSYCHIATRIST).order_by("pk"):
        team.setdefault(user.pk, user)
    return list(team.values())


def on_call_contacts() -> tuple[User | None, list[User]]:
    """(the on-call user, everyone to notify). The on-call user is the active psychiatrist or
    clinic admin named as on-call in the clinic profile (else TITRATE_ON_CALL_EMAIL); without one,
    every active clinic admin is told (and the escalation records no single on-call user)."""
    email = contact.clinic().on_call_email
    if email:
        user = User.objects.filter(
            email__iexact=email, is_active=True, role__in=[User.Role.PSYCHIATRIST, User.Role.CLINIC_ADMIN]
        ).first()
        if user is not None:
            return user, [user]
        logger.error("The on-call contact is no active psychiatrist or clinic admin; telling clinic admins.")
    else:
        logger.warning("No on-call contact is set; escalating to clinic admins.")
    admins = list(User.objects.filter(role=User.Role.CLINIC_ADMIN, is_active=True).order_by("pk"))
    return None, admins


def _notify(alert: Alert, users: Iterable[User], kind: str) -> list[Notification]:
    """Send-now rows on each channel the user enabled (SMS too: this is a page), keyed by alert,
    user and channel so a retried call adds nothing."""
    now = timezone.now()
    rows = []
    for user in users:
        for channel in enabled_channels(user):
            rows.append(
                outbox.new_row(
                    idempotency_key=f"{kind}:{alert.pk}:{user.pk}:{channel}",
                    kind=kind,
                    channel=channel,
                    recipient=user,
                    patient=alert.patient,
                    send_at=now,
                    expires_at=now + ALERT_NOTICE_TTL,
                )
            )
    return outbox.insert(rows)


# -- Raising -----------------------------------------------------------------------------------


def _source_key(source) -> tuple[ContentType | None, str]:
    if source is None:
        return None, ""
    if source.pk is None:
        raise ValueError("Save the source before raising an alert about it.")
    return ContentType.objects.get_for_model(source), str(source.pk)


@transaction.atomic
def raise_alert(*, patient, level: str, reasons: list[str], source, request=None, audited: bool = True) -> Alert | None:
    """Record an alert about ``patient`` and tell their psychiatrists. Routine: nothing, None.

    ``source`` is the saved model instance that caused it; one alert per source, so calling
    this again for the same source returns the existing alert and sends nothing new.
    Runs in the caller's transaction; notifications are published after commit.
    ``audited=False``: the caller's own audit row names the alert (one row per request).
    """
    if level not in LEVELS:
        raise ValueError(f"Unknown alert level {level!r}; use one of {', '.join(LEVELS)}.")
    if level == "routine":
        return None
    reasons = [str(reason) for reason in reasons]
    source_type, source_id = _source_key(source)
    if source_type is not None:
        existing = Alert.objects.filter(source_type=source_type, source_id=source_id).first()
        if existing is not None:
            return existing
    psychiatrists = care_team_psychiatrists(patient)
    now = timezone.now()
    alert = Alert.objects.create(
        patient=patient,
        level=level,
        reasons=reasons,
        source_type=source_type,
        source_id=source_id,
        created_at=now,
        # Nobody to tell: the next sweep escalates it at once rather than an hour from now.
        escalate_after=now + escalate_delay() if psychiatrists else now,
    )
    _notify(alert, psychiatrists, Kind.SAFETY_ALERT)
    if audited:
        audit.record(
            AuditEvent.Action.CREATE,
            request=request,
            patient=patient,
            obj=alert,
            detail={"event": "alert_raised", "level": level, "notified": len(psychiatrists)},
        )
    if not psychiatrists:
        logger.warning("Alert %s: the patient has no active psychiatrist; escalating at the next sweep.", alert.pk)
    return alert


# -- Reading -----------------------------------------------------------------------------------


def alerts_for(user: User):
    """Alerts the user may see: those of patients on their care team (psychiatrists only)."""
    if not user.is_authenticated or not user.is_active or user.role != User.Role.PSYCHIATRIST:
        return Alert.objects.none()
    return Alert.objects.filter(patient__in=patients_for(user).values("pk"))


def source_url(alert: Alert) -> str:
    """A staff link to what raised the alert: the source's own page if it has one
    (``get_staff_url()``, or a side-effect report), else the patient's chart."""
    if alert.source_type_id and alert.source_id:
        model = alert.source_type.model_class() if alert.source_type else None
        if model is not None and model._meta.label_lower == "medications.sideeffectreport":
            return reverse("medications:report_detail", args=[alert.patient_id, int(alert.source_id)])
        source = alert.source
        if source is not None and hasattr(source, "get_staff_url"):
            return source.get_staff_url()
    return reverse("patients:chart", args=[alert.patient_id])


def source_label(alert: Alert) -> str:
    if alert.source_type_id and alert.source_type:
        return str(alert.source_type.model_class()._meta.verbose_name).capitalize()
    return "Alert"


# -- Acknowledging -----------------------------------------------------------------------------


@transaction.atomic
def acknowledge(alert: Alert, *, actor: User, request=None, audited: bool = True) -> bool:
    """Mark it seen. Returns False if someone already had (nothing changes then).

    ``audited=False``: the caller's own audit row names the alert (one row per request)."""
    updated = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=actor
    )
    alert.refresh_from_db(fields=["acknowledged_at", "acknowledged_by"])
    if updated and audited:
        audit.record(
            AuditEvent.Action.UPDATE,
            request=request,
            actor=actor,
            patient=alert.patient,
            obj=alert,
            detail={"change": "acknowledged", "level": alert.level},
        )
    return bool(updated)


# -- Escalating --------------------------------------------------------------------------------


def escalate(alert_id: int, *, now: datetime.datetime | None = None) -> bool:
    """Escalate one overdue alert, exactly once. Returns True only for the caller that did it."""
    now = now or timezone.now()
    with transaction.atomic():
        on_call, recipients = on_call_contacts()
        claimed = Alert.objects.filter(
            pk=alert_id, acknowledged_at__isnull=True, escalated_at__isnull=True, escalate_after__lte=now
        ).update(escalated_at=now, escalated_to=on_call)
        if not claimed:
            return False  # acknowledged meanwhile, or another worker escalated it
        alert = Alert.objects.select_related("patient").get(pk=alert_id)
        _notify(alert, recipients, Kind.ALERT_ESCALATED)
        audit.record(
            AuditEvent.Action.UPDATE,
            actor=None,
            patient=alert.patient,
            obj=alert,
            detail={
                "change": "escalated",
                "level": alert.level,
                "escalated_to": on_call.pk if on_call else None,
                "notified": len(recipients),
            },
        )
    if not recipients:
        logger.error("Alert %s escalated but there is no on-call contact or clinic admin to tell.", alert_id)
    return True


def escalate_overdue(*, now: datetime.datetime | None = None, limit: int = 200) -> list[int]:
    """The sweep: escalate every overdue alert; returns the ids this call escalated."""
    now = now or timezone.now()
    due = list(Alert.objects.overdue(now).order_by("escalate_after").values_list("pk", flat=True)[:limit])
    return [pk for pk in due if escalate(pk, now=now)]


def alert_for_source(source) -> Alert | None:
    if source is None or source.pk is None:
        return None
    return Alert.objects.filter(source_type=ContentType.objects.get_for_model(source), source_id=str(source.pk)).first()


# -- What the outbox asks of alert messages --------------------------------------------------


def _alert_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    # The list, never the alert or the patient: the link itself must say nothing.
    name = "alerts" if row.kind == Notification.Kind.SAFETY_ALERT else "alerts_on_call"
    return {
        "details_url": messages.url(name, absolute=absolute),
        "escalate_minutes": str(settings.TITRATE_ALERT_ESCALATE_MINUTES),
    }


def register_kinds() -> None:
    """Called from PatientsConfig.ready()."""
    kinds.register(Notification.Kind.SAFETY_ALERT, Notification.Kind.ALERT_ESCALATED, context=_alert_context)
