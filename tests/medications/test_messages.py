"""Issue 20 item 1: secure messages between a patient and their care team (and among the care
team about a patient), triaged like side-effect reports, with read receipts, unread counts, the
clinic's answer-time promise, an inbox with assignment and "done", and PHI-free notices."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from clinic.models import Alert, AuditEvent, ClinicProfile, Notification
from medications import messaging, side_effects, threads
from medications.models import MESSAGE_MAX_LENGTH, Message, MessageThread, ThreadRead
from patients import alerts
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

CRISIS = "I can't go on. I want to kill myself tonight."


def _ask(patient, text="Can I take my sertraline with breakfast?", category="medication", subject="With food?"):
    return messaging.start_thread(
        patient=patient, author=patient.user, kind="patient", category=category, subject=subject, text=text
    )


def _new_message(client, *, follow=False, **data):
    fields = {"category": "medication", "subject": "A question", "text": "Can I take it at night?"} | data
    return client.post(reverse("medications:my_message_new"), fields, follow=follow)


# -- Sending and replying ----------------------------------------------------------------------


def test_a_patient_writes_and_reads_the_reply(client, patient, psychiatrist):
    log_in(client, patient.user)
    response = _new_message(client, subject="Taking it with food", text="Can I take my tablet with breakfast?")

    thread = MessageThread.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("medications:my_thread", args=[thread.pk])
    assert (thread.kind, thread.category, thread.patient, thread.last_from_patient) == (
        "patient", "medication", patient, True,
    )  # fmt: skip
    # The care team hears of it, PHI-free, through the outbox; the patient hears nothing of their own.
    notices = Notification.objects.filter(kind=Notification.Kind.MESSAGE_FOR_STAFF)
    assert set(notices.values_list("recipient", flat=True)) == {psychiatrist.pk}
    assert not Notification.objects.filter(recipient=patient.user).exists()

    messaging.send(thread, author=psychiatrist, text="Yes: with breakfast is best.")
    told = Notification.objects.filter(kind=Notification.Kind.MESSAGE_FOR_PATIENT, recipient=patient.user)
    assert sorted(told.values_list("channel", flat=True)) == ["email", "in_app"]

    page = client.get(reverse("medications:my_thread", args=[thread.pk])).content.decode()
    assert "Can I take my tablet with breakfast?" in page and "Yes: with breakfast is best." in page
    assert "We answer messages within 2 business days" in page
    assert 'href="tel:988"' in page and 'href="tel:911"' in page


def test_the_staff_page_shows_read_receipts(client, patient, psychiatrist):
    thread = _ask(patient).thread
    reply = messaging.send(thread, author=psychiatrist, text="Yes, with food.")
    log_in(client, psychiatrist)

    page = client.get(reverse("medications:thread_detail", args=[thread.pk])).content.decode()
    assert "Not yet read by the patient" in page
    assert f"Seen by {psychiatrist.display_name}" in page  # reading the page marked it

    threads.mark_read(thread, patient.user)
    page = client.get(reverse("medications:thread_detail", args=[thread.pk])).content.decode()
    assert "Read by the patient" in page and "Not yet read by the patient" not in page
    read = ThreadRead.objects.get(thread=thread, user=patient.user)
    assert read.read_at >= reply.created_at


def test_messages_are_immutable(patient):
    message = _ask(patient)
    message.text = "Changed"
    with pytest.raises(PermissionError):
        message.save()
    with pytest.raises(PermissionError):
        message.delete()
    assert Message.objects.get(pk=message.pk).text == "Can I take my sertraline with breakfast?"


def test_an_over_long_message_is_refused_and_kept(client, patient):
    log_in(client, patient.user)
    text = "x" * (MESSAGE_MAX_LENGTH + 1)

    response = _new_message(client, text=text)

    assert response.status_code == 200
    assert f"at most {MESSAGE_MAX_LENGTH} characters" in response.content.decode()
    assert response.context["form"]["text"].value() == text  # nothing lost
    assert MessageThread.objects.count() == Message.objects.count() == 0


def test_an_empty_reply_is_refused(client, patient):
    thread = _ask(patient).thread
    log_in(client, patient.user)
    response = client.post(reverse("medications:my_thread", args=[thread.pk]), {"text": "   "})
    assert response.status_code == 200 and response.context["form"].errors
    assert Message.objects.count() == 1


# -- Triage ------------------------------------------------------------------------------------


def test_crisis_wording_shows_the_crisis_resources_and_raises_the_alert(client, patient, psychiatrist, settings):
    log_in(client, patient.user)

    _new_message(client, text=CRISIS, follow=True)
    thread = MessageThread.objects.get()
    page = client.get(reverse("medications:my_thread", args=[thread.pk])).content.decode()
    assert "Please get help now" not in page  # shown once, at once: not on every later visit

    message = Message.objects.get()
    assert (message.triage_level, thread.triage_level) == ("emergency", "emergency")
    alert = Alert.objects.get()
    assert (alert.level, alert.patient, alert.source) == ("emergency", patient, message)
    # The same page-the-care-team path as a report: SAFETY_ALERT rows for the psychiatrist.
    assert Notification.objects.filter(kind=Notification.Kind.SAFETY_ALERT, recipient=psychiatrist).exists()
    # One audit row for the message, naming the alert it raised.
    row = AuditEvent.objects.get(object_type="medications.Message")
    assert row.detail["alert_raised"] == alert.pk and row.detail["triage_level"] == "emergency"
    # And it escalates like a report's alert when nobody acknowledges it.
    later = timezone.now() + datetime.timedelta(minutes=settings.TITRATE_ALERT_ESCALATE_MINUTES + 1)
    assert alerts.escalate_overdue(now=later) == [alert.pk]
    assert alerts.source_url(alert) == reverse("medications:thread_detail", args=[thread.pk])


def test_the_crisis_page_comes_at_once_after_sending(client, patient):
    log_in(client, patient.user)
    page = _new_message(client, text=CRISIS, follow=True).content.decode()
    assert "Please get help now" in page and 'href="tel:988"' in page
    assert page.index("Please get help now") < page.index(CRISIS.replace("'", "&#x27;"))


def test_a_spanish_crisis_message_shows_the_spanish_resources(client, patient):
    log_in(client, patient.user)
    page = _new_message(client, text="Ya no quiero estar aquí. Me quiero morir.", follow=True).content.decode()
    assert Message.objects.get().language == "es"
    assert 'lang="es"' in page and "988" in page
    assert Alert.objects.get().level == "emergency"


def test_a_routine_question_raises_no_alert(client, patient):
    log_in(client, patient.user)
    page = _new_message(client, text="Can I move my visit to Friday?", category="scheduling", follow=True)
    assert "Please get help now" not in page.content.decode()
    assert Alert.objects.count() == 0 and Message.objects.get().triage_level == "routine"


def test_the_message_is_triaged_against_the_regimen(patient, psychiatrist):
    """Rash is an emergency on lamotrigine (the report's rule), through the same entry point."""
    factories.start(patient, psychiatrist, drug="lamotrigine")
    message = _ask(patient, text="I have a new rash all over my chest and a fever.")
    assert message.triage_level == "emergency", message.urgent_reasons
    assert side_effects.assess_for_patient(patient, text=message.text).level == "emergency"


def test_a_staff_reply_acknowledges_the_alert(patient, psychiatrist):
    message = _ask(patient, text=CRISIS)
    alert = Alert.objects.get()
    messaging.send(message.thread, author=psychiatrist, text="I am calling you now.")
    alert.refresh_from_db()
    assert alert.acknowledged_by == psychiatrist


# -- Side-effect replies are a thread --------------------------------------------------------------


def test_a_report_reply_is_a_thread_the_patient_can_answer(client, patient, psychiatrist):
    report = factories.report(patient)
    side_effects.reply(report, actor=psychiatrist, text="Take it with food for a week.")
    thread = MessageThread.objects.get(side_effect_report=report)
    assert (thread.category, [m.text for m in thread.messages.all()]) == (
        "side_effect",
        ["Take it with food for a week."],
    )

    log_in(client, patient.user)
    assert "Take it with food for a week." in client.get(reverse("patient_home")).content.decode()
    response = client.post(reverse("medications:my_thread", args=[thread.pk]), {"text": "Thanks, it is better."})
    assert response.status_code == 302
    assert [m.from_patient for m in thread.messages.all()] == [False, True]
    assert list(report.replies.values_list("text", flat=True)) == ["Take it with food for a week."]


# -- Who reads what ----------------------------------------------------------------------------


def test_a_patient_never_reads_another_patients_thread(client, patient, patient2):
    theirs = _ask(patient2).thread
    log_in(client, patient.user)
    assert client.get(reverse("medications:my_thread", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("medications:my_thread", args=[theirs.pk]), {"text": "hi"}).status_code == 404
    assert Message.objects.filter(thread=theirs).count() == 1


def test_a_patient_never_reads_a_care_team_note(client, patient, psychiatrist):
    note = messaging.start_thread(
        patient=patient, author=psychiatrist, kind="staff", category="other", subject="Plan", text="Discuss dose."
    ).thread
    log_in(client, patient.user)
    assert client.get(reverse("medications:my_thread", args=[note.pk])).status_code == 404
    assert "Plan" not in client.get(reverse("medications:my_messages")).content.decode()
    assert not Notification.objects.filter(recipient=patient.user).exists()


def test_the_front_desk_reads_scheduling_threads_only(client, patient, clinic_admin):
    clinical = _ask(patient).thread
    scheduling = _ask(patient, text="Can I come on Friday instead?", category="scheduling", subject="Visit").thread
    # The front desk hears of scheduling messages only.
    assert Notification.objects.filter(recipient=clinic_admin, kind=Notification.Kind.MESSAGE_FOR_STAFF).count() == 2
    log_in(client, clinic_admin)

    inbox = client.get(reverse("medications:message_inbox")).content.decode()
    assert "Visit" in inbox and "With food?" not in inbox
    assert client.get(reverse("medications:thread_detail", args=[clinical.pk])).status_code == 404
    assert client.get(reverse("medications:thread_detail", args=[scheduling.pk])).status_code == 200
    response = client.post(reverse("medications:thread_detail", args=[scheduling.pk]), {"text": "Friday 10:00 works."})
    assert response.status_code == 302
    assert scheduling.messages.last().author == clinic_admin


# -- Inbox, assignment, done, unread counts -------------------------------------------------


def test_assignment_and_done(client, patient, psychiatrist, psychiatrist2):
    patient.care_team.add(psychiatrist2)
    thread = _ask(patient).thread
    log_in(client, psychiatrist)

    response = client.post(reverse("medications:thread_assign", args=[thread.pk]), {"assigned_to": psychiatrist2.pk})
    assert response.status_code == 302
    thread.refresh_from_db()
    assert thread.assigned_to == psychiatrist2
    assert "With food?" in client.get(reverse("medications:message_inbox") + "?show=open").content.decode()
    assert "With food?" not in client.get(reverse("medications:message_inbox") + "?show=mine").content.decode()

    client.post(reverse("medications:thread_done", args=[thread.pk]))
    thread.refresh_from_db()
    assert thread.done_by == psychiatrist
    assert "With food?" not in client.get(reverse("medications:message_inbox")).content.decode()
    assert "With food?" in client.get(reverse("medications:message_inbox") + "?show=done").content.decode()

    # The patient writes again: the thread is open again, and only its assignee is told.
    last = messaging.send(thread, author=patient.user, text="One more question.")
    thread.refresh_from_db()
    assert thread.done_at is None
    told = Notification.objects.filter(idempotency_key__startswith=f"message:{last.pk}:")
    assert set(told.values_list("recipient", flat=True)) == {psychiatrist2.pk}


def test_someone_off_the_care_team_cannot_be_assigned(client, patient, psychiatrist, psychiatrist2):
    thread = _ask(patient).thread
    log_in(client, psychiatrist)
    client.post(reverse("medications:thread_assign", args=[thread.pk]), {"assigned_to": psychiatrist2.pk})
    thread.refresh_from_db()
    assert thread.assigned_to is None


def test_unread_counts_show_in_the_navigation(client, patient, psychiatrist):
    thread = _ask(patient).thread
    log_in(client, psychiatrist)
    home = client.get(reverse("psychiatrist_home")).content.decode()
    assert 'Messages <span class="badge rounded-pill text-bg-primary">1<span' in home

    client.get(reverse("medications:thread_detail", args=[thread.pk]))
    client.post(reverse("medications:thread_detail", args=[thread.pk]), {"text": "Yes."})
    home = client.get(reverse("psychiatrist_home")).content.decode()
    assert 'Messages <span class="badge' not in home

    client.logout()
    log_in(client, patient.user)
    assert threads.unread_count(patient.user) == 1
    page = client.get(reverse("medications:my_messages")).content.decode()
    assert 'Messages <span class="badge rounded-pill text-bg-primary">1<span' in page
    client.get(reverse("medications:my_thread", args=[thread.pk]))
    assert threads.unread_count(patient.user) == 0


def test_every_page_view_is_audited_with_the_thread(client, patient, psychiatrist):
    thread = _ask(patient).thread
    log_in(client, psychiatrist)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    client.get(reverse("medications:thread_detail", args=[thread.pk]))
    row = AuditEvent.objects.get(id__gt=last)
    assert (row.action, row.patient, row.object_type, row.object_id) == (
        "view", patient, "medications.MessageThread", str(thread.pk),
    )  # fmt: skip

    last = row.pk
    client.get(reverse("medications:message_inbox"))
    row = AuditEvent.objects.get(id__gt=last)
    assert row.detail == {"page": "message_inbox", "patient_ids": [patient.pk]}


# -- Query budgets -----------------------------------------------------------------------------


def _many_threads(patients, psychiatrist, per_patient):
    for person in patients:
        for n in range(per_patient):
            message = _ask(person, text=f"Question {n}", subject=f"Subject {n}")
            messaging.send(message.thread, author=psychiatrist, text=f"Answer {n}")


def test_the_inbox_costs_the_same_whatever_the_number_of_threads(
    client, patient, psychiatrist, django_assert_max_num_queries
):
    # * session * user * count * one page of threads (patient, assignee, read mark)
    # * audit row: break-glass check, chain head lock, insert (clinic.audit) + savepoints
    budget = 10
    _many_threads([patient], psychiatrist, 2)
    log_in(client, psychiatrist)
    with django_assert_max_num_queries(budget):
        assert client.get(reverse("medications:message_inbox")).status_code == 200
    more = [
        factories.PatientFactory(primary_psychiatrist=psychiatrist, user=factories.PatientUserFactory())
        for _ in range(4)
    ]
    _many_threads(more, psychiatrist, 3)
    with django_assert_max_num_queries(budget):
        response = client.get(reverse("medications:message_inbox"))
    assert len(response.context["threads"]) == 14


def test_the_thread_pages_cost_the_same_whatever_the_number_of_messages(
    client, patient, psychiatrist, django_assert_max_num_queries
):
    thread = _ask(patient).thread
    for n in range(13):  # the patient writes last: the psychiatrist's first visit moves their read mark
        messaging.send(thread, author=psychiatrist if n % 2 else patient.user, text=f"Message {n}")
    log_in(client, psychiatrist)
    # * session * user * thread (patient, primary psychiatrist, assignee, report) * messages with
    #   authors * read marks with users * the reader's mark moved forward * their unread count
    #   * shared-care team * audit row (break-glass check, chain head lock, insert)
    with django_assert_max_num_queries(11):
        response = client.get(reverse("medications:thread_detail", args=[thread.pk]))
    assert response.status_code == 200 and len(response.context["messages_shown"]) == 14
    # Opened again with nothing new: the read mark comes with the receipts and nothing is written.
    with django_assert_max_num_queries(9) as captured:
        response = client.get(reverse("medications:thread_detail", args=[thread.pk]))
    assert response.status_code == 200
    assert not [q for q in captured.captured_queries if "threadread" in q["sql"] and "SELECT" not in q["sql"]]

    client.logout()
    log_in(client, patient.user)
    # * session * user * patient * thread * messages * read mark * audit row
    with django_assert_max_num_queries(13):
        response = client.get(reverse("medications:my_thread", args=[thread.pk]))
    assert response.status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(reverse("medications:my_messages")).status_code == 200


# -- The clinic's promise and contact -------------------------------------------------------


def test_the_promise_and_contact_come_from_the_clinic_profile(client, patient):
    ClinicProfile.objects.create(
        pk=1, name="Riverside Psychiatry", phone="(508) 555-0123", hours="Mon–Fri 8 am–6 pm",
        after_hours="Call the number and press 2 for the on-call psychiatrist.", response_business_days=1,
    )  # fmt: skip
    log_in(client, patient.user)
    page = client.get(reverse("medications:my_message_new")).content.decode()
    assert "We answer messages within 1 business day." in page
    assert "(508) 555-0123" in page and "Mon–Fri 8 am–6 pm" in page
    assert "press 2 for the on-call psychiatrist" in page


def test_the_alert_source_is_the_message(patient):
    message = _ask(patient, text=CRISIS)
    alert = Alert.objects.get()
    assert alert.source_type == ContentType.objects.get_for_model(Message)
    assert alerts.source_label(alert) == "Message"
    assert alert.source_id == str(message.pk)
