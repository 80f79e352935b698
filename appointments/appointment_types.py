"""The clinic's appointment types as a clinic admin sets them up (Clinic set-up): saved, deactivated
or reactivated, and deleted only while no visit or waitlist entry uses them. Each change writes one
audit row (no patient: a type is the clinic's, not anyone's record) in its transaction, and a change
of reminder times reaches the visits already booked (appointments.reminders.reminder_times_changed).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.http import HttpRequest

from appointments import reminders
from appointments.models import Appointment, AppointmentType, WaitlistEntry
from clinic import audit
from clinic.models import AuditEvent

AUDIT_PAGE = "appointment_type"


def save(appointment_type: AppointmentType, *, fields: list[str], request: HttpRequest) -> AppointmentType:
    """Create or change a type; ``fields`` are the fields the admin changed (named in the audit row)."""
    with transaction.atomic():
        creating = appointment_type.pk is None
        previous = None
        if not creating:
            # Locked so two admins saving at once replan from the times each replaced.
            previous = AppointmentType.objects.select_for_update().values_list("reminder_offsets_hours", flat=True)
            previous = previous.get(pk=appointment_type.pk)
        appointment_type.save()
        action = AuditEvent.Action.CREATE if creating else AuditEvent.Action.UPDATE
        detail = {"page": AUDIT_PAGE, "fields": sorted(fields)}
        audit.record(action, request=request, obj=appointment_type, detail=detail)
        if not creating and "reminder_offsets_hours" in fields:
            reminders.reminder_times_changed(appointment_type, previous)
    return appointment_type


def set_active(appointment_type: AppointmentType, active: bool, *, request: HttpRequest) -> bool:
    """Offer the type for new bookings again, or stop offering it. Visits already booked keep it
    (and their reminders). Returns whether anything changed."""
    with transaction.atomic():
        changed = AppointmentType.objects.filter(pk=appointment_type.pk, is_active=not active).update(is_active=active)
        if changed:
            appointment_type.is_active = active
            audit.record(
                AuditEvent.Action.UPDATE,
                request=request,
                obj=appointment_type,
                detail={"page": AUDIT_PAGE, "fields": ["is_active"], "is_active": active},
            )
    return bool(changed)


def in_use(appointment_type: AppointmentType) -> bool:
    return (
        Appointment.objects.filter(appointment_type=appointment_type).exists()
        or WaitlistEntry.objects.filter(appointment_type=appointment_type).exists()
    )


IN_USE = "Visits or waitlist entries use this type, so it stays on their record: deactivate it instead."


def delete_unused(appointment_type: AppointmentType, *, request: HttpRequest) -> None:
    """Delete a type nobody used (a typo, a test); one in use is refused with ``ValidationError``."""
    if in_use(appointment_type):
        raise ValidationError(IN_USE)
    with transaction.atomic():
        audit.record(AuditEvent.Action.DELETE, request=request, obj=appointment_type, detail={"page": AUDIT_PAGE})
        try:
            # The foreign keys' PROTECT still decides if a visit was booked since the check above.
            appointment_type.delete()
        except ProtectedError:
            raise ValidationError(IN_USE) from None
