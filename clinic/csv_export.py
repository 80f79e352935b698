"""CSV files streamed to a spreadsheet: the audit log's export (clinic.privacy_views) and the
practice's exports (records.exports).

A cell a spreadsheet would read as a formula — starting with ``= + - @``, a tab or a carriage
return — is prefixed with an apostrophe (OWASP, "CSV injection"): a name or a note typed as
``=HYPERLINK(...)`` stays text. Numbers are written as numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """csv.writer writes into this and gets the line back, so each row streams as it is made."""

    def write(self, value: str) -> str:
        return value


def lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """The header, then each row, one CSV line at a time (for a StreamingHttpResponse)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])
