"""Booking rules: where a double booking is refused.

Every booking, move and cancellation goes through here, inside one transaction that also
updates the appointment's reminders (clinic.notifications). On PostgreSQL two exclusion
constraints make overlaps impossible even for concurrent requests; the checks below give
the friendly message first (and are the whole guard on SQLite, whose writers are serialised).
"""

from __future__ import annotations

import datetime
import uuid
import zoneinfo
from bisect import bisect_left
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from appointments.models import Appointment, AppointmentType, TimeOff, WaitlistEntry, WeeklyAvailability
from clinic import audit
from clinic.models import AuditEvent, Notification, User
from patients.models import Patient

SLOT_STEP = datetime.timedelta(minutes=15)


def _zone(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TITRATE_DEFAULT_TIME_ZONE)


def availability_windows(
    psychiatrist: User,
    day_from: datetime.date,
    day_to: datetime.date,
    weekly: list[WeeklyAvailability] | None = None,
) -> list[tuple[datetime.datetime, datetime.datetime]]:
    """The psychiatrist's weekly hours as aware datetimes, day by day in their own zone
    (so 09:00 stays 09:00 local across a DST change). Pass ``weekly`` when already loaded."""
    tz = _zone(psychiatrist)
    if weekly is None:
        weekly = list(WeeklyAvailability.objects.filter(psychiatrist=psychiatrist))
    windows = []
    day = day_from
    while day <= day_to:
        for window in weekly:
            if window.weekday == day.weekday():
                start = datetime.datetime.combine(day, window.start_time, tzinfo=tz)
                end = datetime.datetime.combine(day, window.end_time, tzinfo=tz)
                windows.append((start, end))
        day += datetime.timedelta(days=1)
    return sorted(windows)


def _within_availability(psychiatrist: User, start: datetime.datetime, end: datetime.datetime) -> bool:
    tz = _zone(psychiatrist)
    local_day = start.astimezone(tz).date()
    return any(
        w_start <= start and end <= w_end
        for w_start, w_end in availability_windows(psychiatrist, local_day - datetime.timedelta(days=1), local_day)
    )


def _held_slots(psychiatrist: User, start, end, *, except_entry: WaitlistEntry | None = None):
    qs = WaitlistEntry.objects.filter(
        psychiatrist=psychiatrist,
        status=WaitlistEntry.Status.OFFERED,
        offer_expires_at__gt=timezone.now(),
        offer_start__lt=end,
        offer_end__gt=start,
    )
    return qs.exclude(pk=except_entry.pk) if except_entry else qs


def free_slots(
    psychiatrist: User,
    appointment_type: AppointmentType,
    day_from: datetime.date,
    day_to: datetime.date,
    *,
    not_before: datetime.datetime | None = None,
    patient: Patient | None = None,
) -> list[tuple[datetime.datetime, datetime.datetime]]:
    """Free slots = availability − time off − booked − held offers, for the type's duration."""
    windows = availability_windows(psychiatrist, day_from, day_to)
    if not windows:
        return []
    span_start, span_end = windows[0][0], windows[-1][1]
    booked = Appointment.objects.active().overlapping(span_start, span_end).values_list("start", "end")
    busy = list(booked.filter(psychiatrist=psychiatrist))
    if patient is not None:
        busy += list(booked.filter(patient=patient))
    busy += TimeOff.objects.filter(psychiatrist=psychiatrist, start__lt=span_end, end__gt=span_start).values_list(
        "start", "end"
    )
    busy += _held_slots(psychiatrist, span_start, span_end).values_list("offer_start", "offer_end")
    # Busy time as sorted, disjoint intervals: a slot is free unless the last interval starting
    # before the slot ends runs into it. (Testing every slot against every appointment of three
    # busy weeks was most of the slot finder's time.)
    merged: list[list[datetime.datetime]] = []
    for b_start, b_end in sorted(busy):
        if merged and b_start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b_end)
        else:
            merged.append([b_start, b_end])
    starts = [b_start for b_start, _ in merged]
    not_before = not_before or timezone.now()
    slots = []
    for w_start, w_end in windows:
        slot = w_start
        while slot + appointment_type.duration <= w_end:
            slot_end = slot + appointment_type.duration
            last = bisect_left(starts, slot_end) - 1
            if slot >= not_before and (last < 0 or merged[last][1] <= slot):
                slots.append((slot, slot_end))
            slot += SLOT_STEP
    return slots


def check_slot(
    *,
    patient: Patient,
    psychiatrist: User,
    start: datetime.datetime,
    end: datetime.datetime,
    exclude: Appointment | None = None,
    waitlist_entry: WaitlistEntry | None = None,
) -> None:
    """Raise a ValidationError naming the first rule the slot breaks."""
    if start <= timezone.now():
        raise ValidationError({"start": "That time is in the past. Choose a future time."})
    if not _within_availability(psychiatrist, start, end):
        raise ValidationError({"start": f"{psychiatrist.display_name} is not available then (outside their hours)."})
    if TimeOff.objects.filter(psychiatrist=psychiatrist, start__lt=end, end__gt=start).exists():
        raise ValidationError({"start": f"{psychiatrist.display_name} is away then (time off)."})
    others = Appointment.objects.active().overlapping(start, end)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    clash = others.filter(psychiatrist=psychiatrist).first()
    if clash:
        raise ValidationError(
            {"start": f"{psychiatrist.display_name} already has an appointment "
             f"{timezone.localtime(clash.start):%a %b %d %H:%M}–{timezone.localtime(clash.end):%H:%M}."}
        )  # fmt: skip
    if others.filter(patient=patient).exists():
        raise ValidationError({"start": "The patient already has another appointment at that time."})
    if _held_slots(psychiatrist, start, end, except_entry=waitlist_entry).exists():
        raise ValidationError({"start": "That slot is being held for a patient on the waitlist. Choose another."})


def check_patient_rules(appointment_type: AppointmentType, start: datetime.datetime) -> None:
    now = timezone.now()
    if not appointment_type.patient_bookable:
        raise ValidationError("This kind of appointment is booked by the clinic. Please call the front desk.")
    if start < now + datetime.timedelta(hours=appointment_type.min_notice_hours):
        raise ValidationError(
            {"start": f"Online booking needs at least {appointment_type.min_notice_hours} hours' notice."}
        )
    if start > now + datetime.timedelta(days=appointment_type.max_days_ahead):
        raise ValidationError({"start": f"Online booking is open up to {appointment_type.max_days_ahead} days ahead."})


def _lock_diary(psychiatrist: User) -> None:
    """Serialise writes to one psychiatrist's diary until the transaction ends.

    Two concurrent inserts that conflict under an exclusion constraint each wait for the
    other and PostgreSQL kills one as a deadlock; queuing on the psychiatrist's row instead
    lets the second writer see the first one's appointment and get the friendly refusal.
    """
    # NO KEY: inserts elsewhere that merely reference this user (FK checks) must not wait on it.
    list(User.objects.select_for_update(no_key=True).filter(pk=psychiatrist.pk).values_list("pk", flat=True))


def _save(appointment: Appointment, update_fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            appointment.save(update_fields=update_fields)
    except (IntegrityError, OperationalError) as exc:
        # The exclusion constraints decided a race the checks above could not see (for one
        # patient booked with two psychiatrists at once, as a deadlock: SQLSTATE 40P01).
        if isinstance(exc, OperationalError) and getattr(exc.__cause__, "sqlstate", None) != "40P01":
            raise
        raise ValidationError({"start": "That time was just taken. Choose another time."}) from None


@transaction.atomic
def book(
    *,
    patient: Patient,
    psychiatrist: User,
    appointment_type: AppointmentType,
    start: datetime.datetime,
    booked_by: User,
    by_patient: bool = False,
    telehealth_url: str = "",
    series: uuid.UUID | None = None,
    waitlist_entry: WaitlistEntry | None = None,
    request=None,
) -> Appointment:
    from clinic import notifications

    end = start + appointment_type.duration
    if by_patient:
        check_patient_rules(appointment_type, start)
    _lock_diary(psychiatrist)
    check_slot(patient=patient, psychiatrist=psychiatrist, start=start, end=end, waitlist_entry=waitlist_entry)
    appointment = Appointment(
        patient=patient,
        psychiatrist=psychiatrist,
        appointment_type=appointment_type,
        start=start,
        end=end,
        booked_by=booked_by,
        telehealth_url=telehealth_url,
        series=series,
    )
    _save(appointment)
    notifications.plan_appointment_reminders(appointment)
    if by_patient:
        notifications.notify_staff(appointment, Notification.Kind.APPOINTMENT_BOOKED)
    audit.record(AuditEvent.Action.CREATE, request=request, actor=booked_by, patient=patient, obj=appointment)
    return appointment


@transaction.atomic
def move(appointment: Appointment, *, new_start: datetime.datetime, by: User, by_patient: bool = False, request=None):
    from clinic import notifications

    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if not appointment.is_active or appointment.status in ("checked_in", "completed"):
        raise ValidationError("Only upcoming appointments can be moved.")
    if by_patient:
        _check_patient_can_change(appointment)
        check_patient_rules(appointment.appointment_type, new_start)
    new_end = new_start + appointment.appointment_type.duration
    _lock_diary(appointment.psychiatrist)
    check_slot(
        patient=appointment.patient,
        psychiatrist=appointment.psychiatrist,
        start=new_start,
        end=new_end,
        exclude=appointment,
    )
    old = (appointment.start, appointment.end)
    appointment.start, appointment.end = new_start, new_end
    appointment.status = Appointment.Status.SCHEDULED
    _save(appointment, update_fields=["start", "end", "status"])
    notifications.replan_appointment(appointment)
    if by_patient:
        # The notice names the new time (its key includes the start), so staff see the move.
        notifications.notify_staff(appointment, Notification.Kind.APPOINTMENT_BOOKED)
    audit.record(AuditEvent.Action.UPDATE, request=request, actor=by, patient=appointment.patient, obj=appointment,
                 detail={"change": "moved"})  # fmt: skip
    from appointments import waitlist

    waitlist.offer_freed_slot(appointment.psychiatrist, *old)
    return appointment


def _check_patient_can_change(appointment: Appointment) -> None:
    window = datetime.timedelta(hours=appointment.appointment_type.cancel_window_hours)
    if appointment.start - timezone.now() < window:
        raise ValidationError(
            f"Online changes close {appointment.appointment_type.cancel_window_hours} hours before the appointment. "
            "Please call the clinic."
        )


@transaction.atomic
def cancel(appointment: Appointment, *, by: User, reason: str, by_patient: bool = False, request=None) -> Appointment:
    from appointments import waitlist
    from clinic import notifications

    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.status not in (Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED):
        raise ValidationError("Only upcoming appointments can be cancelled.")
    if not reason.strip():
        raise ValidationError({"reason": "Give a reason for the cancellation."})
    if by_patient:
        _check_patient_can_change(appointment)
    appointment.status = Appointment.Status.CANCELLED
    appointment.cancel_reason = reason.strip()[:200]
    appointment.cancelled_at = timezone.now()
    appointment.cancelled_by = by
    appointment.save(update_fields=["status", "cancel_reason", "cancelled_at", "cancelled_by"])
    notifications.cancel_for_appointment(appointment)
    if by_patient:
        notifications.notify_staff(appointment, Notification.Kind.APPOINTMENT_CANCELLED)
    audit.record(AuditEvent.Action.UPDATE, request=request, actor=by, patient=appointment.patient, obj=appointment,
                 detail={"change": "cancelled"})  # fmt: skip
    if appointment.start > timezone.now():
        waitlist.offer_freed_slot(appointment.psychiatrist, appointment.start, appointment.end)
    return appointment


TRANSITIONS = {
    Appointment.Status.CONFIRMED: {Appointment.Status.SCHEDULED},
    Appointment.Status.CHECKED_IN: {Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED},
    Appointment.Status.COMPLETED: {
        Appointment.Status.CHECKED_IN,
        Appointment.Status.CONFIRMED,
        Appointment.Status.SCHEDULED,
    },
    Appointment.Status.NO_SHOW: {Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED},
}


@transaction.atomic
def set_status(appointment: Appointment, status: str, *, by: User, request=None) -> Appointment:
    from clinic import notifications

    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.status not in TRANSITIONS.get(status, set()):
        raise ValidationError(
            f"A {appointment.get_status_display().lower()} appointment cannot become "
            f"{Appointment.Status(status).label.lower()}."
        )
    visit_statuses = (Appointment.Status.CHECKED_IN, Appointment.Status.COMPLETED, Appointment.Status.NO_SHOW)
    if status in visit_statuses and appointment.start > timezone.now() + datetime.timedelta(hours=1):
        raise ValidationError("That appointment has not started yet.")
    appointment.status = status
    appointment.save(update_fields=["status"])
    if status == Appointment.Status.NO_SHOW:
        notifications.cancel_for_appointment(appointment)
        notifications.plan_no_show_follow_up(appointment)
    audit.record(AuditEvent.Action.UPDATE, request=request, actor=by, patient=appointment.patient, obj=appointment,
                 detail={"change": status})  # fmt: skip
    return appointment


@dataclass(frozen=True)
class Occurrence:
    start: datetime.datetime
    problem: str  # "" when free


def plan_series(
    *,
    patient: Patient,
    psychiatrist: User,
    appointment_type: AppointmentType,
    first_start: datetime.datetime,
    every_weeks: int,
    count: int,
) -> list[Occurrence]:
    """Check each occurrence of a recurring follow-up; nothing is booked here."""
    if not 1 <= every_weeks <= 26 or not 1 <= count <= 26:
        raise ValidationError("Repeat every 1–26 weeks, 1–26 times.")
    tz = _zone(psychiatrist)
    local_first = first_start.astimezone(tz)
    occurrences = []
    for index in range(count):
        # Same local wall-clock time each week, across DST changes.
        local = local_first + datetime.timedelta(weeks=every_weeks * index)
        start = datetime.datetime.combine(local.date(), local_first.time(), tzinfo=tz)
        try:
            check_slot(patient=patient, psychiatrist=psychiatrist, start=start, end=start + appointment_type.duration)
        except ValidationError as error:
            occurrences.append(Occurrence(start, " ".join(error.messages)))
        else:
            occurrences.append(Occurrence(start, ""))
    return occurrences


@transaction.atomic
def book_series(
    *,
    patient: Patient,
    psychiatrist: User,
    appointment_type: AppointmentType,
    starts: list[datetime.datetime],
    booked_by: User,
    request=None,
) -> list[Appointment]:
    """Book exactly the chosen occurrences, all or none: one conflict rolls the whole series back."""
    series = uuid.uuid4()
    return [
        book(patient=patient, psychiatrist=psychiatrist, appointment_type=appointment_type, start=start,
             booked_by=booked_by, series=series, request=request)
        for start in starts
    ]  # fmt: skip
