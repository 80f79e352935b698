"""Side-effect checklists tailored to a patient's medication classes (clinical.md §4a), and the
patient-facing medication texts in Spanish (issue 22): the checklist labels and the education,
from medications/data/side_effect_checklists_es.json and education_es.json (sources inside)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "side_effect_checklists.json"
LABELS_ES_FILE = DATA_FILE.with_name("side_effect_checklists_es.json")
EDUCATION_ES_FILE = DATA_FILE.with_name("education_es.json")


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _items_by_code() -> dict[str, dict]:
    data = _data()
    items = {item["code"]: item for item in data["general"]}
    for class_items in data["by_class"].values():
        for item in class_items:
            items.setdefault(item["code"], item)
    return items


def items_for(drug_classes: set[str] | list[str]) -> list[dict]:
    """Class-specific items for the given classes first, then the general ones; no duplicates."""
    data = _data()
    seen: set[str] = set()
    result: list[dict] = []
    for drug_class in sorted(drug_classes):
        for item in data["by_class"].get(drug_class, []):
            if item["code"] not in seen:
                seen.add(item["code"])
                result.append(item)
    for item in data["general"]:
        if item["code"] not in seen:
            seen.add(item["code"])
            result.append(item)
    return result


@lru_cache(maxsize=1)
def _labels_es() -> dict[str, str]:
    return json.loads(LABELS_ES_FILE.read_text(encoding="utf-8"))["labels"]


@lru_cache(maxsize=1)
def _education_es() -> dict[str, dict]:
    return json.loads(EDUCATION_ES_FILE.read_text(encoding="utf-8"))["medications"]


def label_for(code: str, language: str = "en") -> str:
    """The checklist item's label in ``language`` (Spanish where written, else English)."""
    if language == "es" and code in _labels_es():
        return _labels_es()[code]
    item = _items_by_code().get(code)
    return item["label"] if item else code


def localised(items: list[dict], language: str) -> list[dict]:
    """``items`` with their labels in ``language``."""
    if language != "es":
        return items
    return [{**item, "label": label_for(item["code"], language)} for item in items]


def education_es(generic_name: str) -> dict | None:
    """The Spanish patient education for a medicine, with its source, or None if not written yet."""
    return _education_es().get(generic_name)


def is_urgent(code: str) -> bool:
    item = _items_by_code().get(code)
    return bool(item and item.get("urgent"))
