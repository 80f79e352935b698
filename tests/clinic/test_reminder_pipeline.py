"""The outbox under real conditions (reference §2.7 and §4.5): a rolled-back booking publishes
nothing; a real Celery worker over Redis sends exactly once; two dispatchers never claim the
same row; a process killed at each checkpoint recovers as docs/reminders.md promises; a broker
outage at booking time loses nothing. All but the first need PostgreSQL and Redis."""

from __future__ import annotations

import datetime
import json
import logging
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core import mail
from django.db import connection, connections, transaction
from django.utils import timezone
from kombu import pools

from appointments import reminders
from appointments.models import Appointment
from clinic.celery import app
from clinic.models import Notification, NotificationPreference
from notifications import channels, dispatch, outbox
from tests.factories import AppointmentFactory, AppointmentTypeFactory
from tests.helpers import require_service

ROOT = Path(__file__).resolve().parents[2]
Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status
PHONE = "+16175550123"


@pytest.fixture
def postgres():
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")


def book(patient, lead: datetime.timedelta, offsets=(2,)) -> Appointment:
    kind = AppointmentTypeFactory(reminder_offsets_hours=list(offsets))
    return AppointmentFactory(
        patient=patient,
        psychiatrist=patient.primary_psychiatrist,
        appointment_type=kind,
        start=timezone.now().replace(microsecond=0) + lead,
    )


def due_rows(patient, channels_=(Channel.EMAIL, Channel.SMS, Channel.IN_APP)) -> list[Notification]:
    """Reminder rows on the given channels, planned for later and then made due now."""
    NotificationPreference.objects.update_or_create(
        user=patient.user,
        defaults={
            "email_enabled": Channel.EMAIL in channels_,
            "sms_enabled": Channel.SMS in channels_,
            "sms_phone": PHONE,
        },
    )
    appt = book(patient, datetime.timedelta(days=3), offsets=[48])
    planned = [r for r in reminders.plan_appointment_reminders(appt) if r.channel in channels_]
    Notification.objects.about(appt).exclude(pk__in=[r.pk for r in planned]).delete()
    Notification.objects.about(appt).update(send_at=timezone.now() - datetime.timedelta(seconds=1))
    return planned


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@contextmanager
def real_worker():
    """A Celery worker thread over the configured broker. It closes its own database
    connection after each task, so the test database can be dropped at the end."""

    def close_connections(**kwargs):
        connections.close_all()

    task_postrun.connect(close_connections, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        task_postrun.disconnect(close_connections)


class FakeSMS:
    def __init__(self):
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, *, to, body, reference):
        with self.lock:
            self.sent.append(reference)
        return f"SM-{reference}"


@pytest.fixture
def sms(settings, monkeypatch):
    fake = FakeSMS()
    monkeypatch.setitem(channels.SMS_BACKENDS, "fake", lambda: fake)
    settings.TITRATE_SMS_BACKEND = "fake"
    return fake


# -- REL-2: publish only after commit ---------------------------------------------------------


@pytest.mark.django_db
def test_a_rolled_back_booking_publishes_nothing(
    patient, clinic_admin, monkeypatch, django_capture_on_commit_callbacks
):
    published: list[str] = []
    monkeypatch.setattr(outbox, "publish", lambda ids: published.extend(ids) or True)

    # Booked 90 minutes ahead: the catch-up reminder and the staff notices are due at once.
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        appt = book(patient, datetime.timedelta(minutes=90))
        reminders.plan_appointment_reminders(appt)
        assert reminders.notify_staff(appt, Kind.APPOINTMENT_BOOKED)
        raise RuntimeError("the booking failed after planning")

    assert callbacks == [] and published == []
    assert not Notification.objects.exists() and not Appointment.objects.exists()

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        appt = book(patient, datetime.timedelta(minutes=90))
        created = reminders.plan_appointment_reminders(appt) + reminders.notify_staff(appt, Kind.APPOINTMENT_BOOKED)
        assert published == []  # nothing before the commit
    assert sorted(published) == sorted(str(r.pk) for r in created)


# -- A real worker over Redis -----------------------------------------------------------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_dispatch_then_a_real_worker_sends_each_row_exactly_once(postgres, redis_url, patient, sms):
    rows = due_rows(patient)

    with real_worker():
        published = dispatch.dispatch_due()
        assert sorted(published) == sorted(str(r.pk) for r in rows)
        assert wait_for(lambda: Notification.objects.filter(status=Status.SENT).count() == 3)
        assert dispatch.dispatch_due() == []  # nothing left to claim
        time.sleep(1)  # room for a stray duplicate to show up

    assert len(mail.outbox) == 1
    assert sms.sent == [str(next(r.pk for r in rows if r.channel == Channel.SMS))]
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}


# -- REL-6: two dispatchers at once -----------------------------------------------------------


def _many_due_rows(user, count: int) -> set[str]:
    now = timezone.now()
    rows = Notification.objects.bulk_create(
        Notification(
            idempotency_key=f"load:{i}",
            kind=Kind.NO_SHOW_FOLLOW_UP,
            channel=Channel.IN_APP,
            recipient=user,
            send_at=now - datetime.timedelta(seconds=i),
            expires_at=now + datetime.timedelta(days=1),
        )
        for i in range(count)
    )
    return {str(r.pk) for r in rows}


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_never_claim_the_same_row(postgres, patient, monkeypatch):
    expected = _many_due_rows(patient.user, 200)
    published: list[str] = []
    lock = threading.Lock()

    def record(ids):
        with lock:
            published.extend(ids)
        return True

    monkeypatch.setattr(outbox, "publish", record)
    # Hold each claim's row locks a little longer, so the two transactions really overlap.
    real_lease = outbox.lease
    monkeypatch.setattr(outbox, "lease", lambda: time.sleep(0.05) or real_lease())
    barrier = threading.Barrier(2)
    claimed: dict[str, list[str]] = {}

    def dispatcher(name):
        try:
            barrier.wait()
            mine = []
            while batch := dispatch.dispatch_due(limit=20):
                mine += batch
            claimed[name] = mine
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert claimed["a"] and claimed["b"], "both dispatchers should have claimed work"
    assert not set(claimed["a"]) & set(claimed["b"])
    assert sorted(published) == sorted(expected)  # every row exactly once
    assert Notification.objects.filter(status=Status.ENQUEUED).count() == 200


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_dispatcher_skips_rows_another_one_has_locked(postgres, patient, monkeypatch):
    expected = _many_due_rows(patient.user, 10)
    monkeypatch.setattr(outbox, "publish", lambda ids: True)
    locked, release = threading.Event(), threading.Event()

    def other_dispatcher():
        try:
            with transaction.atomic():
                held = list(Notification.objects.select_for_update().order_by("send_at")[:4])
                locked.set()
                release.wait(20)
            return held
        finally:
            connection.close()

    thread = threading.Thread(target=other_dispatcher)
    thread.start()
    assert locked.wait(20)
    try:
        first = dispatch.dispatch_due()
    finally:
        release.set()
        thread.join(20)
    second = dispatch.dispatch_due()

    assert len(first) == 6 and len(second) == 4
    assert set(first) | set(second) == expected


# -- REL-3/REL-4: crash checkpoints in a real process ----------------------------------------

CRASH_SCRIPT = r"""
import json, os, sys
import django
django.setup()
from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend


class FileEmailBackend(BaseEmailBackend):
    # The fake provider: one line per delivered email, with the idempotency key it carried.
    def send_messages(self, messages):
        with open(os.environ["TEST_EMAIL_LOG"], "a") as out:
            for message in messages:
                out.write(json.dumps({"message_id": message.extra_headers["Message-ID"]}) + "\n")
        return len(messages)


settings.EMAIL_BACKEND = "__main__.FileEmailBackend"
from clinic.celery import app
app.conf.task_always_eager = True  # this process is the worker: a publish runs send() at once
from notifications import dispatch, sending
dispatch.dispatch_due()
for pk in sys.argv[1:]:
    sending.send(pk)  # the broker redelivering the message (acks_late)
"""


def subprocess_database_url() -> str:
    s = connection.settings_dict
    password = f":{quote(s['PASSWORD'], safe='')}" if s["PASSWORD"] else ""
    return (
        f"postgres://{quote(s['USER'], safe='')}{password}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"
    )


def run_sender(tmp_path: Path, *, crash_at: str | None, redeliver: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TITRATE_CRASH_AT")}
    env.update(
        DJANGO_SETTINGS_MODULE="clinic.settings_test",
        DATABASE_URL=subprocess_database_url(),  # the test database (test_<name>)
        SMS_BACKEND="file",
        SMS_FILE_DIR=str(tmp_path),
        TEST_EMAIL_LOG=str(tmp_path / "email.jsonl"),
        PYTHONPATH=str(ROOT),
    )
    if crash_at:
        env["TITRATE_CRASH_AT"] = crash_at
    args = [sys.executable, "-c", CRASH_SCRIPT, *([redeliver] if redeliver else [])]
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert crash_at is not None or result.returncode == 0, result.stderr[-2000:]
    return result.returncode


def deliveries(tmp_path: Path, channel: str) -> list[str]:
    """The idempotency keys the fake providers received, one per delivery."""
    if channel == Channel.EMAIL:
        log = tmp_path / "email.jsonl"
        return [json.loads(line)["message_id"] for line in log.read_text().splitlines()] if log.exists() else []
    log = tmp_path / "messages.jsonl"
    return [json.loads(line)["reference"] for line in log.read_text().splitlines()] if log.exists() else []


CRASHES = [
    # checkpoint, channel, state after the crash, deliveries in the end, final status
    ("before_send", Channel.EMAIL, Status.ENQUEUED, 1, Status.SENT),
    ("before_send", Channel.SMS, Status.ENQUEUED, 1, Status.SENT),
    # Email: at least once; the resend carries the same Message-ID (provider-side dedupe).
    ("after_provider_call", Channel.EMAIL, Status.SENDING, 2, Status.SENT),
    # SMS: at most once; the row waits for a human as UNKNOWN.
    ("after_provider_call", Channel.SMS, Status.SENDING, 1, Status.UNKNOWN),
    # In-app: SENT in the claim's own commit, so there is no provider call to die after.
    ("before_send", Channel.IN_APP, Status.ENQUEUED, 0, Status.SENT),
    ("after_sent_commit", Channel.IN_APP, Status.SENT, 0, Status.SENT),
    ("after_sent_commit", Channel.EMAIL, Status.SENT, 1, Status.SENT),
    ("after_sent_commit", Channel.SMS, Status.SENT, 1, Status.SENT),
]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("checkpoint", "channel", "after_crash", "delivered", "final"), CRASHES)
def test_crash_at_each_checkpoint_recovers_per_channel_policy(
    postgres, patient, tmp_path, checkpoint, channel, after_crash, delivered, final
):
    (row,) = due_rows(patient, channels_=(channel,))

    assert run_sender(tmp_path, crash_at=checkpoint) == 1, "the sender should have died at the checkpoint"
    row.refresh_from_db()
    assert row.status == after_crash

    # Recovery: the lease runs out, the sweep runs again, and the broker redelivers the old message.
    Notification.objects.filter(pk=row.pk).exclude(status=Status.SENT).update(
        lease_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    run_sender(tmp_path, crash_at=None, redeliver=str(row.pk))

    row.refresh_from_db()
    assert row.status == final
    keys = deliveries(tmp_path, channel)
    assert len(keys) == delivered
    assert all(str(row.pk) in key for key in keys)  # every delivery carried the same idempotency key
    if final == Status.UNKNOWN:
        assert "provider" in row.last_error


# -- REL-12: the broker is down while a patient books ----------------------------------------


@contextmanager
def broker_down():
    """Publishing goes to a dead port (connection refused), as when Redis is down; the
    app's own pools are left untouched so the broker 'comes back' exactly as it was."""
    saved = app.amqp.producer_pool
    app.amqp._producer_pool = pools.producers[app.connection_for_write("redis://127.0.0.1:1/0")]
    try:
        yield
    finally:
        app.amqp._producer_pool = saved


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_broker_down_at_booking_time_loses_nothing(postgres, redis_url, patient, clinic_admin, sms, caplog):
    NotificationPreference.objects.create(user=patient.user, sms_enabled=True, sms_phone=PHONE)

    # start_worker() leaves the root logger at ERROR; this test reads warnings.
    with broker_down(), caplog.at_level(logging.WARNING):
        started = time.monotonic()
        with transaction.atomic():  # the booking's transaction; publishing happens on commit
            appt = book(patient, datetime.timedelta(minutes=90))
            created = reminders.plan_appointment_reminders(appt)
            created += reminders.notify_staff(appt, Kind.APPOINTMENT_BOOKED)
        assert time.monotonic() - started < 5  # a failed publish per batch, not one per row

    assert len(created) == 7  # patient: email, SMS, in-app catch-ups; staff: psychiatrist + admin, 2 channels
    assert set(Notification.objects.values_list("status", flat=True)) == {Status.PENDING}
    # One failed publish per batch message (reminders, staff notices), each naming what it left.
    assert caplog.text.count("Broker unavailable") == 2
    assert "3 notifications wait for the sweep" in caplog.text
    assert "4 notifications wait for the sweep" in caplog.text

    with real_worker():
        assert len(dispatch.dispatch_due()) == 7
        ok = wait_for(lambda: Notification.objects.filter(status=Status.SENT).count() == 7)
        assert ok, list(Notification.objects.values_list("status", "channel", "attempts", "last_error"))

    assert len(sms.sent) == 1
    assert len(mail.outbox) == 3  # patient, psychiatrist, clinic admin
