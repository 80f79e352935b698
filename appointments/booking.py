"""Booking: every booking, move, cancellation and status change goes through here, inside one
transaction that also updates the appointment's reminders (appointments.reminders), tells the
patient of a change someone else made and the staff of one the patient made online, offers a freed
slot to the waitlist (appointments.waitlist) and writes the audit row. The slot checks themselves
(where a double booking is refused) are in appointments.slots.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from appointments import reminders, slots, telehealth, waitlist
from appointments.models import Appointment, AppointmentType, WaitlistEntry
from clinic import audit
from clinic.contact import call_the_clinic
from clinic.models import AuditEvent, Notification, User
from patients.models import Patient, VisitNote


def _save(appointment: Appointment, update_fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            appointment.save(update_fields=update_fields)
    except (IntegrityError, OperationalError) as exc:
        # The exclusion constraints decided a race the checks above could not see (for one
        # patient booked with two psychiatrists at once, as a deadlock: SQLSTATE 40P01).
        if isinstance(exc, OperationalError) and getattr(exc.__cause__, "sqlstate", None) != "40P01":
            raise
        raise ValidationError({"start": gettext("That time was just taken. Choose another time.")}) from None


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
    tell_patient: bool = True,
    request=None,
) -> Appointment:
    """``tell_patient=False``: the caller sends one notice for several bookings (book_series)."""
    end = start + appointment_type.duration
    if by_patient:
        slots.check_patient_rules(appointment_type, start)
    slots.lock_diary(psychiatrist)
    slots.check_slot(patient=patient, psychiatrist=psychiatrist, start=start, end=end, waitlist_entry=waitlist_entry)
    appointment = Appointment(
        patient=patient,
        psychiatrist=psychiatrist,
        appointment_type=appointment_type,
        start=start,
        end=end,
        booked_by=booked_by,
        # Every booking path comes here, so each video visit gets its link the same way.
        telehealth_url=telehealth.check_link(telehealth_url) or telehealth.new_link(appointment_type, psychiatrist),
        series=series,
    )
    _save(appointment)
    reminders.plan_appointment_reminders(appointment)
    if by_patient:
        reminders.notify_staff(appointment, Notification.Kind.APPOINTMENT_BOOKED)
    if tell_patient:
        reminders.notify_patient(appointment, Notification.Kind.VISIT_BOOKED, by=booked_by)
    audit.record(AuditEvent.Action.CREATE, request=request, actor=booked_by, patient=patient, obj=appointment)
    return appointment


@transaction.atomic
def move(appointment: Appointment, *, new_start: datetime.datetime, by: User, by_patient: bool = False, request=None):
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if not appointment.is_active or appointment.status in ("checked_in", "completed"):
        raise ValidationError(gettext("Only upcoming appointments can be moved."))
    if by_patient:
        _check_patient_can_change(appointment)
        slots.check_patient_rules(appointment.appointment_type, new_start)
    new_end = new_start + appointment.appointment_type.duration
    slots.lock_diary(appointment.psychiatrist)
    slots.check_slot(
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
    reminders.replan_appointment(appointment)
    if by_patient:
        # The notice names the new time (its key includes the start), so staff see the move.
        reminders.notify_staff(appointment, Notification.Kind.APPOINTMENT_BOOKED)
    reminders.notify_patient(appointment, Notification.Kind.VISIT_MOVED, by=by)
    audit.record(AuditEvent.Action.UPDATE, request=request, actor=by, patient=appointment.patient, obj=appointment,
                 detail={"change": "moved"})  # fmt: skip
    waitlist.offer_freed_slot(appointment.psychiatrist, *old)
    return appointment


@transaction.atomic
def accept_offer(entry: WaitlistEntry, *, by: User, request=None) -> Appointment:
    """The patient takes the slot held for them: booked, and their waitlist entry is done."""
    entry = WaitlistEntry.objects.select_for_update().select_related("appointment_type").get(pk=entry.pk)
    if entry.status != WaitlistEntry.Status.OFFERED or entry.offer_expires_at <= timezone.now():
        raise ValidationError(gettext("This offer has expired. You are still on the waitlist if you have not left it."))
    appointment = book(
        patient=entry.patient,
        psychiatrist=entry.psychiatrist,
        appointment_type=entry.appointment_type,
        start=entry.offer_start,
        booked_by=by,
        waitlist_entry=entry,
        request=request,
    )
    entry.status = WaitlistEntry.Status.BOOKED
    entry.save(update_fields=["status"])
    return appointment


def _check_patient_can_change(appointment: Appointment) -> None:
    if not appointment.online_changes_open():
        raise ValidationError(
            gettext("Online changes close %(hours)s hours before the appointment. Please %(call)s.")
            % {"hours": appointment.appointment_type.cancel_window_hours, "call": call_the_clinic()}
        )


@transaction.atomic
def cancel(appointment: Appointment, *, by: User, reason: str, by_patient: bool = False, request=None) -> Appointment:
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.status not in (Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED):
        raise ValidationError(gettext("Only upcoming appointments can be cancelled."))
    if not reason.strip():
        raise ValidationError({"reason": "Give a reason for the cancellation."})
    if by_patient:
        _check_patient_can_change(appointment)
    appointment.status = Appointment.Status.CANCELLED
    appointment.cancel_reason = reason.strip()[:200]
    appointment.cancelled_at = timezone.now()
    appointment.cancelled_by = by
    appointment.save(update_fields=["status", "cancel_reason", "cancelled_at", "cancelled_by"])
    reminders.cancel_for_appointment(appointment)
    if by_patient:
        reminders.notify_staff(appointment, Notification.Kind.APPOINTMENT_CANCELLED)
    reminders.notify_patient(appointment, Notification.Kind.VISIT_CANCELLED, by=by)
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


# Checking in, completing or marking a no-show opens this long before the start (an early arrival).
VISIT_OPENS_BEFORE = datetime.timedelta(hours=1)
VISIT_STATUSES = (Appointment.Status.CHECKED_IN, Appointment.Status.COMPLETED, Appointment.Status.NO_SHOW)


def status_problem(appointment: Appointment, status: str, now: datetime.datetime | None = None) -> str:
    """Why ``appointment`` cannot become ``status`` now ("" if it can): the one rule that
    ``set_status`` enforces and the appointment page reads to offer only the buttons that work."""
    if appointment.status not in TRANSITIONS.get(status, set()):
        return (
            f"A {appointment.get_status_display().lower()} appointment cannot become "
            f"{Appointment.Status(status).label.lower()}."
        )
    now = now or timezone.now()
    if status in VISIT_STATUSES and appointment.start > now + VISIT_OPENS_BEFORE:
        return "That appointment has not started yet."
    if status == Appointment.Status.CONFIRMED and appointment.start <= now:
        return "That appointment has already started."
    return ""


def possible_statuses(appointment: Appointment, now: datetime.datetime | None = None) -> list[str]:
    """The statuses ``appointment`` can be given now, in TRANSITIONS' order."""
    now = now or timezone.now()
    return [status for status in TRANSITIONS if not status_problem(appointment, status, now)]


@transaction.atomic
def set_status(appointment: Appointment, status: str, *, by: User, request=None) -> Appointment:
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    problem = status_problem(appointment, status)
    if problem:
        raise ValidationError(problem)
    appointment.status = status
    fields = ["status"]
    if status == Appointment.Status.CONFIRMED and appointment.confirmed_at is None:
        appointment.confirmed_at = timezone.now()
        fields.append("confirmed_at")
    appointment.save(update_fields=fields)
    if status == Appointment.Status.NO_SHOW:
        reminders.cancel_for_appointment(appointment)
        reminders.plan_no_show_follow_up(appointment)
    audit.record(AuditEvent.Action.UPDATE, request=request, actor=by, patient=appointment.patient, obj=appointment,
                 detail={"change": status})  # fmt: skip
    return appointment


def _open_for_a_note(patient_id: int):
    # A visit gets one note (the column is unique too); a cancelled visit or a no-show gets none.
    return Appointment.objects.filter(patient_id=patient_id, visit_note__isnull=True).exclude(
        status__in=[Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW]
    )


def visit_to_note(patient: Patient, appointment_id: int) -> Appointment | None:
    """The booked visit a new visit note is written for (the note form's ``?appointment=<id>``):
    this patient's, neither cancelled nor a no-show, and without a note yet. None otherwise, and
    the note is written without a visit."""
    return _open_for_a_note(patient.pk).filter(pk=appointment_id).select_related("appointment_type").first()


def link_visit_note(appointment: Appointment, note: VisitNote) -> bool:
    """Link a visit note to the booked visit it was written for (Appointment.visit_note), in the
    caller's transaction, beside the note's own write and audit row (the link is part of writing
    the note: no row of its own). The rules of ``visit_to_note`` are checked again in the UPDATE,
    so of two notes written at once for one visit the second stays unlinked, as if its form had
    been sent a moment later. The "note missing" flag follows the note's status. Returns whether
    the link was written."""
    linked = (
        _open_for_a_note(note.patient_id).filter(pk=appointment.pk).update(visit_note=note, note_signed=note.is_signed)
    )
    if linked:
        appointment.visit_note, appointment.note_signed = note, note.is_signed
    return bool(linked)


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
    tz = psychiatrist.zone
    local_first = first_start.astimezone(tz)
    occurrences = []
    for index in range(count):
        # Same local wall-clock time each week, across DST changes.
        local = local_first + datetime.timedelta(weeks=every_weeks * index)
        start = datetime.datetime.combine(local.date(), local_first.time(), tzinfo=tz)
        try:
            end = start + appointment_type.duration
            slots.check_slot(patient=patient, psychiatrist=psychiatrist, start=start, end=end)
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
    """Book exactly the chosen occurrences, all or none: one conflict rolls the whole series back.
    The patient gets one notice, naming the first visit (and saying it starts a series)."""
    series = uuid.uuid4() if len(starts) > 1 else None  # one chosen date is a single visit
    booked = [
        book(patient=patient, psychiatrist=psychiatrist, appointment_type=appointment_type, start=start,
             booked_by=booked_by, series=series, tell_patient=False, request=request)
        for start in starts
    ]  # fmt: skip
    if booked:
        first = min(booked, key=lambda appointment: appointment.start)
        reminders.notify_patient(first, Notification.Kind.VISIT_BOOKED, by=booked_by)
    return booked
