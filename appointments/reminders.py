"""What appointments send, and when: reminders before a visit, notices to staff when a patient
books or cancels online, notices to the patient when someone else books, moves or cancels their
visit, waitlist offers and missed-visit follow-ups, and the signed one-click links in reminders.
Rows go through the outbox (notifications.outbox); this module also tells the outbox what each
of these messages links to and when it is no longer wanted (register_kinds).
"""

from __future__ import annotations

import datetime
import logging

from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db.models import Q
from django.utils import timezone

from appointments.models import Appointment, AppointmentType, WaitlistEntry
from clinic import languages
from clinic.models import Notification, User
from notifications import kinds, messages, outbox
from notifications.preferences import (
    PREFERENCE_FIELDS,
    QUIET_CHANNELS,
    after_quiet,
    before_quiet,
    enabled_channels,
    format_when,
    preferences,
    reminder_time,
    utc_stamp,
)

logger = logging.getLogger(__name__)
Kind, Status = Notification.Kind, Notification.Status

# A reminder only makes sense if the patient can still act on it.
CATCH_UP_MIN_LEAD = datetime.timedelta(hours=1)
STAFF_NOTICE_TTL = datetime.timedelta(days=3)
# A cancellation is still worth telling a few days on (the patient may plan to come); a booking or
# a move only until the visit starts.
PATIENT_NOTICE_TTL = datetime.timedelta(days=3)
PATIENT_NOTICES = (Kind.VISIT_BOOKED, Kind.VISIT_MOVED, Kind.VISIT_CANCELLED)
FOLLOW_UP_TTL = datetime.timedelta(days=7)
ACTION_SALT = "titrate.appointment-action"
ACTION_MAX_AGE = datetime.timedelta(days=30)
ACTIONS = ("confirm", "cancel")

# The reminder times a clinic may choose per appointment type (Clinic set-up), in hours before the
# start, largest first. The planner below works with any positive number of hours (whole days on the
# patient's wall clock, the rest exact hours); this list is what the portal and the Django admin
# offer, so no one types a number. Adding a time here is all it takes to offer it.
REMINDER_OFFSETS: tuple[tuple[int, str], ...] = (
    (168, "1 week"),
    (72, "3 days"),
    (48, "2 days"),
    (24, "1 day"),
    (4, "4 hours"),
    (2, "2 hours"),
    (1, "1 hour"),
)


def offset_label(hours: float) -> str:
    """'2 days', '4 hours', '1 hour' (also for a time not in REMINDER_OFFSETS, set before the list)."""
    known = dict(REMINDER_OFFSETS)
    if hours in known:
        return known[hours]
    if hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


def offsets_sentence(offsets) -> str:
    """The type's reminders in words: 'The patient is reminded 2 days and 2 hours before.'"""
    labels = [offset_label(hours) for hours in sorted(_valid_offsets(offsets), reverse=True)]
    if not labels:
        return "The patient gets no reminder before the visit."
    listed = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
    return f"The patient is reminded {listed} before."


def _reminder_rows(appointment: Appointment, now: datetime.datetime) -> list[Notification]:
    """The reminder rows an appointment should have (see docs/reminders.md, "Planning")."""
    user = appointment.patient.user
    if user is None or appointment.status not in Appointment.ACTIVE_STATUSES or appointment.start <= now:
        return []
    prefs = preferences(user)
    tz = user.zone
    start = appointment.start
    offsets = _offsets(appointment.appointment_type)
    rows = []
    for channel in enabled_channels(user, prefs):
        quiet = channel in QUIET_CHANNELS
        missed, planned = [], 0
        for offset in offsets:
            send_at = reminder_time(start, offset, tz)
            if quiet:
                send_at = before_quiet(send_at, prefs, tz)
            if send_at > now:
                rows.append(_reminder(appointment, user, channel, offset, send_at))
                planned += 1
            else:
                missed.append(offset)
        # Booked inside every offset (or all of them fell in the past): one catch-up now, keyed
        # as the smallest missed offset so later runs of the planner find it and add nothing.
        if missed and not planned and start - now >= CATCH_UP_MIN_LEAD:
            send_at = after_quiet(now, prefs, tz) if quiet else now
            if start - send_at >= CATCH_UP_MIN_LEAD:
                rows.append(_reminder(appointment, user, channel, min(missed), send_at))
    return rows


def _offsets(appointment_type) -> list[float]:
    """The type's offsets in hours; an entry an admin mistyped is logged, not fatal to the planner."""
    return sorted(_valid_offsets(appointment_type.reminder_offsets_hours, appointment_type.pk))


def _valid_offsets(values, type_id=None) -> set[float]:
    offsets = set()
    for value in values or []:
        try:
            hours = float(value)
        except (TypeError, ValueError):
            logger.error("Appointment type %s has a reminder offset that is not a number", type_id)
            continue
        if hours > 0:
            offsets.add(hours)
    return offsets


def _reminder(appointment, user, channel, offset, send_at) -> Notification:
    return outbox.new_row(
        idempotency_key=f"appt-reminder:{appointment.pk}:{utc_stamp(appointment.start)}:{offset:g}h:{channel}",
        kind=Kind.APPOINTMENT_REMINDER,
        channel=channel,
        # Ids, not instances: the planner builds 100,000 of these, and the relation descriptors
        # cost more than the rest of the row (the subject is set from ContentType's cache).
        recipient_id=user.pk,
        language=languages.for_user(user),
        patient_id=appointment.patient_id,
        subject=appointment,
        send_at=send_at,
        expires_at=appointment.start,
    )


def plan_appointment_reminders(appointment: Appointment) -> list[Notification]:
    """Create the appointment's reminder rows; running it again creates nothing new."""
    return outbox.insert(_reminder_rows(appointment, timezone.now()))


# What a visit no longer happening (or no longer at that time) makes pointless, if still unsent.
NOT_WANTED_AFTER_A_CHANGE = (Kind.APPOINTMENT_REMINDER, Kind.VISIT_BOOKED, Kind.VISIT_MOVED)


def cancel_for_appointment(
    appointment: Appointment, kinds=(*NOT_WANTED_AFTER_A_CHANGE, Kind.APPOINTMENT_BOOKED)
) -> int:
    """Unsent rows about the appointment become CANCELLED, in the caller's transaction.

    A message already handed to a worker is caught by ``send``, which re-reads the
    appointment under the row lock. Cancellation notices and no-show follow-ups are left alone:
    they are about the appointment no longer happening.
    """
    return outbox.cancel(kinds=kinds, subject=appointment)


def replan_appointment(appointment: Appointment) -> list[Notification]:
    """After a reschedule: old reminders go, new ones (new start, so new keys) come. An unsent
    notice naming the old time goes too; the mover's own notice names the new one."""
    cancel_for_appointment(appointment, kinds=NOT_WANTED_AFTER_A_CHANGE)
    return plan_appointment_reminders(appointment)


def refresh_user_reminders(user: User) -> list[Notification]:
    """After a preference change: plan newly enabled channels, and move reminders that have not
    been touched yet to the new quiet hours."""
    now = timezone.now()
    appointments = Appointment.objects.active().filter(patient__user=user, start__gt=now)
    rows = [
        row
        for appointment in appointments.select_related("appointment_type")
        for row in _reminder_rows(appointment, now)
    ]
    created = outbox.insert(rows)
    won = {r.pk for r in created}
    for row in rows:
        if row.pk not in won:
            Notification.objects.filter(idempotency_key=row.idempotency_key, status=Status.PENDING, attempts=0).exclude(
                send_at=row.send_at
            ).update(send_at=row.send_at)
    return created


PLAN_HORIZON_DAYS = 14  # longer than every offset in REMINDER_OFFSETS


def plan_upcoming_reminders(horizon_days: int = PLAN_HORIZON_DAYS, *, appointment_type=None) -> list[Notification]:
    """Safety net (beat): every active appointment in the horizon (of one type, if given) has its
    reminders."""
    now = timezone.now()
    upcoming = Appointment.objects.active()
    if appointment_type is not None:
        upcoming = upcoming.filter(appointment_type=appointment_type)
    appointments = (
        upcoming.filter(
            start__gt=now, start__lte=now + datetime.timedelta(days=horizon_days), patient__user__isnull=False
        )
        .select_related("appointment_type", "patient__user__notification_preference")
        # What _reminder_rows reads, nothing more: at 30,000 visits, loading whole patients and
        # users was a third of the planner's time.
        .only(
            "start",
            "status",
            "appointment_type__reminder_offsets_hours",
            "patient__user__is_active",
            "patient__user__email",
            "patient__user__time_zone",
            "patient__user__role",
            "patient__user__language",
            *(f"patient__user__notification_preference__{name}" for name in PREFERENCE_FIELDS),
        )
    )
    created = []
    rows: list[Notification] = []
    for appointment in appointments.iterator(chunk_size=500):
        rows += _reminder_rows(appointment, now)
        if len(rows) >= 1000:
            created += outbox.insert(rows)
            rows = []
    return created + outbox.insert(rows)


def reminder_times_changed(appointment_type, previous) -> tuple[int, int]:
    """After a type's reminder times changed (Clinic set-up), in the caller's transaction: unsent
    reminders for a time no longer chosen are cancelled, and the type's visits in the planning
    horizon get rows for the new times at once rather than at the next sweep. Returns (cancelled,
    planned). A reminder already handed to a worker goes out as it is."""
    removed = _valid_offsets(previous) - _valid_offsets(appointment_type.reminder_offsets_hours)
    cancelled = 0
    if removed:
        upcoming = Appointment.objects.filter(appointment_type=appointment_type, start__gt=timezone.now())
        # The offset is in the key (_reminder): "appt-reminder:<visit>:<start>:<offset>h:<channel>".
        by_offset = Q()
        for hours in removed:
            by_offset |= Q(idempotency_key__contains=f":{hours:g}h:")
        cancelled = Notification.objects.filter(
            by_offset,
            kind=Kind.APPOINTMENT_REMINDER,
            status__in=outbox.OPEN,
            subject_type=ContentType.objects.get_for_model(Appointment),
            subject_id__in=upcoming.values("pk"),
        ).update(status=Status.CANCELLED, lease_expires_at=None)
    planned = plan_upcoming_reminders(appointment_type=appointment_type)
    return cancelled, len(planned)


def notify_staff(appointment: Appointment, kind: str) -> list[Notification]:
    """Tell the psychiatrist and the front desk that a patient booked or cancelled online.
    In-app and email only (no texts to staff), and not held for quiet hours: it is work mail."""
    if kind not in (Kind.APPOINTMENT_BOOKED, Kind.APPOINTMENT_CANCELLED):
        raise ValueError(f"notify_staff does not send {kind!r}")
    now = timezone.now()
    staff = {appointment.psychiatrist_id: appointment.psychiatrist}
    for admin in User.objects.filter(role=User.Role.CLINIC_ADMIN, is_active=True):
        staff.setdefault(admin.pk, admin)
    rows = []
    for user in staff.values():
        for channel in enabled_channels(user, sms=False):
            rows.append(
                outbox.new_row(
                    idempotency_key=f"{kind}:{appointment.pk}:{utc_stamp(appointment.start)}:{user.pk}:{channel}",
                    kind=kind,
                    channel=channel,
                    recipient=user,
                    patient=appointment.patient,
                    subject=appointment,
                    send_at=now,
                    expires_at=now + STAFF_NOTICE_TTL,
                )
            )
    return outbox.insert(rows)


def notify_patient(appointment: Appointment, kind: str, *, by: User) -> list[Notification]:
    """Tell the patient that someone else (the front desk, their psychiatrist) booked, moved or
    cancelled their visit: every channel they allow, email and SMS after their quiet hours, in-app
    always (notifications.outbox.send_now_rows). Nothing when the patient made the change
    themselves (a portal booking, an accepted waitlist offer, a reminder's cancel link), has no
    portal login, or the visit has already started. PHI-free: the messages say when, never what."""
    if kind not in PATIENT_NOTICES:
        raise ValueError(f"notify_patient does not send {kind!r}")
    user = appointment.patient.user
    now = timezone.now()
    if user is None or by.pk == user.pk or appointment.start <= now:
        return []
    if kind == Kind.VISIT_CANCELLED:
        key, expires_at = f"visit-cancelled:{appointment.pk}", now + PATIENT_NOTICE_TTL
    else:
        # One notice per change: the moment of the change is in the key, so moving a visit back to
        # a time it had before is told again. expires_at is the start the notice names, so a notice
        # overtaken by another move is recognised (_appointment_still_wanted).
        key = f"{kind}:{appointment.pk}:{utc_stamp(appointment.start)}:{now:%Y%m%dT%H%M%S%f}"
        expires_at = appointment.start
    rows = outbox.send_now_rows(
        user, key=key, kind=kind, expires_at=expires_at, patient=appointment.patient, subject=appointment
    )
    return outbox.insert(rows)


def notify_waitlist_offer(entry: WaitlistEntry) -> list[Notification]:
    if entry.offer_start is None or entry.offer_expires_at is None:
        return []
    key = f"waitlist-offer:{entry.pk}:{utc_stamp(entry.offer_start)}:{utc_stamp(entry.offer_expires_at)}"
    rows = outbox.send_now_rows(
        entry.patient.user,
        key=key,
        kind=Kind.WAITLIST_OFFER,
        expires_at=entry.offer_expires_at,
        patient=entry.patient,
        subject=entry,
    )
    return outbox.insert(rows)


def plan_no_show_follow_up(appointment: Appointment) -> list[Notification]:
    rows = outbox.send_now_rows(
        appointment.patient.user,
        key=f"no-show:{appointment.pk}",
        kind=Kind.NO_SHOW_FOLLOW_UP,
        expires_at=timezone.now() + FOLLOW_UP_TTL,
        patient=appointment.patient,
        subject=appointment,
    )
    return outbox.insert(rows)


def action_token(appointment: Appointment, action: str) -> str:
    """Signed one-click link token. It names the start time, so a reschedule voids old links."""
    value = f"{appointment.pk}.{action}.{int(appointment.start.timestamp())}"
    return signing.TimestampSigner(salt=ACTION_SALT).sign(value)


def read_action_token(token: str) -> tuple[int, str, int]:
    """(appointment id, action, start timestamp); raises signing.BadSignature (or its subclass
    SignatureExpired) for anything forged, tampered with or too old."""
    value = signing.TimestampSigner(salt=ACTION_SALT).unsign(token, max_age=ACTION_MAX_AGE)
    appointment_id, action, start = value.split(".")
    if action not in ACTIONS:
        raise signing.BadSignature("unknown action")
    return int(appointment_id), action, int(start)


# -- What the outbox asks of these kinds -------------------------------------------------------


def _subject(row: Notification, model):
    """The row's subject if it is a ``model`` (loaded with the batch: kinds.with_subjects)."""
    subject = row.subject
    return subject if isinstance(subject, model) else None


def _appointment_still_wanted(row: Notification, now) -> tuple[str, str] | None:
    appointment = _subject(row, Appointment)
    if appointment is None:
        return None
    if row.kind in (Kind.APPOINTMENT_REMINDER, Kind.APPOINTMENT_BOOKED, Kind.VISIT_BOOKED, Kind.VISIT_MOVED):
        if appointment.status not in Appointment.ACTIVE_STATUSES:
            return Status.CANCELLED, "The appointment is no longer booked."
        if row.kind != Kind.APPOINTMENT_BOOKED and appointment.start != row.expires_at:
            return Status.CANCELLED, "The appointment was moved."
    if row.kind == Kind.NO_SHOW_FOLLOW_UP and appointment.status != Appointment.Status.NO_SHOW:
        return Status.CANCELLED, "The appointment is no longer marked as missed."
    return None


def _offer_still_wanted(row: Notification, now) -> tuple[str, str] | None:
    entry = _subject(row, WaitlistEntry)
    if entry is None:
        return None
    if entry.status != WaitlistEntry.Status.OFFERED or entry.offer_expires_at <= now:
        return Status.CANCELLED, "The offer is no longer open."
    return None


def _appointment_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    appointment = _subject(row, Appointment)
    if appointment is None:
        return {}
    # A booking or move notice names the start it was sent for (its expiry), not a later one: the
    # in-app list shows it again after the visit moved on.
    named = row.expires_at if row.kind in (Kind.VISIT_BOOKED, Kind.VISIT_MOVED) else appointment.start
    context = {"when": format_when(named, tz)}
    if row.kind == Kind.APPOINTMENT_REMINDER:
        context["details_url"] = messages.url("appointments:my_appointments", absolute=absolute)
        context["confirm_url"] = messages.token_url(
            "appointment_action", action_token(appointment, "confirm"), absolute=True
        )
        if appointment.appointment_type.modality == AppointmentType.Modality.TELEHEALTH or appointment.telehealth_url:
            # The portal's join page, never the room itself (an email can be forwarded or read by others).
            context["join_url"] = messages.url("appointments:my_join", appointment.pk, absolute=absolute)
        if appointment.online_changes_open():
            context["cancel_url"] = messages.token_url(
                "appointment_action", action_token(appointment, "cancel"), absolute=True
            )
    elif row.kind in (Kind.APPOINTMENT_BOOKED, Kind.APPOINTMENT_CANCELLED):
        context["details_url"] = messages.url("appointments:appointment_detail", appointment.pk, absolute=absolute)
    elif row.kind in PATIENT_NOTICES:
        context["details_url"] = messages.url("appointments:my_appointments", absolute=absolute)
        if row.kind == Kind.VISIT_BOOKED and appointment.series is not None:
            context["series"] = "yes"  # one notice for a recurring booking (booking.book_series)
    return context


def _no_show_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    context = _appointment_context(row, tz, absolute)
    context["details_url"] = messages.url("appointments:my_book", absolute=absolute)
    return context


def _offer_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    entry = _subject(row, WaitlistEntry)
    if entry is None:
        return {}
    return {
        "when": format_when(entry.offer_start, tz),
        "offer_until": format_when(entry.offer_expires_at, tz),
        "details_url": messages.url("appointments:my_appointments", absolute=absolute),
    }


def _appointments():
    """What the appointment kinds' hooks read of their visit (the sender loads 500 at a time)."""
    return Appointment.objects.select_related("appointment_type").only(
        "start",
        "status",
        "series",
        "telehealth_url",
        "appointment_type__cancel_window_hours",
        "appointment_type__modality",
    )


def _offers():
    """What the offer's hooks read of its waitlist entry."""
    return WaitlistEntry.objects.only("status", "offer_start", "offer_expires_at")


def register_kinds() -> None:
    """Called from AppointmentsConfig.ready(): the kinds' hooks, and the outbox's rows keep their
    visit or offer from being deleted (as the foreign keys did before the subject was generic)."""
    kinds.register(
        Kind.APPOINTMENT_REMINDER,
        Kind.APPOINTMENT_BOOKED,
        Kind.APPOINTMENT_CANCELLED,
        *PATIENT_NOTICES,
        context=_appointment_context,
        still_wanted=_appointment_still_wanted,
        subjects=_appointments,
    )
    kinds.register(
        Kind.NO_SHOW_FOLLOW_UP,
        context=_no_show_context,
        still_wanted=_appointment_still_wanted,
        subjects=_appointments,
    )
    kinds.register(
        Kind.WAITLIST_OFFER,
        context=_offer_context,
        still_wanted=_offer_still_wanted,
        subjects=_offers,
    )
    outbox.protect_subjects(Appointment, WaitlistEntry)
