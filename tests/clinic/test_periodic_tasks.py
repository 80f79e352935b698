from __future__ import annotations

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from clinic.schedules import PERIODIC_TASKS

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
