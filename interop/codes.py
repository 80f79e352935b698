"""The codes other systems understand: LOINC for questionnaires and lab/vital tests, UCUM units,
RxNorm ingredients (on the formulary rows) and ICD-10-CM (on diagnoses).

Data-driven: ``interop/data/codes.json`` holds every code with the source it was confirmed in. A code
that could not be confirmed is ``null`` there (with why) and is never sent: the resource then carries
the name as text only. :func:`unconfirmed` lists those gaps (tests/interop/test_codes.py prints them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "codes.json"

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


@cache
def data() -> dict:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class TestCode:
    loinc: str | None
    display: str
    ucum: str
    category: str  # "laboratory", "vital-signs" or "exam" (FHIR observation-category)


def test_code(test: str) -> TestCode | None:
    entry = data()["tests"].get(test)
    if entry is None:
        return None
    return TestCode(entry["loinc"], entry["display"], entry["ucum"], entry["category"])


def instrument_codes(instrument: str) -> dict:
    return data()["instruments"].get(instrument, {"items": {}})


def panel_loinc(instrument: str) -> str | None:
    return (instrument_codes(instrument).get("panel") or {}).get("code")


def total_loinc(instrument: str) -> tuple[str | None, str]:
    total = instrument_codes(instrument).get("total") or {}
    return total.get("code"), total.get("display", "")


def item_loinc(instrument: str, key: str) -> str | None:
    return instrument_codes(instrument).get("items", {}).get(key)


def answer_loinc(instrument: str, value) -> str | None:
    """The LOINC answer code (LL358-3) of a 0-3 frequency answer of the PHQ/GAD items."""
    answers = instrument_codes(instrument).get("answers")
    if answers is None or not isinstance(value, int):
        return None
    codes = data()["answers"][answers]["codes"]
    return codes[value] if 0 <= value < len(codes) else None


def rxnorm_coding(medication) -> list[dict]:
    """The RxNorm ingredient coding of a formulary row, only when its RxCUI was confirmed."""
    if medication is None or not medication.rxnorm_verified or not medication.rxnorm_cui:
        return []
    return [{"system": RXNORM, "code": medication.rxnorm_cui, "display": medication.generic_name}]


def unconfirmed() -> list[str]:
    """Every code this project could not confirm, as readable lines (instruments and tests)."""
    lines = []
    for code, entry in data()["instruments"].items():
        for part in ("panel", "total"):
            if not (entry.get(part) or {}).get("code"):
                lines.append(f"instrument {code} {part}: no LOINC ({entry[part]['source']})")
        for key, loinc in entry.get("items", {}).items():
            if loinc is None:
                lines.append(f"instrument {code} item {key}: no LOINC")
    for test, entry in data()["tests"].items():
        if entry["loinc"] is None:
            lines.append(f"test {test}: no LOINC ({entry['source']})")
    return lines


def loinc_check_digit_ok(code: str) -> bool:
    """LOINC's mod-10 check digit (the last digit after the hyphen)."""
    number, _, check = code.partition("-")
    if not number.isdigit() or not check.isdigit():
        return False
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit)
        if position % 2 == 0:
            value *= 2
            value = value - 9 if value > 9 else value
        total += value
    return (10 - total % 10) % 10 == int(check)
