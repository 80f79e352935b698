"""Secure messages as people send them: a patient's message is triaged like a side-effect report
(medications.side_effects.assess_for_patient, the one triage entry point over the whole regimen)
and an emergency or urgent one raises the same alert and escalation (side_effects.raise_alert_for);
staff write replies and care-team notes. Each call writes one audit row.

Storage, access and notices are medications.threads'.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from clinic import audit
from clinic.models import Alert, AuditEvent, User
from medications import language, side_effects, threads
from medications.models import Message, MessageThread, TriageLevel
from patients import alerts
from patients.models import Patient


@transaction.atomic
def start_thread(
    *, patient: Patient, author: User, kind: str, category: str, subject: str, text: str, request=None
) -> Message:
    """A new conversation and its first message (a patient's is triaged)."""
    threads.clean_text(text)  # before the thread exists: a refused message leaves nothing behind
    thread = threads.new_thread(patient=patient, kind=kind, category=category, subject=subject, created_by=author)
    return send(thread, author=author, text=text, request=request, created=True)


@transaction.atomic
def send(thread: MessageThread, *, author: User, text: str, request=None, created: bool = False) -> Message:
    """Add a message to ``thread``. A patient's message is triaged against their regimen first; an
    emergency or urgent one pages the care team exactly as a side-effect report does."""
    detail: dict = {"thread": thread.pk}
    if author.role == User.Role.PATIENT:
        text = threads.clean_text(text)
        result = side_effects.assess_for_patient(thread.patient, text=text)
        message = threads.post(
            thread,
            author=author,
            text=text,
            triage_level=result.level,
            urgent_reasons=result.reasons,
            language=language.detect(text),
        )
        detail |= side_effects.raise_alert_for(message, patient=thread.patient, result=result, request=request)
    else:
        message = threads.post(thread, author=author, text=text)
        # Whoever answers has seen what the patient wrote: its alerts must not escalate (as a
        # reply to a side-effect report acknowledges the report's alert).
        acknowledged = [
            alert.pk
            for alert in open_alerts(thread)
            if alerts.acknowledge(alert, actor=author, request=request, audited=False)
        ]
        if acknowledged:
            detail["alerts_acknowledged"] = acknowledged
    if created:
        detail["change"] = "thread started"
    audit.record(
        AuditEvent.Action.CREATE, request=request, actor=author, patient=thread.patient, obj=message, detail=detail
    )
    return message


def open_alerts(thread: MessageThread) -> list[Alert]:
    """The unacknowledged alerts raised by the patient's messages in ``thread``."""
    ids = Message.objects.filter(thread=thread, from_patient=True).exclude(triage_level=TriageLevel.ROUTINE)
    return list(
        Alert.objects.filter(
            source_type=ContentType.objects.get_for_model(Message),
            source_id__in=[str(pk) for pk in ids.values_list("pk", flat=True)],
            acknowledged_at__isnull=True,
        )
    )


@transaction.atomic
def assign(thread: MessageThread, *, actor: User, to: User | None, request=None) -> None:
    threads.assign(thread, to=to)
    audit.record(
        AuditEvent.Action.UPDATE,
        request=request,
        actor=actor,
        patient=thread.patient,
        obj=thread,
        detail={"change": "assigned", "assigned_to": to.pk if to else None},
    )


@transaction.atomic
def mark_done(thread: MessageThread, *, actor: User, request=None) -> None:
    threads.mark_done(thread, actor=actor)
    audit.record(
        AuditEvent.Action.UPDATE, request=request, actor=actor, patient=thread.patient, obj=thread,
        detail={"change": "done"},
    )  # fmt: skip
