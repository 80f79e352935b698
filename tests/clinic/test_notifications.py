"""The reminder outbox, in process: planners, quiet hours and DST, the dispatcher and sender
state machine, channels, message content (no PHI), one-click links and the pages."""

from __future__ import annotations

import datetime
import json
import logging
import re
import smtplib
import zoneinfo
from pathlib import Path

import pytest
import requests
import responses
import time_machine
from django.core import mail, signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from appointments import reminders
from appointments.models import Appointment, WaitlistEntry
from clinic.models import AuditEvent, ConsentRecord, Notification, NotificationPreference
from medications import reassessment, reviews
from notifications import badge, channels, sending
from notifications import messages as outbox_messages
from notifications import preferences as notification_prefs
from patients.models import Diagnosis
from tests import factories
from tests.factories import AppointmentFactory, AppointmentTypeFactory, ClinicAdminFactory
from tests.helpers import log_in, manage, production_env

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NY = zoneinfo.ZoneInfo("America/New_York")
Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "notifications"


# -- Fixtures and helpers ---------------------------------------------------------------------


class FakeSMS:
    """Records each text; ``fail_with`` makes the next calls raise."""

    def __init__(self):
        self.sent: list[dict] = []
        self.fail_with: Exception | None = None

    def send(self, *, to, body, reference):
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append({"to": to, "body": body, "reference": reference})
        return f"SM{len(self.sent)}"


@pytest.fixture
def sms(settings, monkeypatch):
    fake = FakeSMS()
    monkeypatch.setitem(channels.SMS_BACKENDS, "fake", lambda: fake)
    settings.TITRATE_SMS_BACKEND = "fake"
    return fake


def set_prefs(user, **fields) -> NotificationPreference:
    prefs, _ = NotificationPreference.objects.update_or_create(user=user, defaults=fields)
    user.refresh_from_db()
    return prefs


def in_ny(patient):
    patient.user.time_zone = "America/New_York"
    patient.user.save(update_fields=["time_zone"])
    return patient


def appointment(patient, start, offsets=(48, 2), **fields) -> Appointment:
    kind = AppointmentTypeFactory(reminder_offsets_hours=list(offsets), **fields.pop("type_fields", {}))
    return AppointmentFactory(
        patient=patient, psychiatrist=patient.primary_psychiatrist, appointment_type=kind, start=start, **fields
    )


def rows(*about, **filters):
    """Rows matching ``filters``, and about any of ``about`` (model instances) if given."""
    return (Notification.objects.about(*about) if about else Notification.objects).filter(**filters)


def local(moment):
    return moment.astimezone(NY)


# -- Planning ---------------------------------------------------------------------------------


def test_plans_one_row_per_offset_and_channel_and_twice_creates_nothing(patient):
    set_prefs(patient.user, sms_enabled=True, sms_phone="+16175550123")
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=7), offsets=[48, 2])

    created = reminders.plan_appointment_reminders(appt)

    assert len(created) == 6
    assert {(r.channel, r.send_at) for r in created} == {
        (channel, notification_prefs.reminder_time(appt.start, hours, patient.user.zone))
        for channel in (Channel.EMAIL, Channel.SMS, Channel.IN_APP)
        for hours in (48, 2)
    }
    assert all(r.expires_at == appt.start and r.kind == Kind.APPOINTMENT_REMINDER for r in created)
    assert reminders.plan_appointment_reminders(appt) == []
    assert reminders.plan_upcoming_reminders() == []
    assert rows(appt).count() == 6


def test_a_direct_duplicate_key_is_refused_by_the_database(patient):
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=7))
    row = reminders.plan_appointment_reminders(appt)[0]
    duplicate = Notification(
        idempotency_key=row.idempotency_key,
        kind=row.kind,
        channel=row.channel,
        recipient=row.recipient,
        send_at=row.send_at,
        expires_at=row.expires_at,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_patients_without_a_login_get_nothing(psychiatrist):
    unlinked = factories.PatientFactory(primary_psychiatrist=psychiatrist, user=None)
    appt = appointment(unlinked, timezone.now() + datetime.timedelta(days=7))

    assert reminders.plan_appointment_reminders(appt) == []
    assert reminders.plan_upcoming_reminders() == []


def test_opted_out_and_unreachable_channels_are_not_planned(patient):
    set_prefs(patient.user, email_enabled=False, sms_enabled=True, sms_phone="")
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=7))

    created = reminders.plan_appointment_reminders(appt)

    assert {r.channel for r in created} == {Channel.IN_APP}


def test_planner_covers_only_active_appointments_in_the_horizon(patient, patient2):
    soon = appointment(patient, timezone.now() + datetime.timedelta(days=3))
    later = appointment(patient2, timezone.now() + datetime.timedelta(days=20))
    cancelled = appointment(patient, timezone.now() + datetime.timedelta(days=4), status="cancelled")

    reminders.plan_upcoming_reminders(horizon_days=14)

    assert rows(soon).count() == 4
    assert not rows(later, cancelled).exists()


def test_reschedule_cancels_old_reminders_and_plans_new_keys(patient):
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=7))
    old = {r.pk for r in reminders.plan_appointment_reminders(appt)}
    appt.start += datetime.timedelta(days=1)
    appt.end += datetime.timedelta(days=1)
    appt.save()

    new = reminders.replan_appointment(appt)

    assert len(new) == 4
    assert set(rows(pk__in=old).values_list("status", flat=True)) == {Status.CANCELLED}
    assert all(r.expires_at == appt.start for r in new)


@pytest.mark.parametrize(
    ("lead", "expected"),
    [
        # Inside every offset: one catch-up per channel, sent now, keyed as the smallest offset.
        (datetime.timedelta(minutes=90), {"2h"}),
        # The 2 h reminder is still ahead: no extra message now.
        (datetime.timedelta(hours=10), {"2h"}),
        # Too close to act on: nothing.
        (datetime.timedelta(minutes=30), set()),
    ],
)
def test_booked_inside_the_offsets(patient, lead, expected):
    now = timezone.now()
    appt = appointment(patient, now + lead, offsets=[48, 2])

    created = reminders.plan_appointment_reminders(appt)

    assert {r.idempotency_key.split(":")[3] for r in created} == expected
    assert len(created) == 2 * len(expected)  # email + in-app
    if lead == datetime.timedelta(minutes=90):
        assert all(r.send_at <= timezone.now() for r in created)
    assert reminders.plan_appointment_reminders(appt) == []


@time_machine.travel(datetime.datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False)
def test_quiet_hours_move_email_and_sms_earlier_but_not_in_app(patient):
    in_ny(patient)
    set_prefs(
        patient.user,
        sms_enabled=True,
        sms_phone="+16175550123",
        quiet_hours_start=datetime.time(21),
        quiet_hours_end=datetime.time(8),
    )
    # 09:00 local with a 2 h offset: 07:00 is inside 21:00–08:00 (wraps midnight).
    start = datetime.datetime(2026, 6, 10, 9, tzinfo=NY)
    appt = appointment(patient, start, offsets=[2])

    by_channel = {r.channel: r.send_at for r in reminders.plan_appointment_reminders(appt)}

    expected = datetime.datetime(2026, 6, 9, 20, 50, tzinfo=NY)
    assert by_channel == {
        Channel.EMAIL: expected,
        Channel.SMS: expected,
        Channel.IN_APP: start - datetime.timedelta(hours=2),
    }


@time_machine.travel(datetime.datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False)
def test_daytime_quiet_hours(patient):
    in_ny(patient)
    set_prefs(patient.user, quiet_hours_start=datetime.time(12), quiet_hours_end=datetime.time(14))
    appt = appointment(patient, datetime.datetime(2026, 6, 10, 15, tzinfo=NY), offsets=[2, 48])

    email = sorted(r.send_at for r in reminders.plan_appointment_reminders(appt) if r.channel == Channel.EMAIL)

    # 48 h before is 15:00 two days before (outside); 2 h before is 13:00 (inside) -> 11:50.
    assert [local(t) for t in email] == [
        datetime.datetime(2026, 6, 8, 15, tzinfo=NY),
        datetime.datetime(2026, 6, 10, 11, 50, tzinfo=NY),
    ]


@time_machine.travel(datetime.datetime(2026, 6, 10, 3, 30, tzinfo=UTC), tick=False)  # 23:30 in New York
def test_send_now_messages_wait_out_quiet_hours_or_drop_the_loud_channels(patient):
    in_ny(patient)
    set_prefs(
        patient.user,
        sms_enabled=True,
        sms_phone="+16175550123",
        quiet_hours_start=datetime.time(21),
        quiet_hours_end=datetime.time(8),
    )
    start = datetime.datetime(2026, 6, 10, 14, tzinfo=NY)
    entry = WaitlistEntry.objects.create(
        patient=patient,
        psychiatrist=patient.primary_psychiatrist,
        appointment_type=AppointmentTypeFactory(),
        wanted_before=start + datetime.timedelta(days=10),
        status=WaitlistEntry.Status.OFFERED,
        offer_start=start,
        offer_end=start + datetime.timedelta(minutes=30),
        offer_expires_at=datetime.datetime(2026, 6, 10, 10, tzinfo=NY),
    )

    by_channel = {r.channel: r.send_at for r in reminders.notify_waitlist_offer(entry)}

    morning = datetime.datetime(2026, 6, 10, 8, tzinfo=NY)
    assert by_channel == {Channel.IN_APP: timezone.now(), Channel.EMAIL: morning, Channel.SMS: morning}

    # An offer that lapses before quiet hours end goes in the portal only.
    entry.offer_expires_at = datetime.datetime(2026, 6, 10, 7, tzinfo=NY)
    entry.save()
    assert {r.channel for r in reminders.notify_waitlist_offer(entry)} == {Channel.IN_APP}


# DST: a 48 h reminder for a 10:00 visit fires at 10:00 local two days before, whichever side
# of America/New_York's 2026 changes (Mar 8 spring forward, Nov 1 fall back) each falls on.
DST_CASES = [
    # frozen "now", appointment (local), expected send (UTC)
    ("2026-03-01", datetime.datetime(2026, 3, 9, 10, tzinfo=NY), datetime.datetime(2026, 3, 7, 15, tzinfo=UTC)),
    ("2026-03-01", datetime.datetime(2026, 3, 10, 10, tzinfo=NY), datetime.datetime(2026, 3, 8, 14, tzinfo=UTC)),
    ("2026-10-25", datetime.datetime(2026, 11, 2, 10, tzinfo=NY), datetime.datetime(2026, 10, 31, 14, tzinfo=UTC)),
    ("2026-10-25", datetime.datetime(2026, 11, 3, 10, tzinfo=NY), datetime.datetime(2026, 11, 1, 15, tzinfo=UTC)),
]


@pytest.mark.parametrize(("today", "visit", "expected"), DST_CASES)
def test_dst_reminder_fires_at_the_same_local_time(patient, worker, today, visit, expected):
    in_ny(patient)
    with time_machine.travel(datetime.datetime.fromisoformat(today).replace(tzinfo=UTC), tick=False):
        appt = appointment(patient, visit, offsets=[48])
        email = next(r for r in reminders.plan_appointment_reminders(appt) if r.channel == Channel.EMAIL)
    assert email.send_at == expected
    assert (local(email.send_at).date(), local(email.send_at).time()) == (
        visit.date() - datetime.timedelta(days=2),
        datetime.time(10),
    )

    with time_machine.travel(expected - datetime.timedelta(seconds=1), tick=False):
        assert worker() == {}
    with time_machine.travel(expected, tick=False):
        assert worker()[str(email.pk)] == Status.SENT
    assert len(mail.outbox) == 1


@time_machine.travel(datetime.datetime(2026, 3, 1, 12, tzinfo=UTC), tick=False)
def test_quiet_hours_across_the_spring_forward_night(patient):
    in_ny(patient)
    set_prefs(patient.user, quiet_hours_start=datetime.time(22), quiet_hours_end=datetime.time(8))
    appt = appointment(patient, datetime.datetime(2026, 3, 9, 9, tzinfo=NY), offsets=[2])

    by_channel = {r.channel: r.send_at for r in reminders.plan_appointment_reminders(appt)}

    assert by_channel[Channel.EMAIL] == datetime.datetime(2026, 3, 8, 21, 50, tzinfo=NY)  # EDT, the new offset
    assert by_channel[Channel.EMAIL] == datetime.datetime(2026, 3, 9, 1, 50, tzinfo=UTC)
    assert by_channel[Channel.IN_APP] == datetime.datetime(2026, 3, 9, 11, tzinfo=UTC)


def test_cancel_for_appointment_keeps_cancellation_notices(patient, clinic_admin):
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=7))
    reminders.plan_appointment_reminders(appt)
    appt.status = Appointment.Status.CANCELLED
    appt.save()
    notice = reminders.notify_staff(appt, Kind.APPOINTMENT_CANCELLED)

    assert reminders.cancel_for_appointment(appt) == 4

    assert set(rows(kind=Kind.APPOINTMENT_REMINDER).values_list("status", flat=True)) == {Status.CANCELLED}
    assert set(rows(pk__in=[r.pk for r in notice]).values_list("status", flat=True)) == {Status.PENDING}


def test_staff_notices_go_to_the_psychiatrist_and_active_admins_without_texts(patient, psychiatrist, clinic_admin):
    ClinicAdminFactory(is_active=False)
    set_prefs(psychiatrist, sms_enabled=True, sms_phone="+16175550123")
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=7))

    created = reminders.notify_staff(appt, Kind.APPOINTMENT_BOOKED)

    assert {(r.recipient, r.channel) for r in created} == {
        (psychiatrist, Channel.IN_APP),
        (psychiatrist, Channel.EMAIL),
        (clinic_admin, Channel.IN_APP),
        (clinic_admin, Channel.EMAIL),
    }
    assert all(r.send_at <= timezone.now() < r.expires_at for r in created)
    assert reminders.notify_staff(appt, Kind.APPOINTMENT_BOOKED) == []


def test_no_show_follow_up_goes_once_while_still_missed(patient, worker):
    appt = appointment(patient, timezone.now() - datetime.timedelta(hours=2), offsets=[])
    appt.status = Appointment.Status.NO_SHOW
    appt.save()

    created = reminders.plan_no_show_follow_up(appt)

    assert {r.channel for r in created} == {Channel.EMAIL, Channel.IN_APP}
    assert all(abs(r.expires_at - r.send_at - datetime.timedelta(days=7)).total_seconds() < 1 for r in created)
    assert reminders.plan_no_show_follow_up(appt) == []
    assert set(worker().values()) == {Status.SENT}
    assert mail.outbox[0].subject == "We missed you"


def test_prescription_review_nudges_once_per_window(patient, psychiatrist):
    today = timezone.localdate()
    overdue = factories.start(patient, psychiatrist, start_date=today - datetime.timedelta(days=120))
    recent = factories.start(patient, psychiatrist, drug="bupropion", dose="150", strength="150", start_date=today)

    created = reviews.plan_prescription_reviews()

    assert [(r.recipient, r.channel, r.subject.count) for r in created] == [(psychiatrist, Channel.IN_APP, 1)]
    assert [n.prescription_id for n in created[0].subject.nudges.all()] == [overdue.pk]
    assert reviews.plan_prescription_reviews() == []
    with time_machine.travel(timezone.now() + datetime.timedelta(days=31)):
        # A new 30-day window nudges the overdue one again; the bupropion start is now 4+ weeks old
        # (TITRATE_RX_REVIEW_WEEKS) with no visit since, so it is due for its first review too:
        # both in one notice.
        (again,) = reviews.plan_prescription_reviews()
        assert again.subject.count == 2
        assert sorted(n.prescription_id for n in again.subject.nudges.all()) == sorted([overdue.pk, recent.pk])


def test_a_recent_visit_note_means_no_review_nudge(patient, psychiatrist):
    factories.start(patient, psychiatrist, start_date=timezone.localdate() - datetime.timedelta(days=120))
    factories.visit(patient, psychiatrist, visit_at=timezone.now() - datetime.timedelta(days=20))

    assert reviews.plan_prescription_reviews() == []


# -- Dispatch and send ------------------------------------------------------------------------


def due_reminder(patient, channel=Channel.EMAIL, **prefs) -> Notification:
    """One planned reminder row on ``channel``, made due now (as if its time had come)."""
    if prefs:
        set_prefs(patient.user, **prefs)
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=3), offsets=[24])
    row = next(r for r in reminders.plan_appointment_reminders(appt) if r.channel == channel)
    rows(pk=row.pk).update(send_at=timezone.now() - datetime.timedelta(seconds=1))
    row.refresh_from_db()
    return row


def test_dispatch_claims_due_rows_once_per_lease(patient, worker, monkeypatch):
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=3), offsets=[24, 48])
    planned = reminders.plan_appointment_reminders(appt)
    due = planned[0]
    rows(pk=due.pk).update(send_at=timezone.now() - datetime.timedelta(minutes=1))
    monkeypatch.setattr(sending, "send", lambda pk: None)  # leave it ENQUEUED

    worker()

    assert worker.published == [str(due.pk)]
    due.refresh_from_db()
    assert due.status == Status.ENQUEUED
    assert due.lease_expires_at > timezone.now()
    assert worker() == {}  # held by its lease
    with time_machine.travel(due.lease_expires_at + datetime.timedelta(seconds=1)):
        worker()
    assert worker.published == [str(due.pk)]  # a stale lease is claimed again


def test_send_delivers_each_channel_and_records_it(patient, worker, sms):
    set_prefs(patient.user, sms_enabled=True, sms_phone="+16175550123")
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=3), offsets=[24])
    planned = reminders.plan_appointment_reminders(appt)
    rows(appt).update(send_at=timezone.now())

    assert set(worker().values()) == {Status.SENT}

    sent = {r.channel: r for r in rows(appt)}
    email = mail.outbox[0]
    assert email.to == [patient.user.email]
    assert email.extra_headers["Message-ID"] == sent[Channel.EMAIL].provider_message_id
    assert str(sent[Channel.EMAIL].pk) in email.extra_headers["Message-ID"]
    assert [m["reference"] for m in sms.sent] == [str(sent[Channel.SMS].pk)]
    assert all(r.sent_at and r.attempts == 1 and r.lease_expires_at is None for r in sent.values())
    audit_rows = AuditEvent.objects.filter(object_type="clinic.Notification", patient=patient)
    assert audit_rows.count() == len(planned) == 3
    # A redelivered message for a SENT row does nothing.
    assert sending.send(sent[Channel.SMS].pk) == Status.SENT
    assert len(sms.sent) == 1


def test_a_cancelled_appointment_sends_nothing_even_when_enqueued(patient, worker, sms, monkeypatch, clinic_admin):
    from appointments import booking

    row = due_reminder(patient, Channel.SMS, sms_enabled=True, sms_phone="+16175550123")
    real_send = sending.send
    monkeypatch.setattr(sending, "send", lambda pk: None)
    worker()
    assert rows(pk=row.pk, status=Status.ENQUEUED).exists()

    booking.cancel(row.subject, by=clinic_admin, reason="Patient called")

    assert real_send(row.pk) == Status.CANCELLED
    assert sms.sent == []


def test_status_change_without_cancelling_rows_is_still_caught_at_send_time(patient, worker):
    row = due_reminder(patient)
    Appointment.objects.filter(pk=row.subject_id).update(status=Appointment.Status.CANCELLED)

    assert worker() == {str(row.pk): Status.CANCELLED}
    assert mail.outbox == []


def test_a_moved_appointment_voids_reminders_for_the_old_time(patient, worker):
    row = due_reminder(patient)
    moved = datetime.timedelta(days=1)
    Appointment.objects.filter(pk=row.subject_id).update(start=F("start") + moved, end=F("end") + moved)

    assert worker() == {str(row.pk): Status.CANCELLED}


def test_nothing_is_sent_after_expiry(patient, worker, monkeypatch):
    pending = due_reminder(patient, Channel.EMAIL)
    enqueued = rows(pending.subject, channel=Channel.IN_APP).get()
    rows(pk=enqueued.pk).update(
        status=Status.ENQUEUED, send_at=timezone.now(), lease_expires_at=timezone.now() + datetime.timedelta(days=9)
    )

    with time_machine.travel(pending.expires_at + datetime.timedelta(minutes=1)):
        assert worker() == {}  # the expired pending row is closed, not published
        # A message for the enqueued row that arrives late (workers were down) is dropped too.
        assert sending.send(enqueued.pk) == Status.SKIPPED

    pending.refresh_from_db()
    assert pending.status == Status.SKIPPED
    assert mail.outbox == []


def test_a_channel_turned_off_after_planning_is_skipped(patient, worker):
    row = due_reminder(patient, Channel.EMAIL)
    set_prefs(patient.user, email_enabled=False)

    assert worker() == {str(row.pk): Status.SKIPPED}
    assert mail.outbox == []


def test_transient_errors_back_off_then_fail(patient, worker, sms, settings):
    settings.TITRATE_NOTIFICATION_MAX_ATTEMPTS = 3
    settings.TITRATE_NOTIFICATION_RETRY_BASE_SECONDS = 60
    row = due_reminder(patient, Channel.SMS, sms_enabled=True, sms_phone="+16175550123")
    sms.fail_with = channels.TransientError("Twilio HTTP 503")

    with time_machine.travel(timezone.now(), tick=False) as clock:
        for attempt in (1, 2):
            assert worker() == {str(row.pk): Status.PENDING}
            row.refresh_from_db()
            assert row.attempts == attempt
            delay = (row.send_at - timezone.now()).total_seconds()
            base = 60 * 2 ** (attempt - 1)
            assert base / 2 <= delay <= base  # half fixed, half jitter
            assert worker() == {}  # not due again until the backoff has passed
            clock.move_to(row.send_at)
        assert worker() == {str(row.pk): Status.FAILED}
    row.refresh_from_db()
    assert row.attempts == 3
    assert row.last_error == "Gave up after 3 attempts: Twilio HTTP 503"
    assert sms.sent == []


def test_unexpected_backend_errors_are_retried_not_lost(patient, worker, sms):
    row = due_reminder(patient, Channel.SMS, sms_enabled=True, sms_phone="+16175550123")
    sms.fail_with = RuntimeError("bug")

    assert worker() == {str(row.pk): Status.PENDING}


def test_permanent_errors_fail_at_once(patient, worker, sms):
    row = due_reminder(patient, Channel.SMS, sms_enabled=True, sms_phone="+16175550123")
    sms.fail_with = channels.PermanentError("Twilio HTTP 400: error 21211: Invalid 'To' Phone Number: +16175550123")

    assert worker() == {str(row.pk): Status.FAILED}
    row.refresh_from_db()
    assert row.attempts == 1
    assert row.last_error == "Twilio HTTP 400: error 21211: Invalid 'To' Phone Number: [number]"


def test_retry_delay_grows_and_is_capped():
    assert datetime.timedelta(seconds=30) <= sending.retry_delay(1) <= datetime.timedelta(seconds=60)
    assert datetime.timedelta(seconds=240) <= sending.retry_delay(4) <= datetime.timedelta(seconds=480)
    assert sending.retry_delay(30) <= sending.RETRY_CAP


def stale_sending(row: Notification) -> None:
    """As if a worker died after marking the row SENDING (maybe after the provider call)."""
    rows(pk=row.pk).update(
        status=Status.SENDING, attempts=1, lease_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )


def test_crash_window_policy_sms_becomes_unknown(patient, worker, sms):
    row = due_reminder(patient, Channel.SMS, sms_enabled=True, sms_phone="+16175550123")
    stale_sending(row)

    assert worker() == {}  # not re-sent: at most once
    row.refresh_from_db()
    assert row.status == Status.UNKNOWN
    assert "provider" in row.last_error
    assert sms.sent == []
    # A redelivered broker message for the row reaches the same verdict.
    stale_sending(row)
    assert sending.send(row.pk) == Status.UNKNOWN


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.IN_APP])
def test_crash_window_policy_email_and_in_app_are_sent_again(patient, worker, channel):
    row = due_reminder(patient, channel)
    stale_sending(row)

    assert worker() == {str(row.pk): Status.SENT}
    row.refresh_from_db()
    assert row.attempts == 2
    assert len(mail.outbox) == (1 if channel == Channel.EMAIL else 0)


def test_a_row_another_worker_is_sending_is_left_alone(patient):
    row = due_reminder(patient)
    rows(pk=row.pk).update(status=Status.SENDING, lease_expires_at=timezone.now() + datetime.timedelta(minutes=1))

    assert sending.send(row.pk) == Status.SENDING
    assert mail.outbox == []


def test_a_crash_looping_email_gives_up(patient, worker, settings):
    settings.TITRATE_NOTIFICATION_MAX_ATTEMPTS = 1
    row = due_reminder(patient)
    stale_sending(row)

    assert worker() == {}
    row.refresh_from_db()
    assert row.status == Status.FAILED


def test_scrub_removes_numbers_and_addresses_but_keeps_codes():
    text = "Twilio HTTP 400: error 21211 for +1 (617) 555-0123 and alice@example.org"
    assert sending.scrub(text) == "Twilio HTTP 400: error 21211 for [number] and [email]"


# -- Channels ---------------------------------------------------------------------------------


TWILIO_URL = "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"


@pytest.fixture
def twilio(settings):
    settings.TWILIO_ACCOUNT_SID = "AC123"
    settings.TWILIO_AUTH_TOKEN = "secret"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    return channels.TwilioSMSBackend()


@responses.activate
def test_twilio_sends_with_our_reference(twilio):
    responses.post(TWILIO_URL, json={"sid": "SM42", "status": "queued"}, status=201)

    assert twilio.send(to="+16175550123", body="Hello", reference="ref-1") == "SM42"

    request = responses.calls[0].request
    assert request.headers["Idempotency-Key"] == "ref-1"
    assert request.headers["Authorization"].startswith("Basic ")
    assert "To=%2B16175550123" in request.body and "From=%2B15005550006" in request.body


@responses.activate
@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ({"status": 400, "json": {"code": 21211, "message": "Invalid 'To' Phone Number"}}, channels.PermanentError),
        ({"status": 401, "json": {"code": 20003, "message": "Authenticate"}}, channels.PermanentError),
        ({"status": 429, "json": {"code": 20429, "message": "Too Many Requests"}}, channels.TransientError),
        ({"status": 500, "body": "oops"}, channels.TransientError),
        ({"status": 503, "body": "down"}, channels.TransientError),
        ({"body": requests.ConnectTimeout("connect timeout")}, channels.TransientError),
        (
            {"body": requests.ConnectionError(MaxRetryError(None, "/", NewConnectionError(None, "refused")))},
            channels.TransientError,
        ),
        ({"body": requests.ReadTimeout("read timeout")}, channels.AmbiguousError),  # Twilio may have it
        ({"body": requests.ConnectionError(ProtocolError("Connection aborted."))}, channels.AmbiguousError),
    ],
)
def test_twilio_errors_are_classified(twilio, reply, error):
    responses.post(TWILIO_URL, **reply)

    with pytest.raises(error) as excinfo:
        twilio.send(to="+16175550123", body="Hello", reference="ref-1")

    assert "6175550123" not in str(excinfo.value)


def test_console_sms_masks_the_number(caplog):
    with caplog.at_level(logging.INFO, logger="notifications.channels"):
        channels.ConsoleSMSBackend().send(to="+16175550123", body="Appointment Tue", reference="r1")

    assert "•••123" in caplog.text and "Appointment Tue" in caplog.text
    assert "6175550123" not in caplog.text


def test_file_sms_appends_json_lines(settings, tmp_path):
    settings.TITRATE_SMS_FILE_DIR = str(tmp_path)
    backend = channels.FileSMSBackend()
    backend.send(to="+16175550123", body="one", reference="r1")
    backend.send(to="+16175550123", body="two", reference="r2")

    lines = (tmp_path / "messages.jsonl").read_text().splitlines()
    assert [json.loads(line)["reference"] for line in lines] == ["r1", "r2"]


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (smtplib.SMTPResponseException(550, b"mailbox unavailable"), channels.PermanentError),
        (smtplib.SMTPResponseException(451, b"try later"), channels.TransientError),
        (smtplib.SMTPRecipientsRefused({}), channels.PermanentError),
        (ConnectionRefusedError(), channels.TransientError),
        (TimeoutError(), channels.TransientError),
    ],
)
def test_email_errors_are_classified(monkeypatch, raised, error):
    def fail(self, fail_silently=False):
        raise raised

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", fail)
    with pytest.raises(error):
        channels.send_email(to="a@example.org", subject="s", text="t", html="", reference="r")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMS_BACKEND": "pigeon"}, "SMS_BACKEND='pigeon' is not one of console, file, http, twilio"),
        ({"SMS_BACKEND": "http"}, "SMS_HTTP_URL must be the gateway's address when SMS_BACKEND=http"),
        (
            {"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": "AC1"},
            "TWILIO_AUTH_TOKEN must be set when SMS_BACKEND=twilio",
        ),
        ({"TITRATE_BASE_URL": "ftp://portal"}, "TITRATE_BASE_URL must be the portal's address"),
    ],
)
def test_notification_settings_are_checked_at_start(env, message):
    result = manage("check", env=production_env(**env))

    assert result.returncode == 2
    assert message in result.stderr


# -- Message content: no PHI ------------------------------------------------------------------

MARKER = "ZZPHIZZ"
PHI_WORDS = [MARKER, "sertraline", "Zoloft", "F33", "depressive", "25 mg", "PHQ"]


class Poison:
    """Any attribute of it is PHI: whatever a template reaches for, the marker comes out."""

    def __getattr__(self, name):
        return f"{MARKER}-{name}"

    def __str__(self):
        return MARKER


def all_message_templates() -> list[str]:
    return sorted(str(path.relative_to(TEMPLATES.parent)) for path in TEMPLATES.glob("*/*") if path.parent.name != "_")


def test_every_message_template_ignores_phi_in_its_context():
    safe = {
        "clinic_name": "Titrate clinic",
        "clinic_phone": "(617) 555-0100",
        "when": "Tue 14 Jan at 10:00",
        "offer_until": "Tue 14 Jan at 14:00",
        "details_url": "https://portal.example/my/",
        "portal_url": "https://portal.example/",
        "confirm_url": "https://portal.example/a/x/",
        "cancel_url": "https://portal.example/a/y/",
    }
    poisoned = {
        key: Poison()
        for key in [
            "patient", "user", "recipient", "appointment", "subject", "notification", "row", "entry", "diagnosis",
            "diagnoses", "drug", "medication", "prescription", "dose", "score", "note", "visit", "psychiatrist",
            "name", "object",
        ]
    }  # fmt: skip
    names = all_message_templates()
    assert len(names) >= 20
    for name in names:
        rendered = render_to_string(name, {**poisoned, **safe})
        assert MARKER not in rendered, name


def _start_lithium_and_plan_labs(patient, psychiatrist) -> list[Notification]:
    from medications import monitoring

    factories.start(patient, psychiatrist, drug="lithium", dose="300", strength="300", frequency="bid")
    return monitoring.plan_lab_reminders()


def _raise_and_escalate_alert(patient, psychiatrist) -> list[Notification]:
    """SAFETY_ALERT to the psychiatrist and ALERT_ESCALATED to the clinic admins (patients.alerts)."""
    from patients import alerts

    report = factories.report(patient, symptoms=["seizure"])
    report.other_symptoms = MARKER
    report.save(update_fields=["other_symptoms"])
    alerts.escalate_overdue(now=timezone.now() + datetime.timedelta(hours=2))
    return list(Notification.objects.filter(kind__in=[Kind.SAFETY_ALERT, Kind.ALERT_ESCALATED]))


def test_real_messages_carry_no_phi(patient, psychiatrist, clinic_admin, sms):
    patient.legal_first_name = patient.legal_last_name = patient.preferred_name = MARKER
    patient.save()
    patient.user.first_name = patient.user.last_name = MARKER
    patient.user.save()
    set_prefs(patient.user, sms_enabled=True, sms_phone="+16175550123")
    diagnosis = Diagnosis.objects.create(
        patient=patient, icd10_code="F33.1", description="Major depressive disorder", recorded_by=psychiatrist
    )
    factories.start(
        patient, psychiatrist, start_date=timezone.localdate() - datetime.timedelta(days=120), indication=diagnosis
    )
    factories.visit(
        patient, psychiatrist, visit_at=timezone.now() - datetime.timedelta(days=100), interval_history=MARKER
    )
    appt = appointment(
        patient, timezone.now() + datetime.timedelta(days=5), offsets=[48], type_fields={"name": f"{MARKER} visit"}
    )
    missed = appointment(patient, timezone.now() - datetime.timedelta(days=1), offsets=[], status="no_show")
    entry = WaitlistEntry.objects.create(
        patient=patient,
        psychiatrist=psychiatrist,
        appointment_type=appt.appointment_type,
        wanted_before=appt.start,
        status=WaitlistEntry.Status.OFFERED,
        offer_start=appt.start - datetime.timedelta(days=1),
        offer_end=appt.start - datetime.timedelta(days=1, minutes=-30),
        offer_expires_at=timezone.now() + datetime.timedelta(hours=4),
    )
    planned = (
        reminders.plan_appointment_reminders(appt)
        + reminders.notify_staff(appt, Kind.APPOINTMENT_BOOKED)
        + reminders.notify_staff(appt, Kind.APPOINTMENT_CANCELLED)
        + [row for kind in reminders.PATIENT_NOTICES for row in reminders.notify_patient(appt, kind, by=clinic_admin)]
        + reminders.notify_waitlist_offer(entry)
        + reminders.plan_no_show_follow_up(missed)
        + reviews.plan_prescription_reviews()
        # The PHQ-9 the F33.1 diagnosis calls for (medications.reassessment): QUESTIONNAIRE_DUE rows.
        + [
            row
            for assignment in reassessment.plan_reassessments()
            for row in Notification.objects.filter(patient=assignment.patient, kind=Kind.QUESTIONNAIRE_DUE)
        ]
        # LAB_DUE: the lithium baseline labs (medications.monitoring).
        + _start_lithium_and_plan_labs(patient, psychiatrist)
        + _raise_and_escalate_alert(patient, psychiatrist)
        + _break_glass_notice(patient, clinic_admin)
        + _message_notices(patient, psychiatrist)
        + _summary_shared(patient, psychiatrist)
        + _after_visit_notice(patient, psychiatrist)
        + _refill_and_adherence_notices(patient, psychiatrist)
        + _record_ready(patient)
    )
    assert {r.kind for r in planned} == set(Kind.values)

    for row in planned:
        message = outbox_messages.render_message(row)
        text = f"{message.subject} {message.text} {message.html}"
        assert MARKER not in text
        # Signed tokens in links are random letters: "F33" could turn up in one by chance.
        text = re.sub(r"https?://\S+", "", text)
        for word in PHI_WORDS:
            assert word.lower() not in text.lower(), (row.kind, row.channel, word)
        if row.channel == Channel.IN_APP:
            assert MARKER not in outbox_messages.in_app_text(row)[0]


def _after_visit_notice(patient, psychiatrist) -> list[Notification]:
    """AFTER_VISIT_SUMMARY: a signed note whose line for the patient holds the marker."""
    factories.visit(
        patient, psychiatrist, signed=True, reason_for_patient=MARKER,
        visit_at=timezone.now() - datetime.timedelta(days=1),
    )  # fmt: skip
    return list(Notification.objects.filter(kind=Kind.AFTER_VISIT_SUMMARY))


def _refill_and_adherence_notices(patient, psychiatrist) -> list[Notification]:
    """Issue 20: REFILL_ANSWERED (a refill declined with the marker as the reason) and ADHERENCE_DUE
    (the check-in reminder), for the patient on lithium by now."""
    from medications import adherence, refills
    from medications.models import Prescription

    rx = Prescription.objects.active().filter(patient=patient).first()
    refill = refills.request_refill(patient, rx, pharmacy=f"{MARKER} Pharmacy", days_left=3, by=patient.user)
    refills.decline(refill, by=psychiatrist, reason=MARKER)
    adherence.plan_reminders()
    return list(Notification.objects.filter(kind__in=[Kind.REFILL_ANSWERED, Kind.ADHERENCE_DUE]))


def _record_ready(patient) -> list[Notification]:
    """Issue 23: RECORD_READY, once the patient's record (names, drugs, the marker) is prepared."""
    from records import builders, requests

    builders.prepare(str(requests.request_record(patient, by=patient.user, format="pdf").pk))
    return list(Notification.objects.filter(kind=Kind.RECORD_READY))


def _break_glass_notice(patient, officer) -> list[Notification]:
    from django.contrib.auth.models import Permission

    from patients import break_glass

    officer.user_permissions.add(Permission.objects.get(codename="view_audit_log"))
    break_glass.start(
        user=factories.PsychiatristFactory(), patient=patient, reason_code="crisis", reason=f"{MARKER} crisis in the ER"
    )
    return list(Notification.objects.filter(kind=Kind.BREAK_GLASS_USED))


def _message_notices(patient, psychiatrist) -> list[Notification]:
    """Issue 20: a patient's message about their medicine and the psychiatrist's answer."""
    from medications import messaging

    first = messaging.start_thread(
        patient=patient, author=patient.user, kind="patient", category="medication",
        subject=f"Sertraline for {MARKER}", text=f"{MARKER}: is sertraline making my depression worse?",
    )  # fmt: skip
    messaging.send(first.thread, author=psychiatrist, text="Sertraline takes weeks; keep going.")
    return list(Notification.objects.filter(kind__in=[Kind.MESSAGE_FOR_PATIENT, Kind.MESSAGE_FOR_STAFF]))


def _summary_shared(patient, psychiatrist) -> list[Notification]:
    """The therapist's link email (patients.sharing): the link only, addressed to the contact."""
    from patients import sharing
    from patients.models import CareContact

    contact = CareContact.objects.create(patient=patient, name=f"{MARKER} Therapist", email="t@therapy.example")
    sharing.set_consent(contact, granted=True, by=patient.user)
    sharing.send(contact, by=psychiatrist)
    return list(Notification.objects.filter(kind=Kind.SUMMARY_SHARED))


def test_reminder_text_says_when_in_the_recipients_zone_with_links(patient, settings):
    settings.TITRATE_BASE_URL = "https://portal.example"
    in_ny(patient)
    set_prefs(patient.user, sms_enabled=True, sms_phone="+16175550123")
    start = datetime.datetime(2027, 1, 12, 10, tzinfo=NY)
    with time_machine.travel(start - datetime.timedelta(days=3), tick=False):
        appt = appointment(patient, start, offsets=[48])
        sms_row = next(r for r in reminders.plan_appointment_reminders(appt) if r.channel == Channel.SMS)
        text = outbox_messages.render_message(sms_row).text

    assert "Tue, Jan 12 at 10:00 (your time)" in text
    assert "Confirm: https://portal.example/a/" in text
    assert "Cancel: https://portal.example/a/" in text
    assert "Log in for details" in text


# -- One-click links --------------------------------------------------------------------------


def test_forged_tampered_and_expired_tokens_are_refused_and_change_nothing(client, patient):
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=5))
    good = reminders.action_token(appt, "confirm")
    forged = signing.TimestampSigner(salt="another-salt").sign(f"{appt.pk}.confirm.{int(appt.start.timestamp())}")
    tampered = good.replace(f"{appt.pk}.confirm", f"{appt.pk}.cancel")
    for token in ["not-a-token", forged, tampered, good[:-2] + ("xx" if not good.endswith("xx") else "yy")]:
        for method in (client.get, client.post):
            response = method(reverse("appointment_action", args=[token]))
            assert response.status_code == 400, token
            assert b"Nothing has been changed" in response.content
    with time_machine.travel(timezone.now() + datetime.timedelta(days=31)):
        assert client.post(reverse("appointment_action", args=[good])).status_code == 400
    appt.refresh_from_db()
    assert appt.status == Appointment.Status.SCHEDULED


def test_a_link_for_a_moved_appointment_is_refused(client, patient):
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=5))
    token = reminders.action_token(appt, "confirm")
    moved = datetime.timedelta(hours=1)
    Appointment.objects.filter(pk=appt.pk).update(start=F("start") + moved, end=F("end") + moved)

    assert client.post(reverse("appointment_action", args=[token])).status_code == 400


def test_confirm_link_shows_a_button_then_confirms_on_post(client, patient):
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=5))
    url = reverse("appointment_action", args=[reminders.action_token(appt, "confirm")])

    page = client.get(url)
    appt.refresh_from_db()
    assert page.status_code == 200 and b"Yes, I am coming" in page.content
    assert appt.status == Appointment.Status.SCHEDULED  # a link scanner's GET changes nothing

    done = client.post(url)

    appt.refresh_from_db()
    assert done.status_code == 200 and b"your appointment is confirmed" in done.content
    assert appt.status == Appointment.Status.CONFIRMED
    assert AuditEvent.objects.filter(object_id=str(appt.pk), actor=patient.user, detail__change="confirmed").exists()
    assert b"already confirmed" in client.post(url).content


def test_cancel_link_cancels_before_the_window_and_tells_the_staff(client, patient, clinic_admin):
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=5), type_fields={"cancel_window_hours": 24})
    reminders.plan_appointment_reminders(appt)

    response = client.post(reverse("appointment_action", args=[reminders.action_token(appt, "cancel")]))

    appt.refresh_from_db()
    assert response.status_code == 200 and b"Your appointment is cancelled" in response.content
    assert appt.status == Appointment.Status.CANCELLED
    assert appt.cancelled_by == patient.user
    assert appt.cancel_reason == "Cancelled from reminder link"
    assert not rows(appt, kind=Kind.APPOINTMENT_REMINDER).exclude(status=Status.CANCELLED).exists()
    assert rows(appt, kind=Kind.APPOINTMENT_CANCELLED, recipient=clinic_admin).exists()


def test_cancel_link_inside_the_window_asks_to_call(client, patient):
    appt = appointment(patient, timezone.now() + datetime.timedelta(hours=5), type_fields={"cancel_window_hours": 24})

    response = client.post(reverse("appointment_action", args=[reminders.action_token(appt, "cancel")]))

    appt.refresh_from_db()
    assert response.status_code == 200
    assert b"Please call the clinic to cancel" in response.content
    assert appt.status == Appointment.Status.SCHEDULED


# -- Pages ------------------------------------------------------------------------------------


def in_app(user, text_kind=Kind.APPOINTMENT_REMINDER, subject=None, **fields) -> Notification:
    now = timezone.now()
    fields = {"status": Status.SENT, "sent_at": now, **fields}
    return Notification.objects.create(
        idempotency_key=f"test:{user.pk}:{Notification.objects.count()}",
        kind=text_kind,
        channel=Channel.IN_APP,
        recipient=user,
        subject=subject,
        send_at=now - datetime.timedelta(hours=1),
        expires_at=now + datetime.timedelta(days=1),
        **fields,
    )


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("notifications", {"patient", "psychiatrist", "clinic_admin"}),
        ("reminder_preferences", {"patient"}),
        ("delivery_report", {"clinic_admin"}),
    ],
)
def test_page_access_by_role(client, patient, psychiatrist, clinic_admin, name, allowed):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    for role, user in {"patient": patient.user, "psychiatrist": psychiatrist, "clinic_admin": clinic_admin}.items():
        client.logout()
        log_in(client, user)
        assert client.get(url).status_code == (200 if role in allowed else 403), (name, role)


def test_notifications_page_shows_only_mine_and_marks_them_read(client, patient, patient2):
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=2))
    mine = in_app(patient.user, subject=appt)
    theirs = in_app(patient2.user, subject=appointment(patient2, timezone.now() + datetime.timedelta(days=3)))
    log_in(client, patient.user)

    home = client.get(reverse("patient_home"))
    assert home.context["unread_notification_count"] == 1
    assert b'1<span class="visually-hidden"> unread' in home.content

    page = client.get(reverse("notifications"))

    assert page.status_code == 200
    assert [item["row"] for item in page.context["items"]] == [mine]
    assert b"You have an appointment on" in page.content
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None and theirs.read_at is None
    assert client.get(reverse("patient_home")).context["unread_notification_count"] == 0


def test_badge_count_follows_delivery_through_the_cache(client, patient, worker):
    log_in(client, patient.user)
    assert client.get(reverse("patient_home")).context["unread_notification_count"] == 0
    due_reminder(patient, Channel.IN_APP)

    worker()

    assert cache.get(badge.unread_cache_key(patient.user.pk)) is None
    assert client.get(reverse("patient_home")).context["unread_notification_count"] == 1


def test_preferences_record_consent_and_validate_the_number(client, patient):
    log_in(client, patient.user)
    url = reverse("reminder_preferences")

    bad = client.post(url, {"email_enabled": "on", "sms_enabled": "on", "sms_phone": "12"})
    assert bad.status_code == 200 and "sms_phone" in bad.context["form"].errors
    partial = client.post(url, {"email_enabled": "on", "quiet_hours_start": "21:00"})
    assert "quiet_hours_end" in partial.context["form"].errors
    assert not ConsentRecord.objects.exists()

    ok = client.post(
        url,
        {"sms_enabled": "on", "sms_phone": "(617) 555-0123", "quiet_hours_start": "21:00", "quiet_hours_end": "08:00"},
    )

    assert ok.status_code == 302
    prefs = NotificationPreference.objects.get(user=patient.user)
    assert (prefs.email_enabled, prefs.sms_enabled, prefs.sms_phone) == (False, True, "+16175550123")
    assert prefs.quiet_hours_start == datetime.time(21)
    assert set(ConsentRecord.objects.values_list("channel", "granted", "recorded_by")) == {
        ("email", False, patient.user.pk),
        ("sms", True, patient.user.pk),
    }
    # Saving again without changing a choice records nothing new.
    client.post(url, {"sms_enabled": "on", "sms_phone": "+16175550123"})
    assert ConsentRecord.objects.count() == 2
    page = client.get(url)
    assert page.content.count(b"Turned on") == 1 and page.content.count(b"Turned off") == 1


def test_turning_texts_on_plans_them_for_upcoming_appointments(client, patient):
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=5), offsets=[24])
    reminders.plan_appointment_reminders(appt)
    log_in(client, patient.user)

    client.post(
        reverse("reminder_preferences"), {"email_enabled": "on", "sms_enabled": "on", "sms_phone": "6175550123"}
    )

    assert rows(appt, channel=Channel.SMS).count() == 1


def test_delivery_report_counts_without_names_or_bodies(client, clinic_admin, patient):
    patient.legal_last_name = MARKER
    patient.save()
    appt = appointment(patient, timezone.now() + datetime.timedelta(days=2))
    sent = in_app(patient.user, subject=appt, attempts=2)
    Notification.objects.filter(pk=sent.pk).update(send_at=timezone.now())
    failed = in_app(patient.user, subject=appt, status=Status.FAILED, last_error="Twilio HTTP 400: error 21211")
    Notification.objects.filter(pk=failed.pk).update(send_at=timezone.now())
    unknown = in_app(patient.user, subject=appt, status=Status.UNKNOWN)
    Notification.objects.filter(pk=unknown.pk).update(send_at=timezone.now())
    log_in(client, clinic_admin)
    today = timezone.localdate(timezone=clinic_admin.zone)  # the viewer's day

    page = client.get(reverse("delivery_report"), {"day": today.isoformat()})

    counts = {key: count for key, _, count in page.context["counts"]}
    assert counts["sent"] == 1 and counts["failed"] == 1 and counts["unknown"] == 1 and counts["retried"] == 1
    assert MARKER.encode() not in page.content
    assert b"You have an appointment" not in page.content
    assert b"Patient" in page.content  # the recipient's role
    failed_only = client.get(reverse("delivery_report"), {"day": today.isoformat(), "status": "failed"})
    assert [r.pk for r in failed_only.context["rows"]] == [failed.pk]
    assert b"error 21211" in failed_only.content
    other_day = client.get(reverse("delivery_report"), {"day": "2020-01-01"})
    assert other_day.context["rows"] == [] and other_day.context["total"] == 0
    bad_day = client.get(reverse("delivery_report"), {"day": "yesterday"})
    assert bad_day.status_code == 200 and bad_day.context["day"] == today
