from django.core.management.base import BaseCommand

from clinic import metrics, metrics_count


class Command(BaseCommand):
    help = (
        "Count the clinic metrics of each past day (the nightly task 'Count clinic metrics'; "
        "docs/metrics.md). The metrics pages add up these days and count only the rest live."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=metrics.MAX_RANGE_DAYS, help="how many days before today (default: %(default)s)"
        )

    def handle(self, *args, days: int, **options):
        if days < 1:
            self.stderr.write("--days must be at least 1.")
            raise SystemExit(2)
        counted = metrics_count.count(days)
        self.stdout.write(f"Counted {counted} days.")
