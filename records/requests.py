"""The patient's own record, prepared in the background (docs/records.md).

A request is a row first (``request_record``), published to a worker after commit; a broker that
is down leaves the row QUEUED and the sweep (``sweep``, every minute from beat) starts it. A worker
claims a request with a conditional UPDATE, so two workers never build the same file; a worker that
died mid-build leaves a PREPARING row whose lease the sweep hands back to the queue, at most
``MAX_ATTEMPTS`` times. The file is stored privately (records.models.RecordFile), served only by
the access-checked download view, and deleted when its link expires.

The patient is told "your record is ready" through the outbox: no name, no drug, no score.
"""

from __future__ import annotations

import datetime
import hashlib
import logging

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic import audit, languages
from clinic.models import AuditEvent, Notification, User
from notifications import kinds, messages, outbox
from patients.models import Patient
from records.models import RecordFile, RecordRequest

logger = logging.getLogger(__name__)
Status = RecordRequest.Status

PREPARE_TASK = "records.tasks.prepare_record"
# Longer than the slowest build we measured (docs/records.md) and than the task's hard time limit:
# a PREPARING row older than this belongs to a worker that died.
LEASE = datetime.timedelta(minutes=10)
MAX_ATTEMPTS = 3
# The notice is of no use once the link has expired.
NOTICE_TTL = datetime.timedelta(hours=24)
# Copies a patient may ask for in a day: each is a PDF kept for TITRATE_RECORD_LINK_HOURS, and a
# loop of clicks (or a script) must not fill the database or the workers' queue.
DAILY_LIMIT = 10


def link_ttl() -> datetime.timedelta:
    return datetime.timedelta(hours=settings.TITRATE_RECORD_LINK_HOURS)


def requests_for(patient: Patient):
    """The patient's requests, newest first (the page shows the last few)."""
    return RecordRequest.objects.filter(patient=patient)


@transaction.atomic
def request_record(patient: Patient, *, by: User, format: str, request=None) -> RecordRequest:
    """A new request, or the one already in progress for this format (a double click, a second
    tab). One ``create`` audit row for a new request. ValidationError past ``DAILY_LIMIT``."""
    existing = RecordRequest.objects.open().filter(patient=patient, format=format).first()
    if existing is not None:
        return existing
    since = timezone.now() - datetime.timedelta(hours=24)
    if RecordRequest.objects.filter(patient=patient, created_at__gte=since).count() >= DAILY_LIMIT:
        raise ValidationError(
            _("You have asked for %(count)d copies in the last day. Please use one of them, or ask again tomorrow.")
            % {"count": DAILY_LIMIT}
        )
    try:
        with transaction.atomic():
            row = RecordRequest.objects.create(
                patient=patient, requested_by=by, format=format, language=languages.for_user(by)
            )
    except IntegrityError:  # the other tab's request won the partial unique index
        return RecordRequest.objects.open().get(patient=patient, format=format)
    audit.record(
        AuditEvent.Action.CREATE, request=request, actor=by, patient=patient, obj=row, detail={"format": format}
    )
    pk = str(row.pk)
    transaction.on_commit(lambda: publish(pk))
    return row


def publish(request_id: str) -> bool:
    """Hand the request to a worker. Never raises: with the broker down the sweep starts it."""
    task = current_app.tasks[PREPARE_TASK]  # a missing task is a deployment bug, not an outage
    try:
        task.apply_async(args=[request_id], expires=int(LEASE.total_seconds()))
    except Exception:
        logger.warning("Broker unavailable; a record request waits for the sweep.", exc_info=True)
        return False
    return True


def claim(request_id: str) -> RecordRequest | None:
    """QUEUED → PREPARING for exactly one worker; None when another has it or it is done."""
    now = timezone.now()
    claimed = RecordRequest.objects.filter(pk=request_id, status=Status.QUEUED).update(
        status=Status.PREPARING, started_at=now, progress=5
    )
    if claimed != 1:
        return None
    return RecordRequest.objects.select_related("patient__user", "requested_by").get(pk=request_id)


def set_progress(row: RecordRequest, progress: int) -> None:
    row.progress = progress
    RecordRequest.objects.filter(pk=row.pk, status=Status.PREPARING).update(progress=progress)


@transaction.atomic
def complete(row: RecordRequest, *, content: bytes, content_type: str, filename: str) -> RecordRequest:
    """Store the file, mark the request ready with its expiry, and tell the patient."""
    now = timezone.now()
    RecordFile.objects.create(
        request=row,
        content=content,
        content_type=content_type,
        filename=filename,
        sha256=hashlib.sha256(content).hexdigest(),
    )
    row.status, row.progress, row.ready_at = Status.READY, 100, now
    row.expires_at, row.size_bytes = now + link_ttl(), len(content)
    row.save(update_fields=["status", "progress", "ready_at", "expires_at", "size_bytes"])
    audit.record(
        AuditEvent.Action.EXPORT,
        actor=None,
        patient=row.patient,
        obj=row,
        detail={"prepared": row.format, "bytes": len(content)},
    )
    notify_ready(row)
    return row


def fail(row: RecordRequest, *, code: str) -> None:
    """A build that raised: back to the queue for another try, or FAILED after the last one."""
    attempts = row.attempts + 1
    status = Status.FAILED if attempts >= MAX_ATTEMPTS else Status.QUEUED
    RecordRequest.objects.filter(pk=row.pk, status=Status.PREPARING).update(
        status=status, attempts=attempts, failure=code, progress=0, started_at=None
    )


def notify_ready(row: RecordRequest) -> list[Notification]:
    """ "Your record is ready to download in your Titrate portal", in the patient's language, on
    each channel they allow: no name, no drug, no score (the file is never attached)."""
    user = row.patient.user
    if user is None:
        return []
    return outbox.notify(
        user,
        key=f"record-ready:{row.pk}",
        kind=Notification.Kind.RECORD_READY,
        expires_at=timezone.now() + NOTICE_TTL,
        sms=False,
        patient=row.patient,
    )


def record_download(row: RecordRequest, *, request) -> None:
    """One ``export`` audit row per download."""
    audit.record(
        AuditEvent.Action.EXPORT,
        request=request,
        patient=row.patient,
        obj=row,
        detail={"page": "my_record_download", "format": row.format},
    )


def sweep(now: datetime.datetime | None = None) -> dict[str, list[str]]:
    """Every minute from beat: requeue PREPARING rows whose worker died (lease over), return the
    QUEUED rows a worker should start (older than a minute: the request's own publish had its
    chance), and expire READY rows past their link's expiry, deleting their files."""
    now = now or timezone.now()
    stale = RecordRequest.objects.filter(status=Status.PREPARING, started_at__lt=now - LEASE)
    for row in stale.only("pk", "attempts", "status"):
        fail(row, code="lease")
    waiting = [
        str(pk)
        for pk in RecordRequest.objects.filter(
            status=Status.QUEUED, created_at__lt=now - datetime.timedelta(minutes=1)
        ).values_list("pk", flat=True)[:100]
    ]
    return {"start": waiting, "expired": expire(now)}


@transaction.atomic
def expire(now: datetime.datetime | None = None) -> list[str]:
    """READY rows past their expiry become EXPIRED and their files are deleted, in one
    transaction (a link never outlives its file, nor the file its link)."""
    now = now or timezone.now()
    ids = list(
        RecordRequest.objects.select_for_update(skip_locked=True)
        .filter(status=Status.READY, expires_at__lte=now)
        .values_list("pk", flat=True)[:500]
    )
    if ids:
        RecordFile.objects.filter(request_id__in=ids).delete()
        RecordRequest.objects.filter(pk__in=ids).update(status=Status.EXPIRED)
    return [str(pk) for pk in ids]


def _ready_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    return {"details_url": messages.url("records:my_record", absolute=absolute)}


def register_kinds() -> None:
    """Called from RecordsConfig.ready()."""
    kinds.register(Notification.Kind.RECORD_READY, context=_ready_context)
