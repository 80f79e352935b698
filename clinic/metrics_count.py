"""The nightly count of the clinic metrics (issue 24; docs/metrics.md, "The nightly count").

Each past clinic-local day of the last MAX_RANGE_DAYS is counted again every night (the periodic
task "Count clinic metrics"): its figures for the clinic and for each psychiatrist are stored in
MetricsDay and PsychiatristMetricsDay, so a metrics page adds up ~30 stored days and counts only
today live (clinic.metrics.compute). Counting every day again, not only yesterday, is what keeps a
day's figures at most a night old when something changes later (a visit marked no-show the next
morning, a report answered two days after it came).
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from clinic import metrics
from clinic.models import MetricsDay, PsychiatristMetricsDay


def count_day(day: datetime.date) -> None:
    """Count one past day again (five queries), replacing what an earlier count stored."""
    scope = metrics.Scope(first_day=day, last_day=day, now=timezone.now())
    tallies = metrics.day_tallies(scope)
    row = MetricsDay(
        day=day,
        counted_at=scope.now,
        time_zone=scope.zone.key,
        late_cancel_hours=metrics.late_cancel_hours(),
        promise_days=scope.promise_days,
        clinic=tallies.pop(None),
    )
    with transaction.atomic():
        MetricsDay.objects.bulk_create(
            [row],
            update_conflicts=True,
            unique_fields=["day"],
            update_fields=["counted_at", "time_zone", "late_cancel_hours", "promise_days", "clinic"],
        )
        PsychiatristMetricsDay.objects.filter(day=row).delete()
        PsychiatristMetricsDay.objects.bulk_create(
            PsychiatristMetricsDay(day=row, psychiatrist_id=who, figures=figures) for who, figures in tallies.items()
        )


def count(days: int = metrics.MAX_RANGE_DAYS) -> int:
    """Count the last ``days`` days before today (clinic-local), yesterday first (a count cut short
    leaves the most asked-for days fresh), and forget the days before them (a range reaching further
    back is counted live). Each day is its own transaction. Returns the number counted."""
    now = timezone.now()
    today = metrics.Scope(first_day=now.date(), last_day=now.date(), now=now).local_day(now)
    for n in range(1, days + 1):
        count_day(today - datetime.timedelta(days=n))
    MetricsDay.objects.filter(day__lt=today - datetime.timedelta(days=days)).delete()
    return days
