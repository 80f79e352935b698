"""CSV cells safe to open in a spreadsheet: the audit export and the metrics download use them."""

from __future__ import annotations

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Sheets
# (CSV/formula injection, OWASP): such a cell is written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


class Echo:
    """A file-like object whose write returns the line: csv.writer over it yields rows to stream."""

    def write(self, value):
        return value
