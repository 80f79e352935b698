"""Secure messages: the patient's conversations with their care team, the staff inbox (with
assignment and "done") and the thread pages. Who may read which thread is medications.threads';
the writes (and the triage of a patient's message) are medications.messaging's."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from clinic import audit, contact, dates
from clinic.access import get_patient_for, own_record_required, role_required
from clinic.links import href
from clinic.models import AuditEvent, User
from medications import messaging, threads
from medications.message_forms import AssignForm, MessageForm, NewThreadForm, StaffNewThreadForm
from medications.models import Message, MessageThread, ThreadRead, TriageLevel
from patients.views import add_errors

staff_only = role_required(User.Role.PSYCHIATRIST, User.Role.CLINIC_ADMIN)
psychiatrist_only = role_required(User.Role.PSYCHIATRIST)
INBOX_PAGE_SIZE = 50
# The session key naming the message a patient just sent: the thread page shows the crisis
# resources for it at once (an id in the session, never in the URL).
JUST_SENT = "message_just_sent"
FILTERS = {
    "open": "All open",
    "mine": "Assigned to me",
    "unassigned": "Unassigned",
    "done": "Done",
}


def _with_unread(scope, user: User):
    seen = ThreadRead.objects.filter(thread=OuterRef("pk"), user=user, read_at__gte=OuterRef("last_message_at"))
    return scope.annotate(is_read=Exists(seen))


def _messages_of(thread: MessageThread) -> list[Message]:
    return list(Message.objects.filter(thread=thread).select_related("author"))


def _start_thread(request: HttpRequest, patient, form, kind: str) -> Message | None:
    """Start the thread a valid new-message form asks for; None (the errors on the form) if refused."""
    try:
        return messaging.start_thread(
            patient=patient,
            author=request.user,
            kind=kind,
            category=form.cleaned_data["category"],
            subject=form.cleaned_data["subject"],
            text=form.cleaned_data["text"],
            request=request,
        )
    except ValidationError as error:
        add_errors(form, error)
        return None


# -- The patient's pages -----------------------------------------------------------------------


@own_record_required
def my_messages(request: HttpRequest, patient) -> HttpResponse:
    """The patient's conversations, newest first. Queries: session, user, patient, threads (with
    whether each is read), audit row."""
    shown = list(
        _with_unread(threads.threads_for(request.user).filter(patient=patient), request.user).select_related(
            "last_author"
        )[:100]
    )
    audit.page(request, patient, "my_messages")
    return render(request, "medications/messages/my_list.html", {"threads": shown, "clinic": contact.clinic()})


@own_record_required
def my_message_new(request: HttpRequest, patient) -> HttpResponse:
    form = NewThreadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        message = _start_thread(request, patient, form, MessageThread.Kind.PATIENT)
        if message is not None:
            request.session[JUST_SENT] = message.pk
            return redirect("medications:my_thread", message.thread_id)
    audit.page(request, patient, "my_message_form")
    return render(request, "medications/messages/my_new.html", {"form": form, "clinic": contact.clinic()})


@own_record_required
def my_thread(request: HttpRequest, patient, thread_id: int) -> HttpResponse:
    """One conversation, read by the patient (which marks it read: the care team's read receipt)."""
    thread = threads.get_thread_for(request.user, thread_id, patient=patient)
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            message = messaging.send(thread, author=request.user, text=form.cleaned_data["text"], request=request)
        except ValidationError as error:
            add_errors(form, error)
        else:
            request.session[JUST_SENT] = message.pk
            return redirect("medications:my_thread", thread.pk)
    shown = _messages_of(thread)
    just_sent = None
    sent_id = request.session.pop(JUST_SENT, None)
    if sent_id is not None:
        just_sent = next((m for m in shown if m.pk == sent_id), None)
    if request.method == "GET":
        threads.mark_read(thread, request.user)
    audit.record(AuditEvent.Action.VIEW, request=request, patient=patient, obj=thread)
    return render(
        request,
        "medications/messages/my_thread.html",
        {"thread": thread, "messages_shown": shown, "form": form, "just_sent": just_sent, "clinic": contact.clinic()},
    )


# -- Staff pages -------------------------------------------------------------------------------


def inbox_order(user: User, shown: str):
    """The inbox's threads for ``user`` under filter ``shown``, most pressing first (ids only)."""
    scope = threads.threads_for(user)
    if shown == "done":
        return scope.filter(done_at__isnull=False).order_by("-done_at", "-id")
    scope = scope.open().inbox_order()
    if shown == "mine":
        scope = scope.filter(assigned_to=user)
    elif shown == "unassigned":
        scope = scope.filter(assigned_to__isnull=True)
    return scope


def inbox_page(user: User, shown: str, number):
    """One page of the inbox: the page, and its threads with their patient, assignee and whether
    ``user`` has read the last message (is_read). The page's ids are picked in a subquery and
    only those rows joined: joining every open thread's patient before the sort cost more than
    the rest of the query (thread_open_patient covers the sort)."""
    ordered = inbox_order(user, shown)
    page = Paginator(ordered.values_list("pk", flat=True), INBOX_PAGE_SIZE).get_page(number)
    chosen = MessageThread.objects.filter(pk__in=page.object_list).order_by(*ordered.query.order_by)
    return page, list(_with_unread(chosen, user).select_related("patient", "assigned_to"))


@staff_only
def inbox(request: HttpRequest) -> HttpResponse:
    """Queries: session, user, count, one page of threads (patient and assignee joined), audit row."""
    shown = request.GET.get("show", "open")
    if shown not in FILTERS:
        shown = "open"
    page, rows = inbox_page(request.user, shown, request.GET.get("page"))
    # Formatted once here, as in the side-effect inbox: a {% url %}, a |moment and a choice label
    # per row were most of the page's rendering.
    detail = href("medications:thread_detail")
    for thread in rows:
        thread.href = detail(thread.pk)
        thread.when = dates.moment(thread.last_message_at)
        thread.category_label = thread.get_category_display()
    audit.record_list(request, "message_inbox", [thread.patient_id for thread in rows])
    return render(
        request,
        "medications/messages/inbox.html",
        {"threads": rows, "page": page, "shown": shown, "filters": FILTERS},
    )


@psychiatrist_only
def staff_thread_new(request: HttpRequest, pk: int) -> HttpResponse:
    """A psychiatrist writes to the patient, or starts a care-team-only note about them."""
    patient = get_patient_for(request.user, pk)
    form = StaffNewThreadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        message = _start_thread(request, patient, form, form.cleaned_data["kind"])
        if message is not None:
            messages.success(request, "Message sent.")
            return redirect("medications:thread_detail", message.thread_id)
    audit.page(request, patient, "staff_message_form")
    return render(request, "medications/messages/staff_new.html", {"form": form, "patient": patient})


def _receipts(thread: MessageThread, shown: list[Message], reads: list[ThreadRead]) -> None:
    """Read receipts: on each care-team message whether (and when) the patient read it; on each
    patient message, which staff have read it."""
    patient_read = next((r.read_at for r in reads if r.user_id == thread.patient.user_id), None)
    staff_reads = [r for r in reads if r.user_id != thread.patient.user_id]
    for message in shown:
        if message.from_patient:
            message.seen_by = [r for r in staff_reads if r.read_at >= message.created_at]
        elif thread.kind == MessageThread.Kind.PATIENT:
            message.patient_read_at = patient_read if patient_read and patient_read >= message.created_at else None


@staff_only
def thread_detail(request: HttpRequest, thread_id: int) -> HttpResponse:
    """Queries: session, user, the thread (patient and primary psychiatrist, assignee, report), its
    messages with authors, the read marks (the reader's own too: a thread read before writes
    nothing), the shared-care team for the assignment list, audit row."""
    thread = threads.get_thread_for(request.user, thread_id)
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            messaging.send(thread, author=request.user, text=form.cleaned_data["text"], request=request)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Message sent.")
            return redirect("medications:thread_detail", thread.pk)
    shown = _messages_of(thread)
    # One query for the thread's read marks: the receipts, and the reader's own mark.
    reads = list(ThreadRead.objects.filter(thread=thread).select_related("user"))
    if request.method == "GET":
        threads.mark_read(thread, request.user, reads=reads)
    _receipts(thread, shown, reads)
    people = threads.staff_readers(thread.patient, thread)
    assign_form = AssignForm(people=people, initial={"assigned_to": thread.assigned_to_id})
    audit.record(AuditEvent.Action.VIEW, request=request, patient=thread.patient, obj=thread)
    return render(
        request,
        "medications/messages/thread.html",
        {
            "thread": thread,
            "patient": thread.patient,
            "messages_shown": shown,
            "form": form,
            "assign_form": assign_form,
            "emergency": any(m.triage_level == TriageLevel.EMERGENCY for m in shown),
        },
    )


@require_POST
@staff_only
def thread_assign(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = threads.get_thread_for(request.user, thread_id)
    people = threads.staff_readers(thread.patient, thread)
    form = AssignForm(request.POST, people=people)
    if not form.is_valid():
        messages.error(request, "Choose someone on this patient's care team.")
        return redirect("medications:thread_detail", thread.pk)
    to = next((user for user in people if user.pk == form.cleaned_data["assigned_to"]), None)
    messaging.assign(thread, actor=request.user, to=to, request=request)
    messages.success(request, f"Assigned to {to.display_name}." if to else "Assigned to nobody: the care team sees it.")
    return redirect("medications:thread_detail", thread.pk)


@require_POST
@staff_only
def thread_done(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = threads.get_thread_for(request.user, thread_id)
    messaging.mark_done(thread, actor=request.user, request=request)
    messages.success(request, "Marked done. It comes back to the inbox if the patient writes again.")
    return redirect("medications:message_inbox")
