"""The batch sender (notifications/sending.py ``send_batch``, task ``send_notifications``): what the
planners and the dispatcher publish since issue 7. A batch costs a number of queries that does not
grow with its size, keeps every rule of the one-row sender per row, isolates one row's failure,
never sends a row twice, and appends its audit rows to an intact chain."""

from __future__ import annotations

import datetime
import threading
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from appointments import reminders
from appointments.models import Appointment
from clinic import audit
from clinic.models import AuditEvent, Notification, NotificationPreference
from notifications import channels, dispatch, outbox, sending, tasks
from tests.factories import (
    PHONE,
    AppointmentFactory,
    AppointmentTypeFactory,
    PatientFactory,
    PatientUserFactory,
    due_reminders,
    statuses,
)
from tests.helpers import require_service, warm_clinic_profile

pytestmark = pytest.mark.django_db

Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status


class FakeSMS:
    """Records each text; a reference in ``fail`` raises that error for that row only."""

    def __init__(self):
        self.sent: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.before_send = None

    def send(self, *, to, body, reference):
        if self.before_send:
            self.before_send(reference)
        if reference in self.fail:
            raise self.fail[reference]
        self.sent.append(reference)
        return f"SM-{reference}"


@pytest.fixture
def sms(settings, monkeypatch):
    fake = FakeSMS()
    monkeypatch.setitem(channels.SMS_BACKENDS, "fake", lambda: fake)
    settings.TITRATE_SMS_BACKEND = "fake"
    return fake


@pytest.fixture
def published(monkeypatch) -> list[list[str]]:
    """Batch messages handed to the broker, one list of ids each."""
    messages: list[list[str]] = []
    monkeypatch.setattr(outbox, "publish", lambda ids: messages.append([str(pk) for pk in ids]) or True)
    return messages


# -- Cost ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("patients", [2, 25])
def test_a_batch_costs_the_same_queries_whatever_its_size(patients, django_assert_max_num_queries):
    rows = due_reminders(patients)
    ids = [str(r.pk) for r in rows]
    # Content types are cached per process: a worker's first batch reads each subject type's once
    # (every registered kind's, not only these rows'), so warm them all, whichever test ran first.
    ContentType.objects.get_for_models(*apps.get_models())
    warm_clinic_profile()

    # Claim + the rows' subjects (one query per subject type: these are all about visits) + in-app
    # SENT with its audit append (UPDATE, lock, INSERT) + email SENDING (bulk) + email SENT (the rows
    # not yet SENT, locked; one UPDATE) + its audit append (lock, one INSERT) and the transactions'
    # savepoints: the same bound for 4 rows and for 50. (In-app SENT at the claim saves one UPDATE
    # per in-app row; the lock keeps a row sent twice after a timeout to one audit row.)
    with django_assert_max_num_queries(14):
        results = sending.send_batch(ids)

    assert results == {pk: Status.SENT for pk in ids}
    sent = Notification.objects.filter(pk__in=ids)
    assert all(r.status == Status.SENT and r.attempts == 1 and r.sent_at and r.lease_expires_at is None for r in sent)
    email_ids = {str(r.pk) for r in rows if r.channel == Channel.EMAIL}
    assert sorted(m.extra_headers["X-Titrate-Notification"] for m in mail.outbox) == sorted(email_ids)
    for row in sent.filter(channel=Channel.EMAIL):
        assert row.provider_message_id == channels.message_id(str(row.pk))
    assert set(sent.filter(channel=Channel.IN_APP).values_list("provider_message_id", flat=True)) == {""}
    # One audit row per notification sent, naming it and its patient.
    audits = AuditEvent.objects.filter(object_type="clinic.Notification", detail__event="notification_sent")
    assert sorted(audits.values_list("object_id", flat=True)) == sorted(ids)
    assert {(a.object_id, a.patient_id) for a in audits} == {(str(r.pk), r.patient_id) for r in rows}


def test_the_task_sends_a_batch_and_counts_outcomes():
    rows = due_reminders(3)
    Appointment.objects.filter(pk=rows[0].subject_id).update(status=Appointment.Status.CANCELLED)

    counts = tasks.send_notifications.apply(args=[[str(r.pk) for r in rows]]).get()

    assert counts == {Status.SENT: 4, Status.CANCELLED: 2}
    assert len(mail.outbox) == 2


def test_publish_all_sends_one_message_per_batch(monkeypatch):
    messages = []
    monkeypatch.setattr(tasks.send_notifications, "apply_async", lambda args, expires: messages.append(args[0]))
    ids = [f"id-{i}" for i in range(outbox.BATCH_SIZE * 2 + 1)]

    outbox.publish_all(ids)

    assert [len(m) for m in messages] == [outbox.BATCH_SIZE, outbox.BATCH_SIZE, 1]
    assert [pk for m in messages for pk in m] == ids


def test_dispatch_publishes_its_claim_in_batches(published, django_capture_on_commit_callbacks, monkeypatch):
    rows = due_reminders(3)
    monkeypatch.setattr(outbox, "BATCH_SIZE", 4)
    with django_capture_on_commit_callbacks(execute=True):
        claimed = dispatch.dispatch_due()

    assert sorted(claimed) == sorted(str(r.pk) for r in rows)
    assert [len(m) for m in published] == [4, 2]
    assert set(Notification.objects.values_list("status", flat=True)) == {Status.ENQUEUED}
    assert sending.send_batch(published[0] + published[1]) == {str(r.pk): Status.SENT for r in rows}


# -- One row's trouble is its own ---------------------------------------------------------------


def test_one_failing_row_is_retried_while_the_others_are_sent(sms):
    rows = due_reminders(3, channels_=(Channel.SMS, Channel.EMAIL))
    texts = [r for r in rows if r.channel == Channel.SMS]
    broken, refused = texts[0], texts[1]
    sms.fail[str(broken.pk)] = channels.TransientError("SMS gateway HTTP 503")
    sms.fail[str(refused.pk)] = channels.PermanentError(f"Invalid number {PHONE}")

    results = sending.send_batch([str(r.pk) for r in rows])

    assert results.pop(str(broken.pk)) == Status.PENDING
    assert results.pop(str(refused.pk)) == Status.FAILED
    assert set(results.values()) == {Status.SENT} and len(results) == 4
    broken.refresh_from_db()
    assert broken.attempts == 1 and broken.send_at > timezone.now() and broken.lease_expires_at is None
    assert broken.last_error == "SMS gateway HTTP 503"
    refused.refresh_from_db()
    assert refused.last_error == "Invalid number [number]"  # scrubbed
    assert sms.sent == [str(texts[2].pk)]
    assert len(mail.outbox) == 3
    audited = set(AuditEvent.objects.filter(detail__event="notification_sent").values_list("object_id", flat=True))
    assert audited == set(results)  # the sent rows only


def test_an_email_error_does_not_stop_the_emails_after_it(monkeypatch):
    rows = due_reminders(3, channels_=(Channel.EMAIL,))
    real = channels.send_email
    failing = str(rows[1].pk)

    def send_email(**kwargs):
        if kwargs["reference"] == failing:
            raise channels.TransientError("Mail server deferred: 451")
        return real(**kwargs)

    monkeypatch.setattr(channels, "send_email", send_email)
    results = sending.send_batch([str(r.pk) for r in rows])

    assert results == {str(rows[0].pk): Status.SENT, failing: Status.PENDING, str(rows[2].pk): Status.SENT}
    assert len(mail.outbox) == 2


# -- Never twice ----------------------------------------------------------------------------------


def test_rows_already_sent_held_or_backing_off_are_not_sent_again(sms):
    rows = due_reminders(4, channels_=(Channel.SMS,))
    done, held, backing_off, due = rows
    Notification.objects.filter(pk=done.pk).update(status=Status.SENT)
    lease = timezone.now() + datetime.timedelta(minutes=2)
    Notification.objects.filter(pk=held.pk).update(status=Status.SENDING, attempts=1, lease_expires_at=lease)
    Notification.objects.filter(pk=backing_off.pk).update(
        attempts=1, send_at=timezone.now() + datetime.timedelta(minutes=5)
    )
    ids = [str(r.pk) for r in rows]

    first = sending.send_batch(ids)
    again = sending.send_batch(ids)  # the broker redelivers the message (acks_late)

    expected = {
        str(done.pk): Status.SENT,
        str(held.pk): Status.SENDING,
        str(backing_off.pk): Status.PENDING,
        str(due.pk): Status.SENT,
    }
    assert first == again == expected
    assert sms.sent == [str(due.pk)]
    assert AuditEvent.objects.filter(detail__event="notification_sent").count() == 1


def test_an_sms_cancelled_while_its_batch_runs_is_not_sent(sms):
    rows = due_reminders(2, channels_=(Channel.SMS,))
    first, second = sorted(rows, key=lambda r: str(r.pk))

    def cancel_the_other(reference):
        if reference == str(first.pk):
            reminders.cancel_for_appointment(second.subject)

    sms.before_send = cancel_the_other
    results = sending.send_batch([str(r.pk) for r in rows])

    assert results == {str(first.pk): Status.SENT, str(second.pk): Status.CANCELLED}
    assert sms.sent == [str(first.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_row_locked_by_another_transaction_is_skipped_not_waited_for():
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    rows = due_reminders(2, channels_=(Channel.IN_APP,))
    locked, release = threading.Event(), threading.Event()

    def other_transaction():
        try:
            with transaction.atomic():
                Notification.objects.select_for_update().filter(pk=rows[0].pk).first()
                locked.set()
                release.wait(20)
        finally:
            connection.close()

    thread = threading.Thread(target=other_transaction)
    thread.start()
    assert locked.wait(20)
    try:
        results = sending.send_batch([str(r.pk) for r in rows])
    finally:
        release.set()
        thread.join(20)

    assert results == {str(rows[1].pk): Status.SENT}
    assert statuses(rows) == {str(rows[0].pk): Status.PENDING, str(rows[1].pk): Status.SENT}
    # The one-row path (a redelivered old message) waits for the lock instead, as it always did.
    assert sending.send(rows[0].pk) == Status.SENT


# -- The rules of the one-row sender, per row -------------------------------------------------------


def test_each_row_is_checked_for_consent_cancellation_and_expiry(sms):
    rows = due_reminders(4, channels_=(Channel.EMAIL, Channel.SMS))
    by_patient = [[r for r in rows if r.recipient_id == user] for user in dict.fromkeys(r.recipient_id for r in rows)]
    opted_out, cancelled, expired, fine = by_patient
    NotificationPreference.objects.filter(user_id=opted_out[0].recipient_id).update(
        sms_enabled=False, email_enabled=False
    )
    Appointment.objects.filter(pk=cancelled[0].subject_id).update(status=Appointment.Status.CANCELLED)
    Notification.objects.filter(pk__in=[r.pk for r in expired]).update(expires_at=timezone.now())

    results = sending.send_batch([str(r.pk) for r in rows])

    assert {results[str(r.pk)] for r in opted_out} == {Status.SKIPPED}
    assert {results[str(r.pk)] for r in cancelled} == {Status.CANCELLED}
    assert {results[str(r.pk)] for r in expired} == {Status.SKIPPED}
    assert {results[str(r.pk)] for r in fine} == {Status.SENT}
    assert statuses(rows) == results
    assert sms.sent == [str(r.pk) for r in fine if r.channel == Channel.SMS]
    assert [m.to for m in mail.outbox] == [[fine[0].recipient.email]]
    reasons = dict(
        Notification.objects.filter(pk__in=[opted_out[0].pk, cancelled[0].pk]).values_list("pk", "last_error")
    )
    assert reasons == {
        opted_out[0].pk: "The recipient turned this channel off.",
        cancelled[0].pk: "The appointment is no longer booked.",
    }


def test_a_reminder_held_for_quiet_hours_waits_even_if_published(sms):
    """Quiet hours decide send_at when the row is planned: a published id whose time has not
    come (a catch-up waiting for the quiet period to end) is left PENDING, not sent early."""
    (row,) = due_reminders(1, channels_=(Channel.SMS,))
    Notification.objects.filter(pk=row.pk).update(send_at=timezone.now() + datetime.timedelta(hours=6))

    assert sending.send_batch([str(row.pk)]) == {str(row.pk): Status.PENDING}
    assert sms.sent == []


def test_stale_sending_rows_follow_the_per_channel_policy(sms):
    rows = due_reminders(1, channels_=(Channel.EMAIL, Channel.SMS, Channel.IN_APP))
    Notification.objects.update(
        status=Status.SENDING, attempts=1, lease_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    results = sending.send_batch([str(r.pk) for r in rows])

    by_channel = {r.channel: results[str(r.pk)] for r in rows}
    assert by_channel == {Channel.EMAIL: Status.SENT, Channel.SMS: Status.UNKNOWN, Channel.IN_APP: Status.SENT}
    assert sms.sent == []  # at most once
    assert set(Notification.objects.exclude(channel=Channel.SMS).values_list("attempts", flat=True)) == {2}


def test_rows_not_reached_in_time_are_given_back_and_published_again(sms, published, monkeypatch):
    rows = due_reminders(2, channels_=(Channel.EMAIL, Channel.SMS))
    budget = [0.0]  # only the first row gets its turn
    monkeypatch.setattr(sending, "_time_budget", lambda: budget[0])

    results = sending.send_batch([str(r.pk) for r in rows])

    assert sorted(results.values()) == [Status.PENDING] * 3 + [Status.SENT]
    given_back = sorted(pk for pk, status in results.items() if status == Status.PENDING)
    assert sorted(published[0]) == given_back
    back = Notification.objects.filter(pk__in=given_back)
    assert all(r.attempts == 0 and r.lease_expires_at is None and r.send_at <= timezone.now() for r in back)
    assert len(mail.outbox) == 1 and sms.sent == []
    # The republished batch sends them; nothing goes twice.
    budget[0] = 30.0
    assert set(sending.send_batch(published[0]).values()) == {Status.SENT}
    assert len(mail.outbox) == 2 and len(sms.sent) == 2


# -- The audit chain ------------------------------------------------------------------------------


def test_the_audit_chain_verifies_after_batches_between_single_records(patient):
    rows = due_reminders(5)
    audit.record(AuditEvent.Action.VIEW, patient=patient, obj=patient, detail={"page": "chart"})
    sending.send_batch([str(r.pk) for r in rows[:6]])
    audit.record(AuditEvent.Action.VIEW, patient=patient, obj=patient, detail={"page": "chart"})
    sending.send_batch([str(r.pk) for r in rows[6:]])

    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().startswith("OK: 12 audit rows verified")
    chain = list(AuditEvent.objects.order_by("id").values_list("prev_hash", "row_hash"))
    assert all(prev == before[1] for before, (prev, _) in zip(chain, chain[1:], strict=False))


def test_record_many_with_nothing_writes_nothing():
    assert audit.record_many(AuditEvent.Action.CREATE, []) == []
    assert AuditEvent.objects.count() == 0


# -- The planner ----------------------------------------------------------------------------------


def book_check_ins(count: int) -> None:
    """``count`` patients (email, SMS, in-app) booked in 3 days with a type whose only offset is
    14 days: each gets one catch-up reminder per channel, due now (docs/reminders.md)."""
    kind = AppointmentTypeFactory(reminder_offsets_hours=[14 * 24])
    start = timezone.now().replace(microsecond=0) + datetime.timedelta(days=3)
    for i in range(count):
        patient = PatientFactory(user=PatientUserFactory())
        NotificationPreference.objects.create(user=patient.user, sms_enabled=True, sms_phone=PHONE)
        AppointmentFactory(
            patient=patient,
            psychiatrist=patient.primary_psychiatrist,
            appointment_type=kind,
            start=start + datetime.timedelta(minutes=i),
        )


@pytest.mark.parametrize("patients", [2, 12])
def test_the_planner_costs_the_same_queries_and_publishes_in_batches(
    patients, published, monkeypatch, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    book_check_ins(patients)
    monkeypatch.setattr(outbox, "BATCH_SIZE", 4)

    # One read of the visits (with type, patient, user, preferences) and one insert per 1,000 rows.
    with django_assert_max_num_queries(4), django_capture_on_commit_callbacks(execute=True):
        created = reminders.plan_upcoming_reminders()

    assert len(created) == 3 * patients
    assert sorted(pk for batch in published for pk in batch) == sorted(str(r.pk) for r in created)
    assert all(len(batch) <= 4 for batch in published)
    stored = Notification.objects.filter(pk__in=[r.pk for r in created])
    assert stored.count() == 3 * patients
    assert set(stored.values_list("status", "attempts", "kind")) == {(Status.PENDING, 0, Kind.APPOINTMENT_REMINDER)}
    assert {(r.recipient_id, r.patient.user_id) for r in stored.select_related("patient")} == {
        (r.recipient_id, r.recipient_id) for r in created
    }
    # Planning again creates nothing, and a concurrent planner's rows are not claimed as ours.
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.plan_upcoming_reminders() == []
    assert published == []
    assert sending.send_batch([str(r.pk) for r in created]) == {str(r.pk): Status.SENT for r in created}
