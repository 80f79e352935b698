"""The reminder pipeline: planners write Notification rows (the outbox), the dispatcher claims
due rows, and ``send`` delivers one row. See docs/reminders.md for the state machine and the
crash-window policy per channel.

Everything here takes model instances or ids; nothing knows about requests. Planners run
inside the caller's transaction, and request code only publishes in ``on_commit``.
"""

from __future__ import annotations

import datetime
import enum
import json
import logging
import os
import random
import re
import time
import uuid
import zoneinfo
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.base import ModelState
from django.db.models.expressions import RawSQL
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import timezone

from appointments.models import Appointment, WaitlistEntry
from clinic import audit
from clinic.models import AuditEvent, Notification, NotificationPreference, User

logger = logging.getLogger(__name__)

UTC = datetime.UTC
Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status

# Outcomes a row never leaves; ``send`` returns at once for these.
FINAL = (Status.SENT, Status.FAILED, Status.CANCELLED, Status.SKIPPED, Status.UNKNOWN)
OPEN = (Status.PENDING, Status.ENQUEUED, Status.SENDING)
# Quiet hours hold back messages that buzz a phone or an inbox; the portal is silent.
QUIET_CHANNELS = (Channel.EMAIL, Channel.SMS)
# A moved-earlier message goes this long before quiet hours start: the dispatcher runs once a
# minute and providers take a moment, so "just before" must leave some room.
QUIET_MARGIN = datetime.timedelta(minutes=10)
# A reminder only makes sense if the patient can still act on it.
CATCH_UP_MIN_LEAD = datetime.timedelta(hours=1)
STAFF_NOTICE_TTL = datetime.timedelta(days=3)
FOLLOW_UP_TTL = datetime.timedelta(days=7)
REVIEW_WINDOW_DAYS = 30
RETRY_CAP = datetime.timedelta(hours=1)
# Ids per broker message and per claim: the fixed cost of a batch (a claim, a few bulk updates,
# one audit append) is spread thin, and a batch still ends well inside the task's time limit.
# 500 rather than 200: at 100,000 reminders the per-batch cost (claim, two audit appends under the
# chain lock, commits) was a tenth of a worker's time; a batch still takes about a second.
BATCH_SIZE = 500
# What sending reads besides the row itself (the checks, message_context, channels.deliver): a
# user or an appointment has many more columns, and a batch loads 500 of each.
SEND_READS = (
    *(field.name for field in Notification._meta.concrete_fields),
    *(f"recipient__{name}" for name in ("is_active", "email", "time_zone")),
    *(f"recipient__notification_preference__{name}" for name in ("email_enabled", "sms_enabled", "sms_phone")),
    *(f"appointment__{name}" for name in ("start", "status", "appointment_type__cancel_window_hours")),
    *(f"waitlist_entry__{name}" for name in ("status", "offer_start", "offer_expires_at")),
)
# What planning reads of a NotificationPreference (enabled_channels, quiet hours).
PREFERENCE_FIELDS = ("email_enabled", "sms_enabled", "sms_phone", "quiet_hours_start", "quiet_hours_end")
# Texts are marked SENDING in groups that the provider should get through in about this long.
TEXT_GROUP_SECONDS = 0.5
ACTION_SALT = "titrate.appointment-action"
ACTION_MAX_AGE = datetime.timedelta(days=30)
ACTIONS = ("confirm", "cancel")


def checkpoint(name: str) -> None:
    """Deterministic crash point for the fault-injection tests (reference §4.5)."""
    if os.environ.get("TITRATE_CRASH_AT") == name:
        os._exit(1)


def lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.TITRATE_NOTIFICATION_LEASE_SECONDS)


# -- Recipients, preferences, time ------------------------------------------------------------


def zone_of(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TITRATE_DEFAULT_TIME_ZONE)


def preferences(user: User) -> NotificationPreference:
    """The user's preferences, or the defaults (email on, SMS off) if they never saved any."""
    try:
        return user.notification_preference
    except ObjectDoesNotExist:
        return NotificationPreference(user=user)


def enabled_channels(user: User, prefs: NotificationPreference | None = None, *, sms: bool = True) -> list[str]:
    if user is None or not user.is_active:
        return []
    prefs = prefs or preferences(user)
    channels = [Channel.IN_APP]
    if prefs.email_enabled and user.email:
        channels.append(Channel.EMAIL)
    if sms and prefs.sms_enabled and prefs.sms_phone:
        channels.append(Channel.SMS)
    return channels


def format_when(moment: datetime.datetime, tz: zoneinfo.ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b} at {local:%H:%M}"


def _utc_stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def reminder_time(start: datetime.datetime, offset_hours: float, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    """When a reminder ``offset_hours`` before ``start`` fires, in UTC.

    Whole days are counted on the recipient's wall clock ("48 h before a 10:00 visit" is
    10:00 two days before, even across a DST change); other offsets are exact hours.
    Same-zone aware arithmetic in Python is wall-clock arithmetic; astimezone() then
    resolves the offset for that local date (fold=0 for a time skipped or repeated by DST).
    """
    if offset_hours % 24 == 0:
        local = start.astimezone(tz) - datetime.timedelta(days=offset_hours // 24)
        return local.astimezone(UTC)
    return start - datetime.timedelta(hours=offset_hours)


def _quiet_period(moment: datetime.datetime, prefs: NotificationPreference, tz) -> tuple | None:
    """(start, end) in UTC of the quiet period ``moment`` falls in, or None."""
    begin, end = prefs.quiet_hours_start, prefs.quiet_hours_end
    if begin is None or end is None or begin == end:
        return None
    local = moment.astimezone(tz)
    now = local.time()
    wraps = begin > end  # e.g. 21:00–08:00
    if not (begin <= now < end if not wraps else now >= begin or now < end):
        return None
    first_day = local.date() - datetime.timedelta(days=1) if wraps and now < end else local.date()
    last_day = first_day + datetime.timedelta(days=1) if wraps else first_day
    return (
        datetime.datetime.combine(first_day, begin, tzinfo=tz).astimezone(UTC),
        datetime.datetime.combine(last_day, end, tzinfo=tz).astimezone(UTC),
    )


def before_quiet(moment: datetime.datetime, prefs, tz) -> datetime.datetime:
    """A reminder inside quiet hours moves earlier, so it still arrives before the visit."""
    period = _quiet_period(moment, prefs, tz)
    return period[0] - QUIET_MARGIN if period else moment


def after_quiet(moment: datetime.datetime, prefs, tz) -> datetime.datetime:
    """A send-now message cannot move into the past: it waits for the quiet period to end."""
    period = _quiet_period(moment, prefs, tz)
    return period[1] if period else moment


# -- Planning ---------------------------------------------------------------------------------


_ROW_FIELDS = [field for field in Notification._meta.concrete_fields]
_ROW_ATTNAMES = frozenset(field.attname for field in _ROW_FIELDS)


def _row(**fields) -> Notification:
    """A PENDING row, built the way ``Model.__init__`` leaves an unsaved instance (every field's
    attname in ``__dict__``, a fresh ModelState) without its per-field loop and its init signals,
    which nothing connects for Notification: a planner builds 100,000."""
    fields.setdefault("status", Status.PENDING)
    related = {
        name: fields.pop(name) for name in ("recipient", "patient", "appointment", "waitlist_entry") if name in fields
    }
    if not fields.keys() <= _ROW_ATTNAMES:
        raise TypeError(f"Notification has no field(s) {sorted(fields.keys() - _ROW_ATTNAMES)}")
    row = Notification.__new__(Notification)
    row._state = ModelState()
    values = row.__dict__
    for field in _ROW_FIELDS:
        values[field.attname] = fields[field.attname] if field.attname in fields else field.get_default()
    for name, instance in related.items():  # instances given stay cached on the row
        setattr(row, name, instance)
    return row


def _insert(rows: list[Notification]) -> list[Notification]:
    """Insert rows whose idempotency key is new; returns the rows actually created.

    Conflicts on the key are ignored, so a concurrent planner with the same key is harmless;
    which of ours won is read back (PostgreSQL: RETURNING, in the same statement).
    """
    if not rows:
        return []
    if connection.vendor == "postgresql":
        won = _insert_returning_ids(rows)
        created = [r for r in rows if r.pk in won]
    else:
        keys = [r.idempotency_key for r in rows]
        existing = set(Notification.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True))
        new = [r for r in rows if r.idempotency_key not in existing]
        Notification.objects.bulk_create(new, ignore_conflicts=True)
        won = set(Notification.objects.filter(pk__in=[r.pk for r in new]).values_list("pk", flat=True))
        created = [r for r in new if r.pk in won]
    _publish_due_on_commit(created)
    return created


def _insert_returning_ids(rows: list[Notification]) -> set:
    """``INSERT … SELECT FROM jsonb_array_elements(one JSON document) ON CONFLICT DO NOTHING
    RETURNING id``: one statement and one parameter, where bulk_create prepares and binds every
    field of every row (the planner's cost at 100,000 reminders, docs/performance.md). The rows
    travel as one JSON array of arrays, encoded by the json module in C: psycopg's array adapter
    quotes each element in Python and cost as much as building the rows. A column with the same
    value in every row (status, attempts, the empty strings) is bound once. Columns and types come
    from the model, so a new field is covered."""
    qn = connection.ops.quote_name
    columns, selected, constants, varying = [], [], [], []
    for field in Notification._meta.concrete_fields:
        values = [getattr(row, field.attname) for row in rows]
        db_type = field.db_type(connection)
        columns.append(qn(field.column))
        first = values[0]
        if not field.primary_key and all(v == first for v in values):  # the id always varies
            selected.append(f"%s::{db_type}")
            constants.append(first.value if isinstance(first, enum.Enum) else first)
        else:
            selected.append(f"(u.e ->> {len(varying)})::{db_type}")
            varying.append(values)
    document = json.dumps(list(zip(*varying, strict=True)), default=_json_value, separators=(",", ":"))
    # Identifiers come from the model and are quoted; every value is a bound parameter.
    sql = (
        f"INSERT INTO {qn(Notification._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(selected)} FROM jsonb_array_elements(%s::jsonb) AS u(e) "
        f"ON CONFLICT DO NOTHING RETURNING {qn(Notification._meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*constants, document])
        return {row[0] for row in cursor.fetchall()}


def _json_value(value):
    """A value the json module cannot encode, as the text PostgreSQL casts back exactly (choices
    are str and encode as themselves; datetimes keep their offset and microseconds)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be sent in a planner's JSON")


def _publish_due_on_commit(rows: list[Notification]) -> None:
    """Rows due now need not wait for the next sweep. Published only after commit (a rolled-back
    booking publishes nothing); if the broker is down the sweep sends them later."""
    now = timezone.now()
    due = [str(r.pk) for r in rows if r.send_at <= now]
    if due:
        transaction.on_commit(lambda: publish_all(due))


def _reminder_rows(appointment: Appointment, now: datetime.datetime) -> list[Notification]:
    """The reminder rows an appointment should have (see docs/reminders.md, "Planning")."""
    user = appointment.patient.user
    if user is None or appointment.status not in Appointment.ACTIVE_STATUSES or appointment.start <= now:
        return []
    prefs = preferences(user)
    tz = zone_of(user)
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
    offsets = set()
    for value in appointment_type.reminder_offsets_hours or []:
        try:
            hours = float(value)
        except (TypeError, ValueError):
            logger.error("Appointment type %s has a reminder offset that is not a number", appointment_type.pk)
            continue
        if hours > 0:
            offsets.add(hours)
    return sorted(offsets)


def _reminder(appointment, user, channel, offset, send_at) -> Notification:
    return _row(
        idempotency_key=f"appt-reminder:{appointment.pk}:{_utc_stamp(appointment.start)}:{offset:g}h:{channel}",
        kind=Kind.APPOINTMENT_REMINDER,
        channel=channel,
        # Ids, not instances: the planner builds 100,000 of these, and the relation descriptors
        # cost more than the rest of the row.
        recipient_id=user.pk,
        patient_id=appointment.patient_id,
        appointment_id=appointment.pk,
        send_at=send_at,
        expires_at=appointment.start,
    )


def plan_appointment_reminders(appointment: Appointment) -> list[Notification]:
    """Create the appointment's reminder rows; running it again creates nothing new."""
    return _insert(_reminder_rows(appointment, timezone.now()))


def cancel_for_appointment(appointment: Appointment, kinds=(Kind.APPOINTMENT_REMINDER, Kind.APPOINTMENT_BOOKED)) -> int:
    """Unsent rows about the appointment become CANCELLED, in the caller's transaction.

    A message already handed to a worker is caught by ``send``, which re-reads the
    appointment under the row lock. Cancellation notices and no-show follow-ups are left alone:
    they are about the appointment no longer happening.
    """
    return Notification.objects.filter(appointment=appointment, kind__in=kinds, status__in=OPEN).update(
        status=Status.CANCELLED, lease_expires_at=None
    )


def replan_appointment(appointment: Appointment) -> list[Notification]:
    """After a reschedule: old reminders go, new ones (new start, so new keys) come."""
    cancel_for_appointment(appointment, kinds=(Kind.APPOINTMENT_REMINDER,))
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
    created = _insert(rows)
    won = {r.pk for r in created}
    for row in rows:
        if row.pk not in won:
            Notification.objects.filter(idempotency_key=row.idempotency_key, status=Status.PENDING, attempts=0).exclude(
                send_at=row.send_at
            ).update(send_at=row.send_at)
    return created


def plan_upcoming_reminders(horizon_days: int = 14) -> list[Notification]:
    """Safety net (beat): every active appointment in the horizon has its reminders."""
    now = timezone.now()
    appointments = (
        Appointment.objects.active()
        .filter(start__gt=now, start__lte=now + datetime.timedelta(days=horizon_days), patient__user__isnull=False)
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
            *(f"patient__user__notification_preference__{name}" for name in PREFERENCE_FIELDS),
        )
    )
    created = []
    rows: list[Notification] = []
    for appointment in appointments.iterator(chunk_size=500):
        rows += _reminder_rows(appointment, now)
        if len(rows) >= 1000:
            created += _insert(rows)
            rows = []
    return created + _insert(rows)


def _send_now_rows(user, *, key: str, kind: str, expires_at, sms: bool = True, **about) -> list[Notification]:
    """Rows sent at once on each enabled channel; email/SMS wait out quiet hours if they can."""
    now = timezone.now()
    if user is None or expires_at <= now:
        return []
    prefs, tz = preferences(user), zone_of(user)
    rows = []
    for channel in enabled_channels(user, prefs, sms=sms):
        send_at = after_quiet(now, prefs, tz) if channel in QUIET_CHANNELS else now
        if send_at < expires_at:
            rows.append(
                _row(
                    idempotency_key=f"{key}:{channel}",
                    kind=kind,
                    channel=channel,
                    recipient=user,
                    send_at=send_at,
                    expires_at=expires_at,
                    **about,
                )
            )
    return rows


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
                _row(
                    idempotency_key=f"{kind}:{appointment.pk}:{_utc_stamp(appointment.start)}:{user.pk}:{channel}",
                    kind=kind,
                    channel=channel,
                    recipient=user,
                    patient=appointment.patient,
                    appointment=appointment,
                    send_at=now,
                    expires_at=now + STAFF_NOTICE_TTL,
                )
            )
    return _insert(rows)


def notify_waitlist_offer(entry: WaitlistEntry) -> list[Notification]:
    if entry.offer_start is None or entry.offer_expires_at is None:
        return []
    key = f"waitlist-offer:{entry.pk}:{_utc_stamp(entry.offer_start)}:{_utc_stamp(entry.offer_expires_at)}"
    rows = _send_now_rows(
        entry.patient.user,
        key=key,
        kind=Kind.WAITLIST_OFFER,
        expires_at=entry.offer_expires_at,
        patient=entry.patient,
        waitlist_entry=entry,
    )
    return _insert(rows)


def plan_no_show_follow_up(appointment: Appointment) -> list[Notification]:
    rows = _send_now_rows(
        appointment.patient.user,
        key=f"no-show:{appointment.pk}",
        kind=Kind.NO_SHOW_FOLLOW_UP,
        expires_at=timezone.now() + FOLLOW_UP_TTL,
        patient=appointment.patient,
        appointment=appointment,
    )
    return _insert(rows)


def plan_prescription_reviews() -> list[Notification]:
    """In-app nudge to the prescriber for each prescription due for review
    (patients.reassessment: TITRATE_RX_REVIEW_WEEKS after a start or dose change with no visit
    note since, or 90+ days old with no visit note for 90 days). At most one per prescription
    per 30-day window."""
    from patients.reassessment import prescriptions_due_for_review

    now = timezone.now()
    today = now.date()
    window = (today - datetime.date(2000, 1, 1)).days // REVIEW_WINDOW_DAYS
    rows = [
        _row(
            idempotency_key=f"rx-review:{due.prescription.pk}:w{window}:{Channel.IN_APP}",
            kind=Kind.PRESCRIPTION_REVIEW_DUE,
            channel=Channel.IN_APP,
            recipient=due.prescription.prescriber,
            patient_id=due.prescription.patient_id,
            send_at=now,
            expires_at=now + FOLLOW_UP_TTL,
        )
        for due in prescriptions_due_for_review(today)
    ]
    return _insert(rows)


# -- Dispatch ---------------------------------------------------------------------------------


def publish(ids) -> bool:
    """Hand one batch of rows to a worker: ONE broker message naming up to BATCH_SIZE ids. Never
    raises: a broker outage leaves the rows for the sweep.

    ``expires`` = the lease: a message that waited longer is dropped by the worker, because the
    sweep has re-claimed the rows by then. No eta/countdown, ever (DESIGN.md).
    """
    from clinic.tasks import send_notifications

    ids = [str(pk) for pk in ids]
    try:
        send_notifications.apply_async(args=[ids], expires=settings.TITRATE_NOTIFICATION_LEASE_SECONDS)
    except Exception:
        logger.warning("Broker unavailable; %s notifications wait for the sweep.", len(ids), exc_info=True)
        return False
    return True


def publish_all(ids) -> None:
    """Publish in batches of BATCH_SIZE, in order; after the first failure stop trying (each try
    costs the caller about a second of broker retries) and leave the rest to the sweep as well."""
    ids = list(ids)
    for start in range(0, len(ids), BATCH_SIZE):
        if not publish(ids[start : start + BATCH_SIZE]):
            rest = len(ids) - start - BATCH_SIZE
            if rest > 0:
                logger.warning("%s more notifications wait for the sweep.", rest)
            return


def _stale_sending_outcome(row: Notification, now) -> tuple[str, str] | None:
    """Policy for a row found SENDING with an expired lease: the worker died, maybe after the
    provider accepted the message. None = send it again."""
    if row.expires_at <= now:
        if row.channel == Channel.IN_APP:
            return Status.SKIPPED, "Expired before it could be shown."
        return Status.UNKNOWN, "The sender stopped mid-send and the message has expired; check the provider's log."
    if row.channel == Channel.SMS:
        # At most once: Twilio does not dedupe by our key, so a retry could text twice.
        return Status.UNKNOWN, "The sender stopped during the provider call; check the provider's log."
    if row.attempts >= settings.TITRATE_NOTIFICATION_MAX_ATTEMPTS:
        return Status.FAILED, f"Gave up after {row.attempts} attempts (the sender kept stopping)."
    return None  # email: at least once, same Message-ID; in-app: our own table, always safe


def dispatch_due(limit: int = 500) -> list[str]:
    """Claim due rows and stale leases, mark them ENQUEUED with a lease, publish after commit.

    ``skip_locked`` lets two dispatchers (a doubled beat) run at once without claiming the same
    row; expired rows that never went become SKIPPED.
    """
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(
                Q(status=Status.PENDING, send_at__lte=now)
                | Q(status__in=(Status.ENQUEUED, Status.SENDING), lease_expires_at__lt=now)
            )
            .order_by("send_at")
            .only("id", "status", "channel", "attempts", "expires_at")[:limit]
        )
        claim, closed = [], {}
        for row in rows:
            if row.status == Status.SENDING:
                outcome = _stale_sending_outcome(row, now)
            elif row.expires_at <= now:
                outcome = (Status.SKIPPED, "Expired before it could be sent.")
            else:
                outcome = None
            if outcome is None:
                claim.append(row.pk)
            else:
                closed.setdefault(outcome, []).append(row.pk)
        for (status, reason), ids in closed.items():
            Notification.objects.filter(pk__in=ids).update(status=status, last_error=reason, lease_expires_at=None)
        Notification.objects.filter(pk__in=claim).update(status=Status.ENQUEUED, lease_expires_at=now + lease())
        ids = [str(pk) for pk in claim]
        transaction.on_commit(lambda: publish_all(ids))
    if closed:
        logger.info(
            "Dispatcher closed %s rows: %s", sum(map(len, closed.values())), {k[0]: len(v) for k, v in closed.items()}
        )
    return ids


# -- Sending ----------------------------------------------------------------------------------


def _still_wanted(row: Notification, now) -> tuple[str, str] | None:
    """Why a claimed row must not go out now, as (final status, reason), or None."""
    if row.expires_at <= now:
        return Status.SKIPPED, "Expired before it could be sent."
    appointment = row.appointment
    if row.kind in (Kind.APPOINTMENT_REMINDER, Kind.APPOINTMENT_BOOKED) and appointment is not None:
        if appointment.status not in Appointment.ACTIVE_STATUSES:
            return Status.CANCELLED, "The appointment is no longer booked."
        if row.kind == Kind.APPOINTMENT_REMINDER and appointment.start != row.expires_at:
            return Status.CANCELLED, "The appointment was moved."
    if row.kind == Kind.NO_SHOW_FOLLOW_UP and appointment is not None and appointment.status != "no_show":
        return Status.CANCELLED, "The appointment is no longer marked as missed."
    entry = row.waitlist_entry
    offer_open = entry is not None and entry.status == WaitlistEntry.Status.OFFERED and entry.offer_expires_at > now
    if row.kind == Kind.WAITLIST_OFFER and entry is not None and not offer_open:
        return Status.CANCELLED, "The offer is no longer open."
    if row.channel not in enabled_channels(row.recipient):
        return Status.SKIPPED, "The recipient turned this channel off."
    if row.attempts >= settings.TITRATE_NOTIFICATION_MAX_ATTEMPTS:
        return Status.FAILED, f"Gave up after {row.attempts} attempts."
    return None


def _close(pk, status: str, reason: str = "") -> str:
    Notification.objects.filter(pk=pk).update(status=status, last_error=scrub(reason), lease_expires_at=None)
    return status


def send(notification_id) -> str | None:
    """Deliver one row (a message published by an older version, or a redelivery): the batch
    path with a batch of one, waiting for the row lock like the one-row sender always did.
    Returns the row's status afterwards (None if there is no such row)."""
    return send_batch([notification_id], skip_locked=False).get(str(notification_id))


def _time_budget() -> float:
    """Seconds a batch may spend on providers before it gives its remaining rows back: half the
    task's soft time limit and half the lease, so it records its outcomes before Celery interrupts
    it and long before the sweep could claim its rows again."""
    limits = [settings.TITRATE_NOTIFICATION_LEASE_SECONDS]
    if getattr(settings, "CELERY_TASK_SOFT_TIME_LIMIT", None):
        limits.append(settings.CELERY_TASK_SOFT_TIME_LIMIT)
    return min(limits) / 2


# In-app costs nothing, email shares one connection, SMS is one HTTP call each: the slow, costly
# channel goes last, so a batch that runs out of time gives back rows that are still ENQUEUED.
_SEND_ORDER = {Channel.IN_APP: 0, Channel.EMAIL: 1, Channel.SMS: 2}


def send_batch(notification_ids, *, skip_locked: bool = True) -> dict[str, str]:
    """Deliver a batch of rows with a number of queries that does not grow with the batch (but
    one per SMS, and one per failed row). Returns {id: status afterwards} for the rows found.

    (a) One short transaction: lock the rows (``skip_locked``: a row another transaction holds
    is theirs, or the sweep's later), apply the same checks as ever per row (final, backoff not
    over, lease held by another worker, stale-lease policy, still wanted, attempts, render), close
    the rows that must not go in one UPDATE per outcome, and mark the rest in bulk: email and
    in-app SENDING (attempts + 1, lease), SMS ENQUEUED with the same lease. Commit.
    (b) Outside any transaction, row by row: an SMS is marked SENDING on its own just before its
    provider call, so a crash leaves at most the one text in flight UNKNOWN (docs/reminders.md §3)
    and a cancellation during the batch still stops it; email goes over one open connection. A
    failure is that row's alone (FAILED, or back to PENDING with backoff). Past the time budget the
    rows not reached are given back (PENDING, due now, attempt not counted) and published again.
    (c) One transaction: SENT for every delivered row in one UPDATE, and their audit rows in one
    chained append (``audit.record_many``). Commit.
    """
    from clinic import channels

    ids = list(dict.fromkeys(str(pk) for pk in notification_ids))
    if not ids:
        return {}
    started = time.monotonic()
    now = timezone.now()
    results: dict[str, str] = {}
    work: list[tuple[Notification, Message]] = []
    with transaction.atomic():
        locked = (
            Notification.objects.select_for_update(skip_locked=skip_locked, of=("self",))
            .select_related("recipient__notification_preference", "appointment__appointment_type", "waitlist_entry")
            .only(*SEND_READS)
            .filter(pk__in=ids)
            .order_by("pk")
        )
        closed: dict[tuple[str, str], list] = {}
        for row in locked:
            if row.status in FINAL or (row.status == Status.PENDING and row.send_at > now):
                results[str(row.pk)] = row.status  # done, or a retry waiting for its backoff (the sweep)
                continue
            outcome = None
            if row.status == Status.SENDING:
                if row.lease_expires_at and row.lease_expires_at > now:
                    results[str(row.pk)] = row.status  # another worker holds it
                    continue
                outcome = _stale_sending_outcome(row, now)
            outcome = outcome or _still_wanted(row, now)
            if outcome is None:
                try:
                    work.append((row, render_message(row)))
                    continue
                except Exception as error:  # a template bug will not fix itself: no retries
                    logger.exception("Could not render notification %s", row.pk)
                    outcome = (Status.FAILED, f"Could not render the message: {type(error).__name__}")
            closed.setdefault(outcome, []).append(row.pk)
            results[str(row.pk)] = outcome[0]
        for (status, reason), pks in closed.items():
            Notification.objects.filter(pk__in=pks).update(
                status=status, last_error=scrub(reason), lease_expires_at=None
            )
        # In-app: the row IS the message, so delivering it is this commit (no SENDING step, no
        # provider call, no crash window): SENT with its audit rows, in (a)'s transaction.
        shown = [row for row, _ in work if row.channel == Channel.IN_APP]
        work = [item for item in work if item[0].channel != Channel.IN_APP]
        results.update(_record_shown(shown, now))
        held_until = now + lease()
        work.sort(key=lambda item: _SEND_ORDER[item[0].channel])
        texts = [row.pk for row, _ in work if row.channel == Channel.SMS]
        others = [row.pk for row, _ in work if row.channel != Channel.SMS]
        if others:
            Notification.objects.filter(pk__in=others).update(
                status=Status.SENDING, attempts=F("attempts") + 1, lease_expires_at=held_until
            )
        if texts:
            Notification.objects.filter(pk__in=texts).update(status=Status.ENQUEUED, lease_expires_at=held_until)
        for row, _ in work:
            if row.channel == Channel.SMS:
                row.status, row.lease_expires_at = Status.ENQUEUED, held_until
            else:
                row.status, row.attempts, row.lease_expires_at = Status.SENDING, row.attempts + 1, held_until
        # Dying here rolls the marks back: the rows stay as they were (ENQUEUED with the
        # dispatcher's lease, or PENDING and due) and are sent later, nothing having gone out.
        checkpoint("before_send")
    forget_unread_many({row.recipient_id for row in shown})

    delivered: list[tuple[Notification, str]] = []
    unreached: list[Notification] = []
    email, sms = None, None
    budget = _time_budget()
    slowest_text: float | None = None  # seconds of the slowest SMS call of this batch so far
    marked_upto = 0  # texts (last in ``work``) before this index went through _mark_sending
    try:
        for index, (row, message) in enumerate(work):
            if index and time.monotonic() - started > budget:
                unreached = [r for r, _ in work[index:]]
                break
            pk = str(row.pk)
            try:
                if row.channel == Channel.SMS:
                    if index >= marked_upto:
                        size = _text_group(slowest_text, len(work) - index)
                        results.update(_mark_sending([r for r, _ in work[index : index + size]], held_until))
                        marked_upto = index + size
                    if row.status != Status.SENDING:
                        continue  # cancelled or re-claimed since (a): its status is in results
                    sms = sms or channels.sms_backend()
                elif row.channel == Channel.EMAIL and email is None:
                    email = _email_connection()
                began = time.monotonic()
                provider_id = channels.deliver(row, message, email_connection=email, sms=sms)
                if row.channel == Channel.SMS:
                    slowest_text = max(slowest_text or 0.0, time.monotonic() - began)
            except SoftTimeLimitExceeded:
                # Interrupted (a provider hung past the budget): this row keeps its SENDING lease
                # and the stale-lease policy decides; the others are given back.
                unreached = [r for r, _ in work[index + 1 :]]
                break
            except channels.PermanentError as error:
                results[pk] = _close(row.pk, Status.FAILED, str(error))
                continue
            except channels.AmbiguousError as error:
                # The provider may have taken it and cannot dedupe a retry: at most once, a human checks.
                logger.warning("Notification %s: outcome unknown (%s)", row.pk, type(error).__name__)
                results[pk] = _close(row.pk, Status.UNKNOWN, str(error))
                continue
            except Exception as error:  # transient, or a bug in a backend: bounded retries either way
                logger.warning("Notification %s attempt %s failed: %s", row.pk, row.attempts, type(error).__name__)
                results[pk] = _retry_later(row, error)
                if row.channel == Channel.EMAIL:
                    email = _drop_email_connection(email)  # the session may be broken: a new one
                continue
            checkpoint("after_provider_call")
            delivered.append((row, provider_id))
    finally:
        _drop_email_connection(email)
        # Whatever stopped the loop, what the providers accepted is recorded.
        results.update(_record_sent(delivered))
    if unreached:
        results.update(_give_back(unreached))
    checkpoint("after_sent_commit")
    return results


def _text_group(slowest: float | None, remaining: int) -> int:
    """How many texts to mark SENDING in one UPDATE (one commit): as many as the slowest call so
    far says fit in TEXT_GROUP_SECONDS, one to begin with. A crash can leave the group's unsent
    texts UNKNOWN, so the exposure is bounded in time, not rows: a gateway answering in 200 ms
    gets pairs, one answering in 50 µs (console, file) gets the whole batch in one commit."""
    if slowest is None:
        return 1
    return max(1, min(remaining, int(TEXT_GROUP_SECONDS / max(slowest, 1e-6))))


def _mark_sending(texts: list[Notification], held_until) -> dict[str, str]:
    """Texts claimed in (a) become SENDING (attempts + 1, fresh lease) just before their provider
    calls, if they are still ours (ENQUEUED under this batch's lease). Returns the status of those
    that are not (cancelled, or re-claimed after the lease), which are then not sent."""
    fresh = timezone.now() + lease()
    pks = [row.pk for row in texts]
    claimed = Notification.objects.filter(pk__in=pks, status=Status.ENQUEUED, lease_expires_at=held_until).update(
        status=Status.SENDING, attempts=F("attempts") + 1, lease_expires_at=fresh
    )
    if claimed == len(texts):
        now_in_db = dict.fromkeys(pks, (Status.SENDING, fresh))
    else:  # some changed since (a): read which are ours (a deleted row is in neither)
        rows = Notification.objects.filter(pk__in=pks).values_list("pk", "status", "lease_expires_at")
        now_in_db = {pk: (status, held) for pk, status, held in rows}
    lost = {}
    for row in texts:
        status, held = now_in_db.get(row.pk, (None, None))
        if status == Status.SENDING and held == fresh:
            row.status, row.attempts, row.lease_expires_at = Status.SENDING, row.attempts + 1, fresh
        else:
            row.status = status
            if status:
                lost[str(row.pk)] = status
    return lost


def _email_connection():
    """One email backend connection for the batch, opened up front (a connection the backend
    opens by itself is closed after each message). If it cannot open, each message's own send
    reports the error, classified, for its row."""
    from django.core.mail import get_connection

    connection = get_connection()
    try:
        connection.open()
    except Exception:
        logger.warning("Email connection could not be opened; each message will try on its own.")
    return connection


def _drop_email_connection(connection) -> None:
    """Close the batch's connection; returns None so the next email opens a fresh one."""
    if connection is not None:
        try:
            connection.close()
        except Exception:  # a broken session: nothing to close cleanly
            logger.info("Email connection closed uncleanly.")
    return None


def _record_sent(delivered: list[tuple[Notification, str]]) -> dict[str, str]:
    """(c): the provider accepted them, that is the truth whatever happened to the rows since:
    SENT in one UPDATE (each row's provider id through a CASE), one audit row each, one append."""
    if not delivered:
        return {}
    accepted = delivered
    with transaction.atomic():
        # A row another worker already recorded SENT (its send given back and sent again after a
        # timeout) keeps its one audit row: record only the rows this call turns SENT.
        fresh = set(
            Notification.objects.select_for_update()
            .filter(pk__in=[row.pk for row, _ in delivered])
            .exclude(status=Status.SENT)
            .order_by("pk")  # one lock order for every worker: no deadlock between two batches
            .values_list("pk", flat=True)
        )
        delivered = [(row, provider_id) for row, provider_id in delivered if row.pk in fresh]
        if delivered:
            Notification.objects.filter(pk__in=fresh).update(
                status=Status.SENT,
                provider_message_id=_provider_ids(delivered),
                sent_at=timezone.now(),
                lease_expires_at=None,
                last_error="",
            )
            audit.record_many(
                AuditEvent.Action.CREATE,
                [
                    (row.patient_id, row, {"event": "notification_sent", "kind": row.kind, "channel": row.channel})
                    for row, _ in delivered
                ],
            )
    forget_unread_many({row.recipient_id for row, _ in delivered if row.channel == Channel.IN_APP})
    return {str(row.pk): Status.SENT for row, _ in accepted}


def _record_shown(rows: list[Notification], now) -> dict[str, str]:
    """In-app rows delivered: SENT (attempts + 1) in one UPDATE and one audit row each, in the
    caller's transaction. The caller drops the cached badge counts after its commit."""
    if not rows:
        return {}
    Notification.objects.filter(pk__in=[row.pk for row in rows]).update(
        status=Status.SENT, attempts=F("attempts") + 1, sent_at=now, lease_expires_at=None, last_error=""
    )
    audit.record_many(
        AuditEvent.Action.CREATE,
        [
            (row.patient_id, row, {"event": "notification_sent", "kind": row.kind, "channel": row.channel})
            for row in rows
        ],
    )
    for row in rows:
        row.status, row.attempts, row.sent_at, row.lease_expires_at = Status.SENT, row.attempts + 1, now, None
    return {str(row.pk): Status.SENT for row in rows}


def _provider_ids(delivered: list[tuple[Notification, str]]):
    """Each row's provider message id, for one UPDATE. PostgreSQL reads it from one bound JSON
    object by the row's id (a CASE of hundreds of branches cost more to build than the UPDATE to run)."""
    ids = {str(row.pk): (pid or "")[:128] for row, pid in delivered if pid}
    if not ids:
        return ""
    if connection.vendor == "postgresql":
        column = connection.ops.quote_name(Notification._meta.pk.column)
        return RawSQL(f"COALESCE(%s::jsonb ->> {column}::text, '')", [json.dumps(ids)])  # noqa: S611
    return Case(*(When(pk=pk, then=Value(pid)) for pk, pid in ids.items()), default=Value(""))


def _give_back(rows: list[Notification]) -> dict[str, str]:
    """Rows a batch did not reach within its time budget: PENDING and due now, the attempt not
    counted (nothing was tried), and published again at once (or swept if the broker is down)."""
    now = timezone.now()
    marked = [row.pk for row in rows if row.status == Status.SENDING]
    waiting = [row.pk for row in rows if row.status == Status.ENQUEUED]
    with transaction.atomic():
        Notification.objects.filter(pk__in=marked, status=Status.SENDING).update(
            status=Status.PENDING, attempts=F("attempts") - 1, send_at=now, lease_expires_at=None
        )
        Notification.objects.filter(pk__in=waiting, status=Status.ENQUEUED).update(
            status=Status.PENDING, send_at=now, lease_expires_at=None
        )
    logger.warning("A notification batch ran out of time; %s rows go back to the queue.", len(marked + waiting))
    publish_all(marked + waiting)
    return {str(pk): Status.PENDING for pk in marked + waiting}


def retry_delay(attempts: int) -> datetime.timedelta:
    """Exponential backoff with jitter (half fixed, half random) so failed sends spread out."""
    base = settings.TITRATE_NOTIFICATION_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    capped = min(base, RETRY_CAP.total_seconds())
    return datetime.timedelta(seconds=capped / 2 + random.uniform(0, capped / 2))


def _retry_later(row: Notification, error: Exception) -> str:
    reason = scrub(str(error) or type(error).__name__)
    if row.attempts >= settings.TITRATE_NOTIFICATION_MAX_ATTEMPTS:
        return _close(row.pk, Status.FAILED, f"Gave up after {row.attempts} attempts: {reason}")
    send_at = timezone.now() + retry_delay(row.attempts)
    if send_at >= row.expires_at:
        return _close(row.pk, Status.FAILED, f"Expired before a retry: {reason}")
    Notification.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=Status.PENDING, send_at=send_at, lease_expires_at=None, last_error=reason[:300]
    )
    return Status.PENDING


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_DIGITS = re.compile(r"\+?\d[\d\s().-]*\d")


def scrub(text: str) -> str:
    """Provider errors can quote the phone number or address; last_error is shown to staff.
    Runs of 7+ digits (a phone number) go; short codes like "503" or "21211" stay."""
    text = _EMAIL.sub("[email]", text)
    text = _DIGITS.sub(lambda m: "[number]" if sum(c.isdigit() for c in m.group()) >= 7 else m.group(), text)
    return text[:300]


def unread_cache_key(user_id) -> str:
    return f"notifications:unread:{user_id}"


def forget_unread_many(user_ids) -> None:
    """``forget_unread`` for a batch: one cache round trip."""
    if not user_ids:
        return
    try:
        cache.delete_many([unread_cache_key(pk) for pk in user_ids])
    except Exception:
        logger.warning("Cache unavailable; unread counts for %s users not refreshed.", len(user_ids))


def forget_unread(user_id) -> None:
    """Drop the cached badge count. A cache outage must not fail the caller (a page, or a send
    whose SENT is already committed): the count is then at most UNREAD_TTL stale."""
    try:
        cache.delete(unread_cache_key(user_id))
    except Exception:
        logger.warning("Cache unavailable; unread count for user %s not refreshed.", user_id)


# -- Messages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str = ""


_paths: dict[tuple, str] = {}
# What reverse() leaves as it is in a path (RFC 3986 unreserved characters and ":"): a signed
# action token is made of these only, so its link is the pattern's prefix + token + suffix.
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9._~:-]+")
_TOKEN_SLOT = "TOKEN-SLOT"
_TOKEN_URLS = {"appointment_action"}  # patterns "<str:token>": any plain token fits the slot


def _path(name: str, *args) -> str:
    """reverse(), remembered for the arg-less pages every message links to (a batch renders the
    same few thousands of times). The key holds everything else reverse() reads."""
    key = (settings.ROOT_URLCONF, get_urlconf(), get_script_prefix(), name, args)
    if key not in _paths:
        _paths[key] = reverse(name, args=args)
    return _paths[key]


def _url(name: str, *args, absolute: bool) -> str:
    try:
        if not args:
            path = _path(name)
        elif name in _TOKEN_URLS and _PLAIN_TOKEN.fullmatch(args[0]):
            prefix, _, suffix = _path(name, _TOKEN_SLOT).partition(_TOKEN_SLOT)
            path = prefix + args[0] + suffix
        else:
            path = reverse(name, args=args)
    except NoReverseMatch:  # a renamed page must not stop a reminder
        logger.error("No URL named %s for a notification link", name)
        path = reverse("home")
    return settings.TITRATE_BASE_URL.rstrip("/") + path if absolute else path


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


def message_context(row: Notification, *, absolute: bool = True) -> dict[str, str]:
    """Everything a message template may use: plain strings only, never model instances, so no
    template can reach a name, a diagnosis, a drug or a note (no PHI leaves in a message)."""
    tz = zone_of(row.recipient)
    context = {
        "clinic_name": settings.TITRATE_CLINIC_NAME,
        "clinic_phone": settings.TITRATE_CLINIC_PHONE,
        "portal_url": _url("home", absolute=absolute),
    }
    appointment, entry = row.appointment, row.waitlist_entry
    if appointment is not None:
        context["when"] = format_when(appointment.start, tz)
    if row.kind == Kind.APPOINTMENT_REMINDER and appointment is not None:
        context["details_url"] = _url("appointments:my_appointments", absolute=absolute)
        context["confirm_url"] = _url("appointment_action", action_token(appointment, "confirm"), absolute=True)
        window = datetime.timedelta(hours=appointment.appointment_type.cancel_window_hours)
        if timezone.now() < appointment.start - window:
            context["cancel_url"] = _url("appointment_action", action_token(appointment, "cancel"), absolute=True)
    elif row.kind in (Kind.APPOINTMENT_BOOKED, Kind.APPOINTMENT_CANCELLED) and appointment is not None:
        context["details_url"] = _url("appointments:appointment_detail", appointment.pk, absolute=absolute)
    elif row.kind == Kind.WAITLIST_OFFER and entry is not None:
        context["when"] = format_when(entry.offer_start, tz)
        context["offer_until"] = format_when(entry.offer_expires_at, tz)
        context["details_url"] = _url("appointments:my_appointments", absolute=absolute)
    elif row.kind == Kind.NO_SHOW_FOLLOW_UP:
        context["details_url"] = _url("appointments:my_book", absolute=absolute)
    elif row.kind == Kind.LAB_DUE:
        # The patient's own home lists what is due; the link names no test and no patient.
        context["details_url"] = _url("patient_home", absolute=absolute)
    elif row.kind == Kind.PRESCRIPTION_REVIEW_DUE and row.patient_id:
        context["details_url"] = _url("patients:chart", row.patient_id, absolute=absolute)
    elif row.kind == Kind.QUESTIONNAIRE_DUE:
        context["details_url"] = _url("patients:my_questionnaires", absolute=absolute)
    elif row.kind in (Kind.SAFETY_ALERT, Kind.ALERT_ESCALATED):
        # The list, never the alert or the patient: the link itself must say nothing.
        context["details_url"] = _url(
            "alerts" if row.kind == Kind.SAFETY_ALERT else "alerts_on_call", absolute=absolute
        )
        context["escalate_minutes"] = str(settings.TITRATE_ALERT_ESCALATE_MINUTES)
    elif row.kind == Kind.BREAK_GLASS_USED:
        # The review list, never the grant or the patient.
        context["details_url"] = _url("privacy_break_glass", absolute=absolute)
    context.setdefault("details_url", context["portal_url"])
    return context


def render_message(row: Notification) -> Message:
    context = message_context(row)
    base = f"notifications/{row.channel}/{row.kind}"
    if row.channel == Channel.EMAIL:
        subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
        return Message(subject, render_to_string(f"{base}.txt", context), render_to_string(f"{base}.html", context))
    return Message("", " ".join(render_to_string(f"{base}.txt", context).split()))


def in_app_text(row: Notification) -> tuple[str, str]:
    """(text, link) of an in-app notification, for the viewer's own list."""
    context = message_context(row, absolute=False)
    text = " ".join(render_to_string(f"notifications/in_app/{row.kind}.txt", context).split())
    return text, context["details_url"]
