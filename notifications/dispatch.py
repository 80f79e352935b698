"""The dispatcher (beat, every minute): claims due rows and rows whose lease ran out, and hands
them to workers. Two dispatchers at once (a doubled beat) never claim the same row."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clinic.models import Notification
from notifications import outbox

logger = logging.getLogger(__name__)
Channel, Status = Notification.Channel, Notification.Status


def stale_sending_outcome(row: Notification, now) -> tuple[str, str] | None:
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
                outcome = stale_sending_outcome(row, now)
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
        Notification.objects.filter(pk__in=claim).update(status=Status.ENQUEUED, lease_expires_at=now + outbox.lease())
        ids = [str(pk) for pk in claim]
        transaction.on_commit(lambda: outbox.publish_all(ids))
    if closed:
        logger.info(
            "Dispatcher closed %s rows: %s", sum(map(len, closed.values())), {k[0]: len(v) for k, v in closed.items()}
        )
    return ids
