"""Walk the audit hash chain in id order and report the first broken row.

Exit status 0 with "OK" and the row count when the chain is intact; 1 naming the first
row whose hash does not match its fields (hash mismatch) or whose prev_hash does not
match the row before it (chain gap: a row removed, inserted or reordered).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from clinic.audit import GENESIS, chain_hash
from clinic.models import AuditEvent

CHUNK = 2000


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exit 1 at the first broken row."

    def handle(self, *args, **options) -> None:
        expected_prev, count = GENESIS, 0
        for event in AuditEvent.objects.order_by("id").iterator(chunk_size=CHUNK):
            if event.prev_hash != expected_prev:
                raise CommandError(
                    f"Audit chain broken at row {event.pk}: chain gap "
                    "(prev_hash does not match the previous row's row_hash).",
                    returncode=1,
                )
            if event.row_hash != chain_hash(event):
                raise CommandError(
                    f"Audit chain broken at row {event.pk}: hash mismatch (the row was changed after it was written).",
                    returncode=1,
                )
            expected_prev, count = event.row_hash, count + 1
        self.stdout.write(f"OK: {count} audit rows verified; head {expected_prev}")
