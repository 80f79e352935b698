"""``manage.py check_health``: the /healthz checks for cron or a container's health check, with a
fresh worker ping. Prints one line per check; exit status 1 when any fails (docs/operations.md)."""

from django.core.management.base import BaseCommand, CommandError

from clinic import health


class Command(BaseCommand):
    help = "Run the health checks (database, broker, cache, outbox, beat, safety tasks, worker); exit 1 on any failure."

    def handle(self, *args, **options):
        results = health.run_checks(fresh=True)
        width = max(len(name) for name in results)
        for name, state in results.items():
            self.stdout.write(f"{name:{width}}  {state}")
        failing = [f"{name}: {state}" for name, state in results.items() if state != "ok"]
        if failing:
            raise CommandError("unhealthy: " + "; ".join(failing), returncode=1)
