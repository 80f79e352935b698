"""Side-effect checklists tailored to a patient's medication classes (clinical.md §4a)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "side_effect_checklists.json"


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


def label_for(code: str) -> str:
    item = _items_by_code().get(code)
    return item["label"] if item else code


def is_urgent(code: str) -> bool:
    item = _items_by_code().get(code)
    return bool(item and item.get("urgent"))
