from django.core.management.base import BaseCommand, CommandError

from demo import seed as demo


class Command(BaseCommand):
    help = "Create or refresh the synthetic demo clinic (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even though the database has users outside the demo domain.",
        )

    def handle(self, *args, force: bool = False, **options):
        if demo.non_demo_users_exist() and not force:
            raise CommandError(
                f"This database has users outside @{demo.DEMO_DOMAIN}: it looks like real data. "
                "Refusing to add demo accounts with published passwords. Use --force to override."
            )
        counts = demo.seed()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo clinic ready: {counts['users']} demo logins, {counts['patients']} demo patients. "
                f"Password for every demo login: {demo.DEMO_PASSWORD}"
            )
        )
