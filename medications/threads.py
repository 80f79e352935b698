"""Message threads: who may read one, posting a message, read marks and unread counts, and the
PHI-free notice that a message is waiting.

The access rule (docs/security.md, "Secure messages"):

- a patient reads the PATIENT threads of their own record, never a STAFF thread;
- a psychiatrist reads every thread of the patients ``clinic.access.patients_for`` gives them;
- a clinic admin reads PATIENT threads whose category is scheduling, of any patient (the front
  desk books for everyone), never a clinical thread (a medication question, a side effect, a
  refill, "other") nor a STAFF thread;
- anyone else reads none.

A thread outside the rule is a 404, the same as a missing one.

Patient messages are triaged by medications.messaging before they reach ``post``; this module
only stores what it is given.
"""

from __future__ import annotations

import datetime
import logging

from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.access import patients_for
from clinic.models import Notification, User
from medications.models import MESSAGE_MAX_LENGTH, Message, MessageThread, SideEffectReport, ThreadRead, TriageLevel
from notifications import kinds, outbox
from notifications.messages import url as messages_url
from patients.alerts import care_team_psychiatrists
from patients.models import Patient

logger = logging.getLogger(__name__)

Kind, Category = MessageThread.Kind, MessageThread.Category
# A message notice nobody could deliver in a week is stale: the unread count has taken over.
NOTICE_TTL = datetime.timedelta(days=7)
UNREAD_TTL = 300
_LEVEL_RANK = {TriageLevel.ROUTINE: 0, TriageLevel.URGENT: 1, TriageLevel.EMERGENCY: 2}


# -- Who may read what -------------------------------------------------------------------------


def threads_for(user: User) -> QuerySet[MessageThread]:
    """The threads ``user`` may open (the rule in the module docstring)."""
    if not user.is_authenticated or not user.is_active:
        return MessageThread.objects.none()
    if user.role == User.Role.PATIENT:
        return MessageThread.objects.filter(kind=Kind.PATIENT, patient__in=patients_for(user))
    if user.role == User.Role.PSYCHIATRIST:
        return MessageThread.objects.filter(patient__in=patients_for(user))
    if user.role == User.Role.CLINIC_ADMIN:
        return MessageThread.objects.filter(kind=Kind.PATIENT, category=Category.SCHEDULING)
    return MessageThread.objects.none()


def get_thread_for(user: User, pk: int, *, patient: Patient | None = None) -> MessageThread:
    """The thread ``pk`` if ``user`` may open it (and it is ``patient``'s, when given); 404 otherwise."""
    # The primary psychiatrist too: the staff page lists the care team for assignment.
    scope = threads_for(user).select_related("patient__primary_psychiatrist", "assigned_to", "side_effect_report")
    if patient is not None:
        scope = scope.filter(patient=patient)
    thread = scope.filter(pk=pk).first()
    if thread is None:
        raise Http404("No such conversation.")
    return thread


# -- Writing -----------------------------------------------------------------------------------


def clean_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("Write your message.")})
    if len(text) > MESSAGE_MAX_LENGTH:
        raise ValidationError(
            {
                "text": _("A message can be at most %(most)d characters (it has %(count)d).")
                % {"most": MESSAGE_MAX_LENGTH, "count": len(text)}
            }
        )
    return text


def new_thread(*, patient: Patient, kind: str, category: str, subject: str, created_by: User, **extra):
    subject = " ".join((subject or "").split())
    if not subject:
        raise ValidationError({"subject": _("Give the conversation a short subject.")})
    if len(subject) > 120:
        raise ValidationError(
            {"subject": _("A subject can be at most 120 characters (it has %(count)d).") % {"count": len(subject)}}
        )
    if kind not in Kind.values or category not in Category.values:
        raise ValidationError({"category": _("Choose what the message is about.")})
    now = timezone.now()
    return MessageThread.objects.create(
        patient=patient,
        kind=kind,
        category=category,
        subject=subject,
        created_by=created_by,
        created_at=now,
        last_message_at=now,
        **extra,
    )


def report_thread(report: SideEffectReport) -> MessageThread:
    """The thread of a side-effect report's replies, started by the first reply."""
    thread = MessageThread.objects.filter(side_effect_report=report).first()
    if thread is None:
        thread = new_thread(
            patient=report.patient,
            kind=Kind.PATIENT,
            category=Category.SIDE_EFFECT,
            subject=f"Side-effect report of {report.created_at.date():%b %-d, %Y}",
            created_by=report.reported_by,
            side_effect_report=report,
        )
    return thread


@transaction.atomic
def post(
    thread: MessageThread,
    *,
    author: User,
    text: str,
    triage_level: str = TriageLevel.ROUTINE,
    urgent_reasons: list[str] = (),
    language: str = "en",
) -> Message:
    """Store one message, keep the thread's summary columns, mark it read by its author and tell
    the other side (PHI-free, through the outbox). A patient's message reopens a done thread."""
    text = clean_text(text)
    from_patient = author.role == User.Role.PATIENT
    now = timezone.now()
    message = Message.objects.create(
        thread=thread,
        author=author,
        from_patient=from_patient,
        text=text,
        created_at=now,
        triage_level=triage_level,
        urgent_reasons=list(urgent_reasons),
        language=language,
    )
    thread.last_message_at, thread.last_author, thread.last_from_patient = now, author, from_patient
    fields = ["last_message_at", "last_author", "last_from_patient"]
    if _LEVEL_RANK[triage_level] > _LEVEL_RANK[thread.triage_level]:
        thread.triage_level = triage_level
        fields.append("triage_level")
    if from_patient and thread.done_at is not None:
        thread.done_at, thread.done_by = None, None
        fields += ["done_at", "done_by"]
    thread.save(update_fields=fields)
    if not from_patient and thread.kind == Kind.PATIENT and thread.first_response_at is None:
        record_first_response(thread, at=now)
    mark_read(thread, author, at=now)
    _tell(thread, message)
    return message


def record_first_response(thread: MessageThread, *, at: datetime.datetime) -> None:
    """The care team wrote in ``thread`` at ``at``: the thread's first response, and its report's
    if it is a report's thread (the earlier of this and the acknowledgement), unless an earlier one
    is recorded. Called by ``post`` in the message's transaction; a conditional UPDATE, so two
    replies committing in either order leave the earlier time (docs/metrics.md)."""
    earlier = Q(first_response_at__isnull=True) | Q(first_response_at__gt=at)
    MessageThread.objects.filter(earlier, pk=thread.pk).update(first_response_at=at)
    thread.first_response_at = at if thread.first_response_at is None else min(thread.first_response_at, at)
    if thread.side_effect_report_id is not None:
        SideEffectReport.objects.filter(earlier, pk=thread.side_effect_report_id).update(first_response_at=at)


def assign(thread: MessageThread, *, to: User | None) -> None:
    if to is not None and to not in staff_readers(thread.patient, thread):
        raise ValidationError({"assigned_to": "Choose someone on this patient's care team."})
    thread.assigned_to = to
    thread.save(update_fields=["assigned_to"])
    refresh_unread(staff_readers(thread.patient, thread))


def mark_done(thread: MessageThread, *, actor: User) -> None:
    """Nothing more to do: the thread leaves the inbox until the patient writes again."""
    thread.done_at, thread.done_by = timezone.now(), actor
    # The levels of what was handled: a later message is triaged afresh.
    thread.triage_level = TriageLevel.ROUTINE
    thread.save(update_fields=["done_at", "done_by", "triage_level"])
    refresh_unread(staff_readers(thread.patient, thread))


def mark_read(thread: MessageThread, user: User, *, at: datetime.datetime | None = None, reads=None) -> None:
    """Read up to ``at`` (default: the thread's last message). A read mark only moves forward, so
    opening a thread again writes nothing. ``reads``, the thread's read marks when the caller has
    them (the staff thread page's receipts), saves reading the user's own."""
    at = at or thread.last_message_at
    if reads is None:
        mine = ThreadRead.objects.filter(thread=thread, user=user).first()
    else:
        mine = next((read for read in reads if read.user_id == user.pk), None)
    if mine is not None and mine.read_at >= at:
        return
    if mine is not None:
        ThreadRead.objects.filter(pk=mine.pk, read_at__lt=at).update(read_at=at)
        mine.read_at = at
    else:
        mine, created = ThreadRead.objects.get_or_create(thread=thread, user=user, defaults={"read_at": at})
        if not created:  # written meanwhile by another request: only move it forward
            ThreadRead.objects.filter(pk=mine.pk, read_at__lt=at).update(read_at=at)
        if reads is not None:
            reads.append(mine)
    refresh_unread([user])


# -- Who hears about a message -----------------------------------------------------------------


def staff_readers(patient: Patient, thread: MessageThread) -> list[User]:
    """Staff who may read ``thread``: the care team, and the front desk for a scheduling thread."""
    people = care_team_psychiatrists(patient)
    if not thread.is_clinical:
        people += list(User.objects.filter(role=User.Role.CLINIC_ADMIN, is_active=True).order_by("pk"))
    return people


def _tell(thread: MessageThread, message: Message) -> None:
    """A notice to the other side: the patient for a care-team message in their thread; the
    assignee (else the care team, plus the front desk for scheduling) for a patient's message;
    the rest of the care team for a care-team-only note. The notice says only that a message is
    waiting (templates/notifications/*/message_for_*): never who it is about or what it says."""
    now = timezone.now()
    staff = staff_readers(thread.patient, thread)
    refresh_unread([*staff, thread.patient.user if thread.patient.user_id else None])
    if message.from_patient:
        recipients = [thread.assigned_to] if thread.assigned_to_id and thread.assigned_to.is_active else staff
        kind = Notification.Kind.MESSAGE_FOR_STAFF
    elif thread.kind == Kind.PATIENT:
        recipients = [thread.patient.user] if thread.patient.user_id else []
        kind = Notification.Kind.MESSAGE_FOR_PATIENT
    else:
        recipients = staff
        kind = Notification.Kind.MESSAGE_FOR_STAFF
    for user in recipients:
        if user.pk == message.author_id or not user.is_active:
            continue
        # SMS for patients only: for staff the in-app list and email are enough (alerts page them).
        outbox.notify(
            user,
            key=f"message:{message.pk}:{user.pk}",
            kind=kind,
            expires_at=now + NOTICE_TTL,
            sms=kind == Notification.Kind.MESSAGE_FOR_PATIENT,
            patient=thread.patient,
        )


# -- Unread counts (the navigation badge) ------------------------------------------------------


def _unread_key(user_id) -> str:
    return f"messages:unread:{user_id}"


def unread_threads(user: User) -> QuerySet[MessageThread]:
    """Threads with a message ``user`` has not read, written by someone else: for staff, open
    threads assigned to them or to nobody."""
    seen = ThreadRead.objects.filter(thread=OuterRef("pk"), user=user, read_at__gte=OuterRef("last_message_at"))
    scope = threads_for(user).exclude(last_author=user).filter(~Exists(seen))
    if user.role != User.Role.PATIENT:
        scope = scope.filter(done_at__isnull=True).filter(Q(assigned_to=user) | Q(assigned_to__isnull=True))
    return scope


def unread_count(user: User) -> int:
    """Cached like the notification badge (notifications.badge): pages keep their query budgets,
    and every post, assignment or read drops the count of those it concerns."""
    key = _unread_key(user.pk)
    try:
        count = cache.get(key)
    except Exception:
        logger.warning("Cache unavailable; unread message count read from the database.")
        return unread_threads(user).count()
    if count is None:
        count = unread_threads(user).count()
        try:
            cache.set(key, count, UNREAD_TTL)
        except Exception:
            logger.warning("Cache unavailable; unread message count not cached.")
    return count


def refresh_unread(users) -> None:
    """Count again, at write time, for the people a change concerns: the pages after it read the
    count from the cache and keep their query budgets whatever was written. Counted in the
    writer's transaction: a write rolled back afterwards leaves a count off by one for at most
    UNREAD_TTL, which only the badge shows."""
    counts = {}
    for user in {u.pk: u for u in users if u is not None}.values():
        counts[_unread_key(user.pk)] = unread_threads(user).count()
    if not counts:
        return
    try:
        cache.set_many(counts, UNREAD_TTL)
    except Exception:
        logger.warning("Cache unavailable; unread message counts for %s users not refreshed.", len(counts))
        try:
            cache.delete_many(list(counts))
        except Exception:
            logger.warning("Cache unavailable; unread message counts may be stale for %s s.", UNREAD_TTL)


# -- What the outbox asks of message notices ---------------------------------------------------


def _notice_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    # The list of conversations, never the thread: the link itself must say nothing.
    for_patient = row.kind == Notification.Kind.MESSAGE_FOR_PATIENT
    name = "medications:my_messages" if for_patient else "medications:message_inbox"
    return {"details_url": messages_url(name, absolute=absolute)}


def register_kinds() -> None:
    """Called from MedicationsConfig.ready()."""
    kinds.register(Notification.Kind.MESSAGE_FOR_PATIENT, Notification.Kind.MESSAGE_FOR_STAFF, context=_notice_context)


def _warm_on_login(sender, request, user, **kwargs) -> None:
    refresh_unread([user])


def connect_signals() -> None:
    """Called from MedicationsConfig.ready(): the unread count is counted once at sign-in, so the
    pages after it read it from the cache within their query budgets."""
    user_logged_in.connect(_warm_on_login, dispatch_uid="messages_warm_unread")
