"""Recompute every patient's due entries (medications.due.rebuild): after a bulk load (the bench
generator's COPY, an import) or to check the hourly safety net by hand."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.db import connection

from appointments.models import sync_note_signed
from medications import due


class Command(BaseCommand):
    help = "Recompute the psychiatrist home's precomputed due lists (labs, prescription reviews) for every patient."

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        rows = due.rebuild()
        sync_note_signed()  # the home's "note missing" flag, which a bulk load also skips
        if connection.vendor == "postgresql":
            # Fresh statistics, so the planner sizes a caseload's entries right from the start.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE medications_dueentry")
        self.stdout.write(f"{rows} due entries for all patients in {time.monotonic() - started:.1f} s")
