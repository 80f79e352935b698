"""Loading the reviewed formulary data file (medications/data/formulary.json) into the database.

Used by the data migration and by ``manage.py load_formulary`` after the file is edited.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "formulary.json"


def read_entries(path: Path = DATA_FILE) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["medications"]


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def row_values(entry: dict) -> dict:
    education = entry["education"]
    return {
        "brand_names": entry["brand_names"],
        "drug_class": entry["drug_class"],
        "tags": entry["tags"],
        "is_psychotropic": entry["is_psychotropic"],
        "rxnorm_cui": entry["rxnorm_cui"] or "",
        "rxnorm_verified": entry["rxnorm_verified"],
        "forms": entry["forms"],
        "usual_start_mg_per_day": _decimal(entry["usual_start_mg_per_day"]),
        "usual_start_text": entry["usual_start_text"],
        "max_mg_per_day": _decimal(entry["max_mg_per_day"]),
        "max_text": entry["max_text"],
        "hard_max_mg": _decimal(entry["hard_max_mg"]),
        "hard_max_basis": entry["hard_max_basis"],
        "dea_schedule": entry["dea_schedule"],
        "boxed_warning": entry["boxed_warning"],
        "monitoring_profiles": entry["monitoring_profiles"],
        "taper_required": entry["taper_required"],
        "taper_note": entry["taper_note"],
        "safety_flags": entry["safety_flags"],
        "education_purpose": education["purpose"],
        "education_onset": education["onset"],
        "education_common_side_effects": education["common_side_effects"],
        "education_report_at_once": education["report_at_once"],
        "education_stopping": education["stopping"],
        "source": entry["source"],
    }


def load(medication_model, path: Path = DATA_FILE) -> tuple[int, int]:
    """Create or update every entry by generic name. Returns (created, updated).

    Data migrations pass their historical model: values for fields it does not have yet (added by a
    later migration, which loads them then) are left out."""
    created = updated = 0
    fields = {field.name for field in medication_model._meta.get_fields()}
    for entry in read_entries(path):
        values = {name: value for name, value in row_values(entry).items() if name in fields}
        _, was_created = medication_model.objects.update_or_create(generic_name=entry["generic_name"], defaults=values)
        created += was_created
        updated += not was_created
    return created, updated
