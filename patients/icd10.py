"""ICD-10-CM look-ups over the `simple-icd-10-cm` package's bundled code set.

Only billable (leaf) codes are offered for diagnoses; mental and behavioural
F-codes sort first because that is what a psychiatrist codes most.
"""

from __future__ import annotations

import re
from functools import lru_cache

import simple_icd_10_cm as icd

MAX_RESULTS = 25


def normalize(code: str) -> str:
    """'f321' / 'F32.1 ' -> 'F32.1' (with the dot, as clinicians write it)."""
    raw = code.strip().upper().replace(" ", "")
    return icd.add_dot(raw) if icd.is_valid_item(raw) else raw


def is_billable(code: str) -> bool:
    code = normalize(code)
    return icd.is_valid_item(code) and icd.is_leaf(code)


def describe(code: str) -> str:
    return icd.get_description(normalize(code))


@lru_cache(maxsize=1)
def _leaf_index() -> tuple[tuple[str, str, str], ...]:
    """(code, description, lowercase description), F-codes first."""
    # Dotted codes from the package directly: add_dot() per code costs seconds.
    rows = [(code, icd.get_description(code)) for code in icd.get_all_codes(with_dots=True) if icd.is_leaf(code)]
    rows.sort(key=lambda row: (not row[0].startswith("F"), row[0]))
    return tuple((code, desc, desc.lower()) for code, desc in rows)


def search(query: str, limit: int = MAX_RESULTS) -> list[tuple[str, str]]:
    """Billable codes whose code starts with the query, or whose description has every word."""
    query = query.strip()
    if not query:
        return []
    code_like = query.upper().replace(".", "")
    words = [w for w in re.split(r"\W+", query.lower()) if w]
    results = []
    for code, desc, lowered in _leaf_index():
        if code.replace(".", "").startswith(code_like) or (words and all(w in lowered for w in words)):
            results.append((code, desc))
            if len(results) >= limit:
                break
    return results
