"""Sharing a minimum-necessary summary with a patient's outside care contact (their therapist).

The patient grants and revokes consent in the portal (``set_consent``), each change a
clinic.models.ConsentRecord row naming the contact. With consent, the psychiatrist sends the
contact a single-use link that expires (``send``): the email carries the link and nothing about
the patient (kind SUMMARY_SHARED, addressed to the contact, sent by the outbox). Opening the link
(``open_share``) checks the consent again, marks the link used and writes the audit row the
patient sees in "who viewed my record".
"""

from __future__ import annotations

import datetime
import secrets

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEvent, ConsentRecord, Notification, User
from notifications import kinds, messages, outbox
from notifications.preferences import format_when
from patients.models import CareContact, SummaryShare

LINK_LIFETIME = datetime.timedelta(days=7)
SALT = "patients.sharing.summary"
# Every reason a link does not open gets this one answer: a therapist holding a stale link learns
# nothing about the patient's choices from it.
UNAVAILABLE = "This link no longer works. It may have been used already or expired. Ask the clinic to send a new one."


class ShareUnavailable(Exception):
    pass


@transaction.atomic
def set_consent(contact: CareContact, *, granted: bool, by: User, request=None) -> CareContact:
    """The patient's choice about sharing with ``contact``; a change writes a ConsentRecord.
    Revoking stops every link not yet opened (``open_share`` checks the consent)."""
    contact = CareContact.objects.select_for_update().get(pk=contact.pk)
    if contact.consent_to_share == granted:
        return contact
    contact.consent_to_share = granted
    contact.save(update_fields=["consent_to_share"])
    ConsentRecord.objects.create(user=by, care_contact=contact, granted=granted, recorded_by=by)
    if not granted:
        for share in contact.shares.filter(opened_at__isnull=True):
            outbox.cancel(kinds=[Notification.Kind.SUMMARY_SHARED], subject=share)
    audit.record(AuditEvent.Action.UPDATE, request=request, actor=by, patient=contact.patient_id, obj=contact,
                 detail={"consent_to_share": granted})  # fmt: skip
    return contact


def problem(contact: CareContact) -> str:
    """Why a summary cannot be sent to ``contact`` now ("" if it can)."""
    if not contact.is_active:
        return "This contact is no longer active."
    if not contact.consent_to_share:
        return "The patient has not consented to sharing with this contact (they choose in the portal)."
    if not contact.email:
        return "Add the contact's email address first."
    return ""


def link_token(share: SummaryShare) -> str:
    return signing.Signer(salt=SALT).sign(f"{share.pk}.{share.nonce}")


@transaction.atomic
def send(contact: CareContact, *, by: User, request=None) -> SummaryShare:
    contact = CareContact.objects.select_for_update().get(pk=contact.pk)
    reason = problem(contact)
    if reason:
        raise ValidationError(reason)
    now = timezone.now()
    previous = contact.shares.order_by("-created_at").first()
    share = SummaryShare.objects.create(
        patient_id=contact.patient_id, care_contact=contact, nonce=secrets.token_urlsafe(18), sent_by=by,
        created_at=now, expires_at=now + LINK_LIFETIME,
    )  # fmt: skip
    outbox.insert(
        [
            outbox.new_row(
                idempotency_key=f"summary_shared:{share.pk}",
                kind=Notification.Kind.SUMMARY_SHARED,
                channel=Notification.Channel.EMAIL,
                recipient=by,
                to_address=contact.email,
                patient=contact.patient,
                subject=share,
                send_at=now,
                expires_at=share.expires_at,
            )
        ]
    )
    audit.record(AuditEvent.Action.EXPORT, request=request, actor=by, patient=contact.patient_id, obj=share,
                 detail={"care_contact": contact.pk, "previous_share": previous.pk if previous else None})  # fmt: skip
    return share


def _share_for(token: str, *, lock: bool) -> SummaryShare:
    try:
        share_id, nonce = signing.Signer(salt=SALT).unsign(token).split(".", 1)
    except (signing.BadSignature, ValueError):
        raise ShareUnavailable(UNAVAILABLE) from None
    shares = SummaryShare.objects.select_related("care_contact", "patient")
    if lock:
        shares = shares.select_for_update(of=("self",))
    share = shares.filter(pk=int(share_id), nonce=nonce).first() if share_id.isdigit() else None
    if share is None or not usable(share):
        raise ShareUnavailable(UNAVAILABLE)
    return share


def usable(share: SummaryShare, now: datetime.datetime | None = None) -> bool:
    contact = share.care_contact
    return (
        share.opened_at is None
        and (now or timezone.now()) < share.expires_at
        and contact.consent_to_share
        and contact.is_active
    )


def check_link(token: str) -> SummaryShare:
    """The share behind a link that still opens (the page before opening it); ShareUnavailable else."""
    return _share_for(token, lock=False)


@transaction.atomic
def open_share(token: str, *, request=None) -> SummaryShare:
    """Use the link: once, before it expires, while the patient's consent stands. Audited as a
    view of the record by the contact (no user: actor_role "care_contact")."""
    share = _share_for(token, lock=True)
    share.opened_at = timezone.now()
    share.save(update_fields=["opened_at"])
    contact = share.care_contact
    audit.record(
        AuditEvent.Action.VIEW,
        request=request,
        patient=share.patient_id,
        obj=share,
        detail={"page": "shared_summary", "care_contact": contact.pk, "viewer": contact.name,
                "viewer_kind": contact.get_kind_display()},
    )  # fmt: skip
    return share


def previous_share(share: SummaryShare) -> SummaryShare | None:
    """The contact's share before this one: "changes since the last share" start there."""
    return (
        SummaryShare.objects.filter(care_contact_id=share.care_contact_id, created_at__lt=share.created_at)
        .order_by("-created_at")
        .first()
    )


def _context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    share = row.subject if isinstance(row.subject, SummaryShare) else None
    if share is None:
        return {}
    return {
        "link_url": messages.token_url("shared_summary", link_token(share), absolute=True),
        "expires": format_when(share.expires_at, tz),
    }


def _still_wanted(row: Notification, now) -> tuple[str, str] | None:
    share = row.subject if isinstance(row.subject, SummaryShare) else None
    if share is None or not usable(share, now):
        return Notification.Status.CANCELLED, "The link was used, expired or the patient withdrew consent."
    return None


def _shares():
    return SummaryShare.objects.select_related("care_contact")


def register_kinds() -> None:
    """Called from PatientsConfig.ready()."""
    kinds.register(Notification.Kind.SUMMARY_SHARED, context=_context, still_wanted=_still_wanted, subjects=_shares)
