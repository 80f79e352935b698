"""The waitlist: when a slot frees, the first eligible waiting patient is offered it with a
hold; an offer that is not taken in time passes to the next patient."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from appointments import reminders, slots
from appointments.models import AppointmentType, WaitlistEntry
from clinic.contact import call_the_clinic
from clinic.models import User
from patients.models import Patient

HOLD = datetime.timedelta(hours=4)


@transaction.atomic
def join(*, patient: Patient, appointment_type: AppointmentType, wanted_before: datetime.datetime) -> WaitlistEntry:
    psychiatrist = patient.primary_psychiatrist
    if psychiatrist is None:
        raise ValidationError(
            gettext("You need a psychiatrist before joining the waitlist. Please %(call)s.")
            % {"call": call_the_clinic()}
        )
    if WaitlistEntry.objects.filter(
        patient=patient, psychiatrist=psychiatrist, status__in=["waiting", "offered"]
    ).exists():
        raise ValidationError(gettext("You are already on the waitlist."))
    return WaitlistEntry.objects.create(
        patient=patient, psychiatrist=psychiatrist, appointment_type=appointment_type, wanted_before=wanted_before
    )


@transaction.atomic
def leave(entry: WaitlistEntry) -> None:
    WaitlistEntry.objects.filter(pk=entry.pk, status__in=["waiting", "offered"]).update(
        status=WaitlistEntry.Status.CANCELLED
    )


def offer_freed_slot(psychiatrist: User, start: datetime.datetime, end: datetime.datetime) -> WaitlistEntry | None:
    """Offer a freed slot to the first waiting patient it suits (their wanted_before is later,
    the type fits the slot, they are free then). Called inside the cancel/move transaction."""
    now = timezone.now()
    if start <= now:
        return None
    candidates = (
        WaitlistEntry.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(psychiatrist=psychiatrist, status=WaitlistEntry.Status.WAITING, wanted_before__gt=start)
        .select_related("appointment_type", "patient__user")
        .order_by("created_at", "id")
    )
    for entry in candidates:
        slot_end = start + entry.appointment_type.duration
        if slot_end > end:
            continue
        try:
            slots.check_slot(patient=entry.patient, psychiatrist=psychiatrist, start=start, end=slot_end)
        except ValidationError:
            continue
        entry.status = WaitlistEntry.Status.OFFERED
        entry.offer_start, entry.offer_end = start, slot_end
        entry.offer_expires_at = min(now + HOLD, start)
        entry.save(update_fields=["status", "offer_start", "offer_end", "offer_expires_at"])
        reminders.notify_waitlist_offer(entry)
        return entry
    return None


def decline(entry: WaitlistEntry) -> None:
    """The patient passes: the slot goes to the next in line, and they keep waiting."""
    with transaction.atomic():
        entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
        if entry.status != WaitlistEntry.Status.OFFERED:
            return
        start, end = entry.offer_start, entry.offer_end
        entry.status = WaitlistEntry.Status.WAITING
        entry.offer_start = entry.offer_end = entry.offer_expires_at = None
        # Move to the back so the slot is not offered straight back.
        entry.created_at = timezone.now()
        entry.save(update_fields=["status", "offer_start", "offer_end", "offer_expires_at", "created_at"])
        offer_freed_slot(entry.psychiatrist, start, end)


def expire_offers() -> int:
    """Periodic: lapsed offers return to waiting (at the back) and the slot goes to the next patient."""
    lapsed = list(
        WaitlistEntry.objects.filter(status=WaitlistEntry.Status.OFFERED, offer_expires_at__lte=timezone.now())
    )
    for entry in lapsed:
        decline(entry)
    return len(lapsed)
