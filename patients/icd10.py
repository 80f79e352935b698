"""ICD-10-CM look-ups over the code set in `patients/data/icd10cm.csv.gz`.

Only billable (leaf) codes are offered for diagnoses; mental and behavioural
F-codes sort first because that is what a psychiatrist codes most.

The file is the `simple-icd-10-cm` package's code set (code, billable flag, description),
written by `python -m patients.icd10` with that package installed (requirements-dev). The
package holds the whole classification tree in memory — about 190 MB in every web and worker
process (docs/performance.md, "Memory") — where this lookup needs ~20 MB, loaded on first use.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import re
from array import array
from bisect import bisect_right
from functools import lru_cache
from pathlib import Path

MAX_RESULTS = 25
DATA = Path(__file__).resolve().parent / "data" / "icd10cm.csv.gz"


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, str], frozenset[str]]:
    """Dotted code -> description in the classification's order, and the non-billable codes."""
    codes, groups = {}, set()
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as f:
        for code, leaf, desc in csv.reader(f):
            codes[code] = desc
            if leaf != "1":
                groups.add(code)
    return codes, frozenset(groups)


def _codes() -> dict[str, str]:
    return _load()[0]


def _dotted(raw: str) -> str | None:
    codes = _codes()
    if raw in codes:
        return raw
    if len(raw) >= 4 and (dotted := f"{raw[:3]}.{raw[3:]}") in codes:
        return dotted
    return None


def normalize(code: str) -> str:
    """'f321' / 'F32.1 ' -> 'F32.1' (with the dot, as clinicians write it)."""
    raw = code.strip().upper().replace(" ", "")
    return _dotted(raw) or raw


def is_billable(code: str) -> bool:
    dotted = _dotted(normalize(code))
    return dotted is not None and dotted not in _load()[1]


def describe(code: str) -> str:
    dotted = _dotted(normalize(code))
    if dotted is None:
        raise ValueError(f"{code!r} is not an ICD-10-CM code")
    return _codes()[dotted]


@lru_cache(maxsize=1)
def _leaf_codes() -> tuple[str, ...]:
    """Billable codes, F-codes first (the strings are the dictionary's own: no copy)."""
    groups = _load()[1]
    return tuple(sorted((code for code in _codes() if code not in groups), key=lambda c: (not c.startswith("F"), c)))


@lru_cache(maxsize=1)
def _search_text() -> tuple[str, array]:
    """Lower-case descriptions of the billable codes in `_leaf_codes` order, one a line, and the
    offset where each line starts: str.find over one string is C-speed and stores 1 byte a character."""
    codes = _codes()
    text = "\n".join(codes[code].lower() for code in _leaf_codes()) + "\n"
    starts = array("l", [0])
    starts.extend(i + 1 for i, char in enumerate(text) if char == "\n")
    return text, starts


def _word_matches(words: list[str], limit: int) -> list[int]:
    """The first `limit` line numbers whose description holds every word."""
    text, starts = _search_text()
    rarest = max(words, key=len)
    lines, at = [], text.find(rarest)
    while at != -1 and len(lines) < limit:
        line = bisect_right(starts, at) - 1
        begin, end = starts[line], starts[line + 1] - 1
        if all(text.find(w, begin, end) != -1 for w in words):
            lines.append(line)
        at = text.find(rarest, end)
    return lines


def search(query: str, limit: int = MAX_RESULTS) -> list[tuple[str, str]]:
    """Billable codes whose code starts with the query, or whose description has every word."""
    query = query.strip()
    if not query:
        return []
    code_like = query.upper().replace(".", "")
    words = [w for w in re.split(r"\W+", query.lower()) if w]
    leaves, codes = _leaf_codes(), _codes()
    lines = set(_word_matches(words, limit) if words else [])
    # Every code is a letter then a digit: "FRACTURE" cannot be a code's beginning.
    if len(code_like) < 2 or code_like[1].isdigit():
        prefixed = (i for i, code in enumerate(leaves) if code.replace(".", "").startswith(code_like))
        lines.update(itertools.islice(prefixed, limit))
    return [(leaves[i], codes[leaves[i]]) for i in sorted(lines)[:limit]]


def build(path: Path = DATA) -> int:
    """Write the code set from the `simple-icd-10-cm` package (a dev dependency); returns the count."""
    import simple_icd_10_cm as icd

    codes = icd.get_all_codes(with_dots=True)
    with gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=9) as f:
        writer = csv.writer(f)
        for code in codes:
            writer.writerow([code, 1 if icd.is_leaf(code) else 0, icd.get_description(code)])
    return len(codes)


if __name__ == "__main__":
    print(f"{build()} codes written to {DATA}")
