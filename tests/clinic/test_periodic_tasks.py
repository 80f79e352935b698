from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from clinic.models import AuditEvent
from clinic.schedules import PERIODIC_TASKS, SAFETY_TASKS
from tests.clinic.test_audit_per_view import superuser  # noqa: F401  (the fixture)
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def test_sync_loads_every_declared_task_once():
    call_command("sync_periodic_tasks")
    call_command("sync_periodic_tasks")

    tasks = PeriodicTask.objects.filter(name__in=PERIODIC_TASKS)
    assert tasks.count() == len(PERIODIC_TASKS)
    sessions = tasks.get(name="Clear expired sessions")
    assert sessions.task == "clinic.tasks.clear_expired_sessions"
    assert (sessions.crontab.minute, sessions.crontab.hour) == ("17", "3")


def test_sync_keeps_what_an_admin_tuned_unless_reset():
    call_command("sync_periodic_tasks")
    task = PeriodicTask.objects.get(name="Clear expired sessions")
    task.crontab = CrontabSchedule.objects.create(minute="45", hour="4", timezone="UTC")
    task.save()

    call_command("sync_periodic_tasks")
    assert PeriodicTask.objects.get(pk=task.pk).crontab.hour == "4"

    call_command("sync_periodic_tasks", "--reset")
    assert PeriodicTask.objects.get(pk=task.pk).crontab.hour == "3"


def test_sync_disables_tasks_no_longer_declared():
    schedule = CrontabSchedule.objects.create(minute="0", hour="1", timezone="UTC")
    PeriodicTask.objects.create(name="Old job", task="clinic.tasks.gone", crontab=schedule)

    call_command("sync_periodic_tasks")

    assert PeriodicTask.objects.get(name="Old job").enabled is False


# --- Safety tasks (clinic.schedules.SAFETY_TASKS): never off, never slower, restored and audited.


def safety_rows():
    return AuditEvent.objects.filter(object_type="django_celery_beat.PeriodicTask").order_by("id")


def test_sync_re_enables_a_disabled_safety_task_and_audits_it():
    call_command("sync_periodic_tasks")
    task = PeriodicTask.objects.get(name="Escalate safety alerts")
    task.enabled = False
    task.save()

    call_command("sync_periodic_tasks", stderr=io.StringIO())

    task.refresh_from_db()
    assert task.enabled is True
    [row] = safety_rows()
    assert (row.action, row.actor, row.patient, row.object_id) == (AuditEvent.Action.UPDATE, None, None, str(task.pk))
    assert row.detail == {"task": "Escalate safety alerts", "restored": ["enabled"], "by": "sync_periodic_tasks"}

    call_command("sync_periodic_tasks")  # nothing left to restore: no second row
    assert safety_rows().count() == 1


def test_sync_restores_a_slowed_or_retargeted_safety_task_but_keeps_a_faster_one():
    call_command("sync_periodic_tasks")
    hourly, _ = IntervalSchedule.objects.get_or_create(every=3600, period=IntervalSchedule.SECONDS)
    every_10s, _ = IntervalSchedule.objects.get_or_create(every=10, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name="Dispatch notifications").update(interval=hourly, task="clinic.tasks.ping")
    PeriodicTask.objects.filter(name="Beat heartbeat").update(interval=every_10s)

    call_command("sync_periodic_tasks", stderr=io.StringIO())

    dispatch = PeriodicTask.objects.get(name="Dispatch notifications")
    assert (dispatch.task, dispatch.interval.every) == ("clinic.tasks.dispatch_notifications", 60)
    assert PeriodicTask.objects.get(name="Beat heartbeat").interval.every == 10  # faster is allowed
    assert [row.detail["restored"] for row in safety_rows()] == [["task", "schedule"]]


def test_sync_leaves_an_ordinary_task_an_admin_disabled_alone():
    call_command("sync_periodic_tasks")
    PeriodicTask.objects.filter(name="Plan lab reminders").update(enabled=False)

    call_command("sync_periodic_tasks")

    assert PeriodicTask.objects.get(name="Plan lab reminders").enabled is False
    assert safety_rows().count() == 0


def test_every_safety_task_is_a_minute_interval_task():
    assert {"Dispatch notifications", "Escalate safety alerts", "Beat heartbeat"} == SAFETY_TASKS
    for name in SAFETY_TASKS:
        assert PERIODIC_TASKS[name]["every_seconds"] == 60  # Sentry cron monitors need whole minutes


# --- The admin (django-celery-beat's PeriodicTask pages) refuses to switch a safety task off.


def change_form(task, **changes) -> dict:
    data = {
        "name": task.name,
        "regtask": task.task,
        "task": task.task,
        "enabled": "on" if task.enabled else "",
        "description": task.description,
        "interval": task.interval_id or "",
        "crontab": task.crontab_id or "",
        "solar": "",
        "clocked": "",
        "start_time_0": "",
        "start_time_1": "",
        "args": "[]",
        "kwargs": "{}",
        "expires_0": "",
        "expires_1": "",
        "expire_seconds": "",
        "queue": "",
        "exchange": "",
        "routing_key": "",
        "priority": "",
        "headers": "{}",
    }
    if task.one_off:
        data["one_off"] = "on"
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_the_admin_refuses_to_disable_a_safety_task(client, superuser):  # noqa: F811
    call_command("sync_periodic_tasks")
    task = PeriodicTask.objects.get(name="Escalate safety alerts")
    log_in(client, superuser)
    url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])

    response = client.post(url, change_form(task, enabled=None))

    assert response.status_code == 200  # the form again, with the error
    assert "is a safety task: it cannot be disabled." in response.content.decode()
    assert PeriodicTask.objects.get(pk=task.pk).enabled is True


def test_the_admin_refuses_a_slower_interval_but_takes_a_faster_one(client, superuser):  # noqa: F811
    call_command("sync_periodic_tasks")
    task = PeriodicTask.objects.get(name="Dispatch notifications")
    hourly, _ = IntervalSchedule.objects.get_or_create(every=3600, period=IntervalSchedule.SECONDS)
    every_30s, _ = IntervalSchedule.objects.get_or_create(every=30, period=IntervalSchedule.SECONDS)
    log_in(client, superuser)
    url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])

    refused = client.post(url, change_form(task, interval=hourly.pk))
    assert refused.status_code == 200
    assert "must run on an interval of at most 60 seconds" in refused.content.decode()
    assert PeriodicTask.objects.get(pk=task.pk).interval_id == task.interval_id

    taken = client.post(url, change_form(task, interval=every_30s.pk))
    assert taken.status_code == 302
    assert PeriodicTask.objects.get(pk=task.pk).interval_id == every_30s.pk


def test_the_admin_actions_leave_safety_tasks_enabled_and_undeleted(client, superuser):  # noqa: F811
    call_command("sync_periodic_tasks")
    log_in(client, superuser)
    changelist = reverse("admin:django_celery_beat_periodictask_changelist")
    ids = [str(pk) for pk in PeriodicTask.objects.filter(name__in=PERIODIC_TASKS).values_list("pk", flat=True)]

    for action in ("disable_tasks", "toggle_tasks"):
        PeriodicTask.objects.filter(name__in=PERIODIC_TASKS).update(enabled=True)
        response = client.post(changelist, {"action": action, "_selected_action": ids}, follow=True)
        assert "Safety tasks stay enabled" in response.content.decode()
        enabled = set(PeriodicTask.objects.filter(enabled=True).values_list("name", flat=True))
        assert enabled == SAFETY_TASKS, action

    safety = PeriodicTask.objects.get(name="Escalate safety alerts")
    assert (
        client.post(
            reverse("admin:django_celery_beat_periodictask_delete", args=[safety.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    client.post(changelist, {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert set(PeriodicTask.objects.values_list("name", flat=True)) >= SAFETY_TASKS
