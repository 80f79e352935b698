"""Escalation of unacknowledged alerts (patients.alerts.escalate_overdue, beat every minute).

An alert nobody on the care team acknowledges within TITRATE_ALERT_ESCALATE_MINUTES (default 60)
is escalated once to the on-call contact: not before the deadline, never after an
acknowledgement, never twice — however many sweeps run, including two at once and a real
Celery worker over Redis.
"""

from __future__ import annotations

import datetime
import threading

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core import mail
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from clinic.celery import app
from clinic.models import Alert, AuditEvent, Notification, NotificationPreference
from clinic.schedules import PERIODIC_TASKS
from notifications import messages as outbox_messages
from notifications import sending
from patients import alerts
from patients.tasks import escalate_alerts
from tests import factories
from tests.factories import PsychiatristFactory
from tests.helpers import manage, production_env, require_service

Kind, Channel = Notification.Kind, Notification.Channel
MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def on_call(db, settings):
    doctor = PsychiatristFactory(first_name="Owen", last_name="Call")
    settings.TITRATE_ON_CALL_EMAIL = doctor.email
    return doctor


def emergency_report(patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="bupropion", dose="150", strength="150")
    return factories.report(patient, symptoms=["seizure"])


def escalated_rows():
    return Notification.objects.filter(kind=Kind.ALERT_ESCALATED)


@pytest.mark.django_db
def test_it_escalates_once_after_the_timeout_and_not_before(patient, psychiatrist, on_call):
    report = emergency_report(patient, psychiatrist)
    alert = Alert.objects.get()
    start = alert.created_at

    with time_machine.travel(start + 59 * MINUTE, tick=False):
        assert alerts.escalate_overdue() == []
    alert.refresh_from_db()
    assert alert.escalated_at is None and not escalated_rows().exists()

    with time_machine.travel(start + 60 * MINUTE, tick=False):
        assert alerts.escalate_overdue() == [alert.pk]
        assert alerts.escalate_overdue() == []  # the sweep runs again: nothing new
    with time_machine.travel(start + 3 * 60 * MINUTE, tick=False):
        assert alerts.escalate_overdue() == []

    alert.refresh_from_db()
    assert alert.escalated_at == start + 60 * MINUTE
    assert alert.escalated_to == on_call
    assert {(r.recipient, r.channel) for r in escalated_rows()} == {(on_call, Channel.IN_APP), (on_call, Channel.EMAIL)}
    assert report.acknowledged_at is None  # escalation does not acknowledge anything
    event = AuditEvent.objects.get(object_type="clinic.Alert", object_id=str(alert.pk), detail__change="escalated")
    assert event.detail == {"change": "escalated", "level": "emergency", "escalated_to": on_call.pk, "notified": 1}


@pytest.mark.django_db
def test_the_timeout_is_a_setting(patient, psychiatrist, on_call, settings):
    settings.TITRATE_ALERT_ESCALATE_MINUTES = 15
    emergency_report(patient, psychiatrist)
    alert = Alert.objects.get()
    with time_machine.travel(alert.created_at + 14 * MINUTE, tick=False):
        assert alerts.escalate_overdue() == []
    with time_machine.travel(alert.created_at + 15 * MINUTE, tick=False):
        assert alerts.escalate_overdue() == [alert.pk]


@pytest.mark.django_db
def test_an_acknowledged_alert_never_escalates(client, patient, psychiatrist, on_call):
    from django.urls import reverse

    from tests.helpers import log_in

    emergency_report(patient, psychiatrist)
    alert = Alert.objects.get()
    with time_machine.travel(alert.created_at + 30 * MINUTE, tick=False):
        log_in(client, psychiatrist)
        response = client.post(reverse("alert_acknowledge", args=[alert.pk]))
        assert response.status_code == 302 and response["Location"] == reverse("alerts")
    with time_machine.travel(alert.created_at + 2 * 60 * MINUTE, tick=False):
        assert alerts.escalate_overdue() == []
        assert alerts.escalate(alert.pk) is False
    alert.refresh_from_db()
    assert alert.escalated_at is None and not escalated_rows().exists()


@pytest.mark.django_db
def test_acknowledging_the_report_also_stops_escalation(patient, psychiatrist, on_call):
    from medications import side_effects

    report = emergency_report(patient, psychiatrist)
    side_effects.acknowledge(report, actor=psychiatrist)
    with time_machine.travel(timezone.now() + 2 * 60 * MINUTE, tick=False):
        assert alerts.escalate_overdue() == []


@pytest.mark.django_db
def test_without_an_on_call_user_clinic_admins_are_told(patient, psychiatrist, clinic_admin, settings):
    settings.TITRATE_ON_CALL_EMAIL = ""
    emergency_report(patient, psychiatrist)
    alert = Alert.objects.get()
    with time_machine.travel(alert.created_at + 61 * MINUTE, tick=False):
        assert alerts.escalate_overdue() == [alert.pk]
    alert.refresh_from_db()
    assert alert.escalated_at is not None and alert.escalated_to is None
    assert {r.recipient for r in escalated_rows()} == {clinic_admin}


@pytest.mark.django_db
def test_an_on_call_email_naming_nobody_falls_back_to_clinic_admins(patient, psychiatrist, clinic_admin, settings):
    settings.TITRATE_ON_CALL_EMAIL = "nobody@example.org"
    emergency_report(patient, psychiatrist)
    with time_machine.travel(timezone.now() + 61 * MINUTE, tick=False):
        alerts.escalate_overdue()
    assert {r.recipient for r in escalated_rows()} == {clinic_admin}


@pytest.mark.django_db
def test_escalation_messages_are_phi_free_and_go_to_the_on_call_phone(patient, psychiatrist, on_call):
    NotificationPreference.objects.create(user=on_call, sms_enabled=True, sms_phone="+16175550199")
    emergency_report(patient, psychiatrist)
    with time_machine.travel(timezone.now() + 61 * MINUTE, tick=False):
        alerts.escalate_overdue()
        rows = list(escalated_rows())
        assert {r.channel for r in rows} == {Channel.IN_APP, Channel.EMAIL, Channel.SMS}
        texts = [outbox_messages.render_message(r).subject + outbox_messages.render_message(r).text for r in rows]
        texts += [outbox_messages.render_message(r).html for r in rows]
        for row in rows:
            assert sending.send(row.pk) == "sent"
    assert len(mail.outbox) == 1
    for text in texts + [mail.outbox[0].body]:
        for word in ("bupropion", "seizure", patient.legal_first_name, patient.legal_last_name, patient.mrn, "Okafor"):
            assert word.lower() not in text.lower(), (word, text)
    assert any("/alerts/on-call/" in text for text in texts)


@pytest.mark.django_db
def test_the_sweep_is_a_periodic_task_every_minute():
    entry = PERIODIC_TASKS["Escalate safety alerts"]
    assert entry["task"] == "clinic.tasks.escalate_alerts"
    assert entry["every_seconds"] == 60


def test_escalation_settings_are_parsed_strictly():
    result = manage("check", env=production_env(TITRATE_ALERT_ESCALATE_MINUTES="an hour"))
    assert result.returncode == 2
    assert "TITRATE_ALERT_ESCALATE_MINUTES='an hour' is not a whole number" in result.stderr

    result = manage("check", env=production_env(TITRATE_ALERT_ESCALATE_MINUTES="0"))
    assert result.returncode == 2 and "must be at least 1" in result.stderr

    result = manage("check", env=production_env(TITRATE_ON_CALL_EMAIL="dr-on-call"))
    assert result.returncode == 2 and "TITRATE_ON_CALL_EMAIL must be" in result.stderr


# -- Under real conditions: PostgreSQL row locks, a real worker over Redis ----------------------------


@pytest.fixture
def postgres():
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_escalate_each_alert_once(postgres, patient, psychiatrist, on_call):
    call_command("load_formulary")
    factories.start(patient, psychiatrist, drug="bupropion", dose="150", strength="150")
    for _ in range(20):
        factories.report(patient, symptoms=["seizure"])
    Alert.objects.update(escalate_after=timezone.now() - MINUTE)
    barrier = threading.Barrier(2)
    escalated: dict[str, list[int]] = {}

    def sweep(name):
        try:
            barrier.wait()
            escalated[name] = alerts.escalate_overdue()
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    both = escalated["a"] + escalated["b"]
    assert sorted(both) == sorted(Alert.objects.values_list("pk", flat=True))  # each exactly once
    assert escalated_rows().count() == 20 * 2  # in-app + email for each, never doubled
    assert AuditEvent.objects.filter(object_type="clinic.Alert", detail__change="escalated").count() == 20


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_escalates_once_after_the_timeout_not_before_and_not_after_acknowledgement(
    postgres, redis_url, patient, psychiatrist, on_call
):
    call_command("load_formulary")
    emergency_report(patient, psychiatrist)
    acknowledged_report = factories.report(patient, symptoms=["rash_blisters_fever"])
    overdue, acknowledged = Alert.objects.order_by("pk")
    assert acknowledged.source == acknowledged_report
    start = overdue.created_at

    def close_connections(**kwargs):
        connections.close_all()

    def sweep_on_worker() -> int:
        # What beat sends every minute; the result is kept for this call only, to read the count.
        return escalate_alerts.apply_async(ignore_result=False).get(timeout=20)

    task_postrun.connect(close_connections, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            with time_machine.travel(start + 59 * MINUTE):
                assert sweep_on_worker() == 0
                alerts.acknowledge(acknowledged, actor=psychiatrist)
            with time_machine.travel(start + 61 * MINUTE):
                assert sweep_on_worker() == 1
                assert sweep_on_worker() == 0  # beat fires again: nothing new
    finally:
        task_postrun.disconnect(close_connections)

    overdue.refresh_from_db()
    acknowledged.refresh_from_db()
    assert overdue.escalated_to == on_call and overdue.escalated_at >= start + 60 * MINUTE
    assert acknowledged.escalated_at is None
    assert escalated_rows().count() == 2  # in-app + email to the on-call doctor, once
