"""The outbox: a message is a Notification row before it is sent. This is the write side every
domain uses — ``new_row`` and ``insert`` for planned messages, ``notify`` for send-now messages,
``cancel`` to withdraw unsent ones — and ``publish`` hands due rows to a worker after commit.
See docs/reminders.md for the state machine and the crash-window policy per channel.

Everything here takes model instances or ids; nothing knows about requests. Inserts run inside
the caller's transaction, and request code only publishes in ``on_commit``.
"""

from __future__ import annotations

import datetime
import enum
import json
import logging
import os
import uuid

from celery import current_app
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.db.models.base import ModelState
from django.db.models.signals import pre_delete
from django.utils import timezone

from clinic import languages
from clinic.models import Notification
from notifications.badge import forget_unread
from notifications.preferences import QUIET_CHANNELS, after_quiet, enabled_channels, preferences

logger = logging.getLogger(__name__)

Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status

# Outcomes a row never leaves; ``send`` returns at once for these.
FINAL = (Status.SENT, Status.FAILED, Status.CANCELLED, Status.SKIPPED, Status.UNKNOWN)
OPEN = (Status.PENDING, Status.ENQUEUED, Status.SENDING)
# Ids per broker message and per claim: the fixed cost of a batch (a claim, a few bulk updates,
# one audit append) is spread thin, and a batch still ends well inside the task's time limit.
# 500 rather than 200: at 100,000 reminders the per-batch cost (claim, two audit appends under the
# chain lock, commits) was a tenth of a worker's time; a batch still takes about a second.
BATCH_SIZE = 500
# The task a published batch runs (notifications.tasks), looked up in Celery's registry rather
# than imported: the task module imports the sender, which imports this module. The name predates
# the notifications app and is kept so messages queued by an older version still find their task.
SEND_TASK = "clinic.tasks.send_notifications"
# How many of a subject's rows a refused delete names (a visit has about ten).
PROTECTED_SHOWN = 100


def checkpoint(name: str) -> None:
    """Deterministic crash point for the fault-injection tests (reference §4.5)."""
    if os.environ.get("TITRATE_CRASH_AT") == name:
        os._exit(1)


def lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.TITRATE_NOTIFICATION_LEASE_SECONDS)


# -- Writing rows -----------------------------------------------------------------------------


_ROW_FIELDS = [field for field in Notification._meta.concrete_fields]
_ROW_ATTNAMES = frozenset(field.attname for field in _ROW_FIELDS)
_SUBJECT = Notification._meta.get_field("subject").cache_name


def new_row(*, subject=None, **fields) -> Notification:
    """A PENDING row, built the way ``Model.__init__`` leaves an unsaved instance (every field's
    attname in ``__dict__``, a fresh ModelState) without its per-field loop and its init signals,
    which nothing connects for Notification: a planner builds 100,000.

    ``subject`` is the model instance the row is about (a visit, an offer), or None: its type and
    id are set from ContentType's cache (no query once warm), and it stays cached on the row."""
    fields.setdefault("status", Status.PENDING)
    related = {name: fields.pop(name) for name in ("recipient", "patient") if name in fields}
    if "language" not in fields and "recipient" in related:
        fields["language"] = languages.for_user(related["recipient"])
    if not fields.keys() <= _ROW_ATTNAMES:
        raise TypeError(f"Notification has no field(s) {sorted(fields.keys() - _ROW_ATTNAMES)}")
    if subject is not None:
        fields["subject_type_id"] = ContentType.objects.get_for_model(subject).pk
        fields["subject_id"] = subject.pk
    row = Notification.__new__(Notification)
    row._state = ModelState()
    values = row.__dict__
    for field in _ROW_FIELDS:
        values[field.attname] = fields[field.attname] if field.attname in fields else field.get_default()
    for name, instance in related.items():  # instances given stay cached on the row
        setattr(row, name, instance)
    if subject is not None:
        row._state.fields_cache[_SUBJECT] = subject
    return row


def insert(rows: list[Notification]) -> list[Notification]:
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


def send_now_rows(user, *, key: str, kind: str, expires_at, sms: bool = True, **about) -> list[Notification]:
    """Rows sent at once on each enabled channel; email/SMS wait out quiet hours if they can."""
    now = timezone.now()
    if user is None or expires_at <= now:
        return []
    prefs, tz = preferences(user), user.zone
    rows = []
    for channel in enabled_channels(user, prefs, sms=sms):
        send_at = after_quiet(now, prefs, tz) if channel in QUIET_CHANNELS else now
        if send_at < expires_at:
            rows.append(
                new_row(
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


def notify(user, *, key: str, kind: str, expires_at, sms: bool = True, **about) -> list[Notification]:
    """Tell one user something now, on each channel they allow (email/SMS after their quiet hours).
    ``key`` makes it idempotent: the same key again creates nothing. Returns the rows created."""
    return insert(send_now_rows(user, key=key, kind=kind, expires_at=expires_at, sms=sms, **about))


def cancel(*, kinds, subject) -> int:
    """Unsent rows of ``kinds`` about ``subject`` (a model instance) become CANCELLED, in the
    caller's transaction. A row already handed to a worker is caught by the sender's own
    still-wanted check under the row lock."""
    return (
        Notification.objects.about(subject)
        .filter(kind__in=kinds, status__in=OPEN)
        .update(status=Status.CANCELLED, lease_expires_at=None)
    )


def settle(*, key_prefix: str, recipient_id: int) -> int:
    """What these rows asked the recipient to do is done (a questionnaire filled) or no longer
    asked (withdrawn): unsent rows become CANCELLED and delivered in-app rows read, in the
    caller's transaction, so the list and the badge stop calling them new. Rows are the
    recipient's whose idempotency key starts with ``key_prefix`` (its unique index serves the
    prefix). Returns the number of in-app rows marked read. A row a worker holds is sent as it
    is: at worst one more delivered-and-unread notice, which opening the list reads."""
    rows = Notification.objects.filter(idempotency_key__startswith=key_prefix, recipient_id=recipient_id)
    rows.filter(status__in=(Status.PENDING, Status.ENQUEUED)).update(status=Status.CANCELLED, lease_expires_at=None)
    read = rows.filter(channel=Channel.IN_APP, status=Status.SENT, read_at__isnull=True).update(read_at=timezone.now())
    if read:
        transaction.on_commit(lambda: forget_unread(recipient_id))
    return read


def protect_subjects(*models) -> None:
    """Refuse to delete an instance of these models while outbox rows are about it, as a
    PROTECT foreign key did: a generic subject has no foreign key, so a ``pre_delete`` receiver
    raises ``ProtectedError`` (Django's deletion collector sends it for every object, a
    queryset's bulk delete included, inside the delete's transaction). Called from the owning
    app's ``ready()``."""
    for model in models:
        pre_delete.connect(_refuse_delete_of_subject, sender=model, dispatch_uid=f"outbox-subject:{model._meta.label}")


def _refuse_delete_of_subject(sender, instance, using, **kwargs) -> None:
    rows = list(Notification.objects.using(using).about(instance)[:PROTECTED_SHOWN])
    if rows:
        raise ProtectedError(
            f"Cannot delete {sender._meta.verbose_name} {instance.pk}: notifications in the outbox are about it.",
            set(rows),
        )


# -- Publishing -------------------------------------------------------------------------------


def publish(ids) -> bool:
    """Hand one batch of rows to a worker: ONE broker message naming up to BATCH_SIZE ids. Never
    raises: a broker outage leaves the rows for the sweep.

    ``expires`` = the lease: a message that waited longer is dropped by the worker, because the
    sweep has re-claimed the rows by then. No eta/countdown, ever (DESIGN.md).
    """
    ids = [str(pk) for pk in ids]
    task = current_app.tasks[SEND_TASK]  # a missing task is a deployment bug, not a broker outage
    try:
        task.apply_async(args=[ids], expires=settings.TITRATE_NOTIFICATION_LEASE_SECONDS)
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
