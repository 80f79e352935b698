"""The reviewed formulary data files, loaded into the database, and the one name resolver.

``formulary.json`` holds the psychotropics and the drugs their interaction rules name;
``comedications.json`` holds the rest of a usual medicine cabinet (the most-prescribed non-psychiatric
drugs, each with the class tags the interaction rules read). Both are loaded by :func:`load` (the data
migrations and ``manage.py load_formulary``) into the same ``Medication`` table.

:func:`names` is the one resolver of typed drug names, used by ``check_regimen``, the triage engine
and the portal: a name resolves only by an exact generic name, brand, declared alias or a salt/release
word after one of those ("bupropion hcl", "Seroquel XR") — never by similarity. Suggestions for an
unknown name say when a suggestion is a known look-alike/sound-alike of what was typed (ISMP list,
``confused_names.json``).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
DATA_FILE = DATA_DIR / "formulary.json"
COMEDICATIONS_FILE = DATA_DIR / "comedications.json"
CONFUSED_NAMES_FILE = DATA_DIR / "confused_names.json"

# Co-medication entries set no dose and carry no patient education yet: the full schema's defaults.
NOT_SET = "Not set here: dose per the prescriber and the product label for its indication."
_COMEDICATION_DEFAULTS = {
    "is_psychotropic": False,
    "rxnorm_cui": None,
    "rxnorm_verified": False,
    "usual_start_mg_per_day": None,
    "usual_start_text": NOT_SET,
    "max_mg_per_day": None,
    "max_text": NOT_SET,
    "dea_schedule": "",
    "boxed_warning": "",
    "monitoring_profiles": [],
    "taper_required": False,
    "taper_note": "",
    "safety_flags": "",
    "education": {"purpose": "", "onset": "", "common_side_effects": "", "report_at_once": "", "stopping": ""},
}


def _comedication(entry: dict) -> dict:
    return {**_COMEDICATION_DEFAULTS, **entry}


def read_entries(path: Path | None = None) -> list[dict]:
    """Every formulary entry in the full schema: formulary.json, then comedications.json (or one file)."""
    if path is not None:
        entries = json.loads(path.read_text(encoding="utf-8"))["medications"]
        return [_comedication(e) for e in entries] if path == COMEDICATIONS_FILE else entries
    return read_entries(DATA_FILE) + read_entries(COMEDICATIONS_FILE)


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


# Generic names given up for a clearer one: (old, new). A data migration renames the database row
# (medications/migrations/0018), and the old name stays an alias so that typed names keep resolving.
RENAMED = (("selegiline transdermal", "selegiline"),)


def load(medication_model, path: Path | None = None) -> tuple[int, int]:
    """Create or update every entry by generic name. Returns (created, updated).

    Data migrations pass their historical model: values for fields it does not have yet (added by a
    later migration, which loads them then) are left out."""
    created = updated = 0
    fields = {field.name for field in medication_model._meta.get_fields()}
    for old, new in RENAMED:
        # Prescriptions and allergies point at the row: rename it rather than create a second one.
        if not medication_model.objects.filter(generic_name=new).exists():
            medication_model.objects.filter(generic_name=old).update(generic_name=new)
    for entry in read_entries(path):
        values = {name: value for name, value in row_values(entry).items() if name in fields}
        _, was_created = medication_model.objects.update_or_create(generic_name=entry["generic_name"], defaults=values)
        created += was_created
        updated += not was_created
    return created, updated


# -- Names ----------------------------------------------------------------------------------------

# Words that name a salt, a release form or a dosage form, not a different drug ("bupropion hcl",
# "lithium carbonate", "Seroquel XR"). Stripped only from the end, one at a time, and only until an
# exact name matches. Words that change the product (decanoate, pamoate, palmitate, injection,
# patch, long-acting) are deliberately absent: they name separate entries or separate products.
SALT_AND_FORM_WORDS = frozenset({
    "hcl", "hydrochloride", "dihydrochloride", "hbr", "hydrobromide", "sodium", "potassium", "calcium", "magnesium",
    "carbonate", "citrate", "mesylate", "dimesylate", "maleate", "fumarate", "succinate", "tartrate", "bitartrate",
    "besylate", "sulfate", "sulphate", "oxalate", "acetate", "phosphate", "bromide", "monohydrate", "dihydrate",
    "trihydrate", "er", "xr", "xl", "sr", "cr", "ir", "la", "dr", "cd", "xrt", "odt", "extended", "delayed",
    "immediate", "controlled", "release", "tablet", "tablets", "tab", "tabs", "capsule", "capsules", "cap", "caps",
    "oral", "mg", "mcg",
})  # fmt: skip
_NUMBER = re.compile(r"^\d+(?:\.\d+)?(?:mg|mcg)?$")


def normalise(name: str) -> str:
    """Lower case, no punctuation but '/', single spaces: "St. John's Wort" -> "st johns wort"."""
    text = name.lower().replace("’", "").replace("'", "").replace("®", "").replace("™", "").replace("st.", "st ")
    return re.sub(r"[^a-z0-9/]+", " ", text).replace(" / ", "/").strip()


def _variants(key: str) -> set[str]:
    """A combination typed with spaces or "and" is the same name: "olanzapine samidorphan"."""
    return {key, key.replace("/", " "), key.replace("/", " and ")}


@dataclass(frozen=True)
class Confusion:
    """A name the typed one is known to be confused with (ISMP)."""

    name: str
    generic: str  # the formulary generic it names, or ""
    mark: str

    @property
    def label(self) -> str:
        return (
            f"{self.name} ({self.generic})"
            if self.generic and normalise(self.generic) != normalise(self.name)
            else self.name
        )


@dataclass(frozen=True)
class Resolution:
    generic_name: str
    typed: str
    # How the name matched: "generic", "brand", "alias"; with " + salt/form words" when some were dropped.
    via: str
    # The name as typed, capitalised as the data file writes it ("Celebrex"), and the generic.
    label: str
    confusions: tuple[Confusion, ...] = ()

    def lasa_warning(self) -> str:
        """One sentence, or "" when the typed name is on no confused-names pair."""
        if not self.confusions:
            return ""
        partners = ", ".join(c.label for c in self.confusions)
        return (
            f"Look-alike/sound-alike: {self.label} is on the ISMP List of Confused Drug Names with {partners}. "
            f"Check that {self.label} is the drug meant."
        )


@dataclass(frozen=True)
class Suggestion:
    label: str
    generic_name: str
    # The typed name it is a known confused pair of (ISMP), or "".
    confused_with: str = ""

    def __str__(self) -> str:
        if not self.confused_with:
            return self.label
        return f"{self.label} [look-alike/sound-alike of {self.confused_with} (ISMP): not necessarily what was meant]"


class NameIndex:
    def __init__(self, entries: list[dict], confused: dict):
        self.generics = {entry["generic_name"] for entry in entries}
        self.index: dict[str, str] = {}
        self.kind: dict[str, str] = {}
        self.shown: dict[str, str] = {}  # key -> the spelling the data file uses
        spellings: dict[str, set[str]] = {}
        written: dict[str, str] = {}
        for entry in entries:
            generic = entry["generic_name"]
            for brand in entry.get("brand_names") or ():
                for key in _variants(normalise(brand)):
                    spellings.setdefault(key, set()).add(generic)
                    written.setdefault(key, brand)
        # A brand shared by two generics would be a guess: leave it out (the generic name still works).
        for key, generics in spellings.items():
            if len(generics) == 1:
                self.index[key], self.kind[key], self.shown[key] = next(iter(generics)), "brand", written[key]
        aliases = {alias: entry["generic_name"] for entry in entries for alias in entry.get("aliases") or ()}
        aliases.update({old: new for old, new in RENAMED})
        for alias, generic in aliases.items():
            if generic not in self.generics:
                raise ValueError(f"Alias {alias!r} names {generic!r}, which is not in the formulary")
            for key in _variants(normalise(alias)):
                self.index[key], self.kind[key], self.shown[key] = generic, "alias", alias
        for generic in self.generics:
            for key in _variants(normalise(generic)):
                self.index[key], self.kind[key], self.shown[key] = generic, "generic", generic
        # ISMP pairs, both ways round, by normalised name.
        self.confused: dict[str, list[tuple[str, str]]] = {}
        for pair in confused["pairs"]:
            first, second, mark = pair["names"][0], pair["names"][1], pair["mark"]
            self.confused.setdefault(normalise(first), []).append((second, mark))
            self.confused.setdefault(normalise(second), []).append((first, mark))

    def _lookup(self, raw: str) -> tuple[str, bool] | None:
        words = normalise(raw).split()
        dropped = False
        while words:
            key = " ".join(words)
            if key in self.index:
                return key, dropped
            if words[-1] not in SALT_AND_FORM_WORDS and not _NUMBER.match(words[-1]):
                return None
            words, dropped = words[:-1], True
        return None

    def resolve(self, raw: str) -> Resolution | None:
        found = self._lookup(raw)
        if found is None:
            return None
        key, dropped = found
        generic = self.index[key]
        shown = self.shown[key]
        label = shown if self.kind[key] == "generic" else f"{shown} ({generic})"
        return Resolution(
            generic_name=generic,
            typed=raw,
            via=self.kind[key] + (" + salt/form words" if dropped else ""),
            label=label,
            confusions=self.confusions_of(key, generic),
        )

    def confusions_of(self, key: str, generic: str) -> tuple[Confusion, ...]:
        """ISMP partners of the name typed and of its generic name (not of its other brands: a
        warning about Celexa is not shown to someone who typed citalopram)."""
        out: list[Confusion] = []
        for name in dict.fromkeys([key, normalise(generic)]):
            for partner, mark in self.confused.get(name, ()):
                partner_generic = self.index.get(normalise(partner), "")
                if partner_generic == generic:
                    continue  # the same drug under another name (Wellbutrin SR / XL)
                confusion = Confusion(name=partner, generic=partner_generic, mark=mark)
                if confusion not in out:
                    out.append(confusion)
        return tuple(out)

    def label_for(self, key: str) -> str:
        generic = self.index[key]
        return generic if self.kind[key] == "generic" else f"{self.shown[key]} ({generic})"

    def suggest(self, raw: str, n: int = 3, cutoff: float = 0.6) -> list[Suggestion]:
        """The closest names for a typo (difflib ratio ≥ ``cutoff``). A suggestion that is a known
        confused pair of the typed name (or of a name the typed one is close to) says so: it is never
        offered as a plain match."""
        typed = normalise(raw)
        keys = difflib.get_close_matches(typed, list(self.index), n=8, cutoff=cutoff)
        out: list[Suggestion] = []
        seen: set[str] = set()
        for key in keys:
            label = self.label_for(key)
            if label in seen:
                continue
            seen.add(label)
            out.append(
                Suggestion(label=label, generic_name=self.index[key], confused_with=self._confused_with(typed, key))
            )
            if len(out) == n:
                break
        return out

    def _confused_with(self, typed: str, key: str) -> str:
        generic = self.index[key]
        for name in dict.fromkeys([key, normalise(generic)]):
            for partner, _mark in self.confused.get(name, ()):
                partner_key = normalise(partner)
                # Celexa is offered for "celecoxb": its pair Celebrex is celecoxib, close to what was typed.
                for candidate in (partner_key, normalise(self.index.get(partner_key, ""))):
                    if candidate and difflib.SequenceMatcher(None, typed, candidate).ratio() >= 0.75:
                        return partner
        return ""


@cache
def names() -> NameIndex:
    return NameIndex(read_entries(), json.loads(CONFUSED_NAMES_FILE.read_text(encoding="utf-8")))
