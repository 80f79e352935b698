"""Where a double booking is refused: a psychiatrist's open hours, free slots, and the checks
every booking, move and waitlist offer passes (past, outside hours, time off, clash, held for the
waitlist). On PostgreSQL two exclusion constraints make overlaps impossible even for concurrent
requests; these checks give the friendly message first (and are the whole guard on SQLite, whose
writers are serialised). Writes live in appointments.booking and appointments.waitlist.
"""

from __future__ import annotations

import datetime
from bisect import bisect_left

from django.core.exceptions import ValidationError
from django.utils import timezone

from appointments.models import Appointment, AppointmentType, TimeOff, WaitlistEntry, WeeklyAvailability
from clinic import dates
from clinic.contact import call_the_clinic
from clinic.models import User
from patients.models import Patient

SLOT_STEP = datetime.timedelta(minutes=15)


def availability_windows(
    psychiatrist: User,
    day_from: datetime.date,
    day_to: datetime.date,
    weekly: list[WeeklyAvailability] | None = None,
) -> list[tuple[datetime.datetime, datetime.datetime]]:
    """The psychiatrist's weekly hours as aware datetimes, day by day in their own zone
    (so 09:00 stays 09:00 local across a DST change). Pass ``weekly`` when already loaded."""
    tz = psychiatrist.zone
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
    tz = psychiatrist.zone
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


def too_late_to_book(start: datetime.datetime, now: datetime.datetime | None = None) -> bool:
    """A start at or before now cannot be booked: the rule ``check_slot`` enforces and the week
    calendar reads to offer "+ book" only on cells that can still be booked."""
    return start <= (now or timezone.now())


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
    if too_late_to_book(start):
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
             f"{dates.weekday(clash.start, short=True)}, {dates.clock(clash.start)}–{dates.clock(clash.end)}."}
        )  # fmt: skip
    if others.filter(patient=patient).exists():
        raise ValidationError({"start": "The patient already has another appointment at that time."})
    if _held_slots(psychiatrist, start, end, except_entry=waitlist_entry).exists():
        raise ValidationError({"start": "That slot is being held for a patient on the waitlist. Choose another."})


def check_patient_rules(appointment_type: AppointmentType, start: datetime.datetime) -> None:
    now = timezone.now()
    if not appointment_type.patient_bookable:
        raise ValidationError(f"This kind of appointment is booked by the clinic. Please {call_the_clinic()}.")
    if start < now + datetime.timedelta(hours=appointment_type.min_notice_hours):
        raise ValidationError(
            {"start": f"Online booking needs at least {appointment_type.min_notice_hours} hours' notice."}
        )
    if start > now + datetime.timedelta(days=appointment_type.max_days_ahead):
        raise ValidationError({"start": f"Online booking is open up to {appointment_type.max_days_ahead} days ahead."})


def lock_diary(psychiatrist: User) -> None:
    """Serialise writes to one psychiatrist's diary until the transaction ends.

    Two concurrent inserts that conflict under an exclusion constraint each wait for the
    other and PostgreSQL kills one as a deadlock; queuing on the psychiatrist's row instead
    lets the second writer see the first one's appointment and get the friendly refusal.
    """
    # NO KEY: inserts elsewhere that merely reference this user (FK checks) must not wait on it.
    list(User.objects.select_for_update(no_key=True).filter(pk=psychiatrist.pk).values_list("pk", flat=True))
