from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from clinic import audit
from clinic.models import AuditEvent
from clinic.schedules import PERIODIC_TASKS, SAFETY_TASKS


def interval_seconds(task: PeriodicTask) -> float | None:
    if task.interval_id is None:
        return None
    return task.interval.schedule.run_every.total_seconds()


def safety_drift(task: PeriodicTask, spec: dict) -> list[str]:
    """What an admin (or a direct database write) changed that a safety task may not have: it is
    off, runs another task, or runs less often than declared (more often is allowed)."""
    drift = []
    if not task.enabled:
        drift.append("enabled")
    if task.task != spec["task"]:
        drift.append("task")
    seconds = interval_seconds(task)
    if task.crontab_id or task.solar_id or task.clocked_id or seconds is None or seconds > spec["every_seconds"]:
        drift.append("schedule")
    if task.one_off or task.expires or task.expire_seconds:
        drift.append("expiry")
    return drift


class Command(BaseCommand):
    help = (
        "Load the periodic tasks declared in clinic/schedules.py into django-celery-beat. "
        "Idempotent: existing tasks keep any schedule an admin has tuned unless --reset. "
        "Safety tasks (clinic/schedules.py) are always put back if found disabled, changed or slowed "
        "down, each with an audit row."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Overwrite admin changes with the declared schedules.")

    @transaction.atomic
    def handle(self, *args, reset: bool = False, **options):
        created = updated = kept = 0
        for name, spec in PERIODIC_TASKS.items():
            defaults = {"task": spec["task"], "description": spec.get("description", "")}
            if "crontab" in spec:
                schedule, _ = CrontabSchedule.objects.get_or_create(timezone="UTC", **spec["crontab"])
                defaults.update(crontab=schedule, interval=None)
            else:
                schedule, _ = IntervalSchedule.objects.get_or_create(
                    every=spec["every_seconds"], period=IntervalSchedule.SECONDS
                )
                defaults.update(interval=schedule, crontab=None)
            task = PeriodicTask.objects.filter(name=name).first()
            if task is None:
                PeriodicTask.objects.create(name=name, **defaults)
                created += 1
            elif reset or (name in SAFETY_TASKS and (drift := safety_drift(task, spec))):
                if not reset:
                    # A safety task must run: put it back, and record that someone had changed it.
                    audit.record(
                        AuditEvent.Action.UPDATE,
                        obj=task,
                        detail={"task": name, "restored": drift, "by": "sync_periodic_tasks"},
                    )
                    self.stderr.write(f"Safety task {name!r} restored ({', '.join(drift)}).")
                for field, value in defaults.items():
                    setattr(task, field, value)
                task.enabled = True
                task.one_off, task.expires, task.expire_seconds = False, None, None
                task.solar, task.clocked = None, None
                task.save()
                updated += 1
            else:
                kept += 1
        # Tasks removed from the code must not keep firing from the database
        # (celery.* are Celery's own, e.g. celery.backend_cleanup).
        stale = PeriodicTask.objects.filter(enabled=True).exclude(name__in=PERIODIC_TASKS)
        disabled = 0
        for task in stale.exclude(name__startswith="celery."):
            task.enabled = False
            task.save()  # save(), not update(): beat watches for changes through it
            disabled += 1
        self.stdout.write(f"Periodic tasks: {created} created, {updated} reset, {kept} kept, {disabled} disabled.")
