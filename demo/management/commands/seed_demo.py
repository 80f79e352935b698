from django.core.management.base import BaseCommand, CommandError

from clinic import first_run
from demo import seed as demo


class Command(BaseCommand):
    help = (
        "Create or refresh the synthetic demo clinic (idempotent). Development only: refused under "
        "production settings (DJANGO_DEBUG off) and on a database holding users or patients that are "
        "not demo rows."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed a development database even though it holds users or patients outside the demo. "
            "Never overrides production settings.",
        )

    def handle(self, *args, force: bool = False, **options):
        refusal = first_run.demo_refusal(force=force)
        if refusal:
            raise CommandError(refusal)
        counts = demo.seed()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo clinic ready: {counts['users']} demo logins, {counts['patients']} demo patients. "
                f"Password for every demo login: {demo.DEMO_PASSWORD}"
            )
        )
