from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from clinic.schedules import PERIODIC_TASKS


class Command(BaseCommand):
    help = (
        "Load the periodic tasks declared in clinic/schedules.py into django-celery-beat. "
        "Idempotent: existing tasks keep any schedule an admin has tuned unless --reset."
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
            elif reset:
                for field, value in defaults.items():
                    setattr(task, field, value)
                task.enabled = True
                task.save()
                updated += 1
            else:
                kept += 1
        # Tasks removed from the code must not keep firing from the database.
        # Tasks removed from the code must not keep firing from the database
        # (celery.* are Celery's own, e.g. celery.backend_cleanup).
        stale = PeriodicTask.objects.filter(enabled=True).exclude(name__in=PERIODIC_TASKS)
        disabled = 0
        for task in stale.exclude(name__startswith="celery."):
            task.enabled = False
            task.save()  # save(), not update(): beat watches for changes through it
            disabled += 1
        self.stdout.write(f"Periodic tasks: {created} created, {updated} reset, {kept} kept, {disabled} disabled.")
