"""The sender: delivers claimed outbox rows on their channels and records what happened.

``send_batch`` runs in three steps, each named below: claim (one short transaction that decides,
per row, whether it still goes), deliver (outside any transaction, one provider call per row) and
record (SENT and the audit rows in one transaction). docs/reminders.md states the crash-window
policy per channel that these steps keep.
"""

from __future__ import annotations

import datetime
import json
import logging
import random
import re
import time

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from clinic import audit, contact, languages
from clinic.models import AuditEvent, Notification
from notifications import channels, kinds, outbox
from notifications.badge import forget_unread_many
from notifications.dispatch import stale_sending_outcome
from notifications.messages import Message, render_message
from notifications.preferences import enabled_channels

logger = logging.getLogger(__name__)
Channel, Status = Notification.Channel, Notification.Status

RETRY_CAP = datetime.timedelta(hours=1)
# Texts are marked SENDING in groups that the provider should get through in about this long.
TEXT_GROUP_SECONDS = 0.5
# What sending reads of the row's recipient besides the row itself (the checks, the message,
# channels.deliver); each kind's subject is loaded as the kind asks (notifications.kinds).
RECIPIENT_READS = (
    *(f"recipient__{name}" for name in ("is_active", "email", "time_zone", "role", "language")),
    *(f"recipient__notification_preference__{name}" for name in ("email_enabled", "sms_enabled", "sms_phone")),
)


def _claimed_rows(ids, skip_locked: bool):
    """The rows of a batch, locked, with what the checks and the messages read (a user or an
    appointment has many more columns, and a batch loads 500 of each): the recipient in the same
    query, the subjects (not locked, as before) in one more query per subject type."""
    related = sorted({path.rsplit("__", 1)[0] for path in RECIPIENT_READS})
    return kinds.with_subjects(
        Notification.objects.select_for_update(skip_locked=skip_locked, of=("self",))
        .select_related(*related)
        .only(*(field.name for field in Notification._meta.concrete_fields), *RECIPIENT_READS)
        .filter(pk__in=ids)
        .order_by("pk")
    )


def still_wanted(row: Notification, now) -> tuple[str, str] | None:
    """Why a claimed row must not go out now, as (final status, reason), or None."""
    if row.expires_at <= now:
        return Status.SKIPPED, "Expired before it could be sent."
    hook = kinds.rules(row.kind).still_wanted
    outcome = hook(row, now) if hook is not None else None
    if outcome is not None:
        return outcome
    # An outside address (a therapist's) is not the recipient's own channel: its kind decided above.
    if not row.to_address and row.channel not in enabled_channels(row.recipient):
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

    (a) ``_claim``, one short transaction: lock the rows (``skip_locked``: a row another transaction holds
    is theirs, or the sweep's later), apply the same checks as ever per row (final, backoff not
    over, lease held by another worker, stale-lease policy, still wanted, attempts, render), close
    the rows that must not go in one UPDATE per outcome, and mark the rest in bulk: email and
    in-app SENDING (attempts + 1, lease), SMS ENQUEUED with the same lease. Commit.
    (b) ``_deliver``, outside any transaction, row by row: an SMS is marked SENDING on its own just before its
    provider call, so a crash leaves at most the one text in flight UNKNOWN (docs/reminders.md §3)
    and a cancellation during the batch still stops it; email goes over one open connection. A
    failure is that row's alone (FAILED, or back to PENDING with backoff). Past the time budget the
    rows not reached are given back (PENDING, due now, attempt not counted) and published again.
    (c) ``_record_sent``, one transaction: SENT for every delivered row in one UPDATE, and their audit rows in one
    chained append (``audit.record_many``). Commit.
    """
    ids = list(dict.fromkeys(str(pk) for pk in notification_ids))
    if not ids:
        return {}
    started = time.monotonic()
    results, work, held_until = _claim(ids, skip_locked=skip_locked)
    delivered: list[tuple[Notification, str]] = []
    unreached: list[Notification] = []
    try:
        unreached = _deliver(work, held_until, started, results, delivered)
    finally:
        # Whatever stopped the deliveries, what the providers accepted is recorded.
        results.update(_record_sent(delivered))
    if unreached:
        results.update(_give_back(unreached))
    outbox.checkpoint("after_sent_commit")
    return results


def _claim(ids: list[str], *, skip_locked: bool) -> tuple[dict[str, str], list[tuple[Notification, Message]], object]:
    """Step (a): decide each row in one short transaction; in-app rows are delivered right here.
    Returns (the statuses decided, the email/SMS rows to deliver with their messages, their lease)."""
    now = timezone.now()
    results: dict[str, str] = {}
    work: list[tuple[Notification, Message]] = []
    clinic = contact.clinic()  # one read for the batch's messages, not one per row
    with transaction.atomic():
        closed: dict[tuple[str, str], list] = {}
        relabelled: dict[str, list] = {}
        for row in _claimed_rows(ids, skip_locked):
            if row.status in outbox.FINAL or (row.status == Status.PENDING and row.send_at > now):
                results[str(row.pk)] = row.status  # done, or a retry waiting for its backoff (the sweep)
                continue
            outcome = None
            if row.status == Status.SENDING:
                if row.lease_expires_at and row.lease_expires_at > now:
                    results[str(row.pk)] = row.status  # another worker holds it
                    continue
                outcome = stale_sending_outcome(row, now)
            outcome = outcome or still_wanted(row, now)
            if outcome is None:
                # Written in the language the recipient reads now (they may have switched since
                # the row was planned); the row records it for the delivery report.
                language = languages.for_user(row.recipient)
                if language != row.language:
                    row.language = language
                    relabelled.setdefault(language, []).append(row.pk)
                try:
                    work.append((row, render_message(row, clinic=clinic)))
                    continue
                except Exception as error:  # a template bug will not fix itself: no retries
                    logger.exception("Could not render notification %s", row.pk)
                    outcome = (Status.FAILED, f"Could not render the message: {type(error).__name__}")
            closed.setdefault(outcome, []).append(row.pk)
            results[str(row.pk)] = outcome[0]
        for language, pks in relabelled.items():
            Notification.objects.filter(pk__in=pks).update(language=language)
        for (status, reason), pks in closed.items():
            Notification.objects.filter(pk__in=pks).update(
                status=status, last_error=scrub(reason), lease_expires_at=None
            )
        # In-app: the row IS the message, so delivering it is this commit (no SENDING step, no
        # provider call, no crash window): SENT with its audit rows, in (a)'s transaction.
        shown = [row for row, _ in work if row.channel == Channel.IN_APP]
        work = [item for item in work if item[0].channel != Channel.IN_APP]
        results.update(_record_shown(shown, now))
        held_until = now + outbox.lease()
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
        outbox.checkpoint("before_send")
    forget_unread_many({row.recipient_id for row in shown})
    return results, work, held_until


def _deliver(work, held_until, started: float, results: dict[str, str], delivered: list) -> list[Notification]:
    """Step (b): outside any transaction, row by row, append what each provider accepted to
    ``delivered`` (the caller records it whatever happens here). Returns the rows not reached
    within the time budget."""
    email, sms = None, None
    budget = _time_budget()
    slowest_text: float | None = None  # seconds of the slowest SMS call of this batch so far
    marked_upto = 0  # texts (last in ``work``) before this index went through _mark_sending
    try:
        for index, (row, message) in enumerate(work):
            if index and time.monotonic() - started > budget:
                return [r for r, _ in work[index:]]
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
                return [r for r, _ in work[index + 1 :]]
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
            outbox.checkpoint("after_provider_call")
            delivered.append((row, provider_id))
    finally:
        _drop_email_connection(email)
    return []


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
    fresh = timezone.now() + outbox.lease()
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
    outbox.publish_all(marked + waiting)
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
