"""Outside medications: what a patient takes that this clinic did not prescribe (another prescriber,
over the counter, a supplement), recorded by a clinician so the prescribing checks see it.

A typed name is coded to a formulary drug only when it *is* that drug: its generic name, an
unambiguous brand, a declared alias (medications/data/interaction_rules.json) or either with a salt
or release-form word after it ("sertraline hydrochloride", "Seroquel XR"), ignoring case and
punctuation. Anything else is never mapped silently: :func:`match_name` offers close names for the
clinician to pick, or the name is kept as typed, uncoded, and every check result says it was not
checked (medications.safety.CheckResult.not_checked).

:func:`match_name` is the one place the typed name meets the formulary, so a shared resolver can
replace it whole. Each write saves and writes its audit row in one transaction.
"""

from __future__ import annotations

import datetime
import difflib
import re
from dataclasses import dataclass, field
from functools import cache

from django.db import transaction
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEvent, User
from medications import formulary, safety
from medications.models import Medication, OutsideMedication
from patients.models import Patient

# Words after a name that say which salt or release form, never which drug.
SALT_AND_RELEASE_WORDS = frozenset({
    "hcl", "hydrochloride", "hydrobromide", "sodium", "potassium", "carbonate", "citrate", "mesylate", "maleate",
    "fumarate", "succinate", "tartrate", "besylate", "sulfate", "oxalate", "er", "xr", "xl", "sr", "cr", "ir",
    "la", "dr", "odt",
})  # fmt: skip
MAX_SUGGESTIONS = 4
# difflib's ratio a name must reach to be offered: near-typos ("sertralin", "Seroquil") are; names
# that only share letters ("metformin" ~ "Motrin", 0.67) are not, since each offer invites a pick.
SIMILAR_ENOUGH = 0.75


def normalise(text: str) -> str:
    """Case and punctuation do not count: "St. John's Wort" and "st johns wort" are one name."""
    text = text.casefold().replace("’", "").replace("'", "")
    return re.sub(r"[^a-z0-9/]+", " ", text).strip()


@dataclass(frozen=True)
class Suggestion:
    generic_name: str
    label: str  # "Celexa (citalopram)": the generic is always named


@dataclass(frozen=True)
class NameMatch:
    generic_name: str | None  # the formulary drug this name is exactly, or None
    suggestions: tuple[Suggestion, ...] = field(default=())


@dataclass(frozen=True)
class _Index:
    exact: dict[str, str]  # normalised name -> generic name
    labels: dict[str, tuple[str, str]]  # normalised name -> (generic name, label), for suggestions


@cache
def _index() -> _Index:
    entries = formulary.read_entries()
    brands: dict[str, set[str]] = {}
    for entry in entries:
        for brand in entry.get("brand_names") or ():
            brands.setdefault(normalise(brand), set()).add(entry["generic_name"])
    # A brand two generics share would be a guess: it is only a suggestion.
    exact = {key: next(iter(names)) for key, names in brands.items() if len(names) == 1}
    exact.update({normalise(alias): generic for alias, generic in safety.book().data.get("aliases", {}).items()})
    exact.update({normalise(entry["generic_name"]): entry["generic_name"] for entry in entries})
    labels = {normalise(entry["generic_name"]): (entry["generic_name"], entry["generic_name"]) for entry in entries}
    for entry in entries:
        for brand in entry.get("brand_names") or ():
            labels.setdefault(normalise(brand), (entry["generic_name"], f"{brand} ({entry['generic_name']})"))
    return _Index(exact=exact, labels=labels)


def match_name(typed: str) -> NameMatch:
    """The formulary drug ``typed`` names exactly, else close names to offer (never chosen for the user)."""
    index = _index()
    words = normalise(typed).split()
    while words:
        generic = index.exact.get(" ".join(words))
        if generic:
            return NameMatch(generic)
        if words[-1] not in SALT_AND_RELEASE_WORDS:
            break
        words = words[:-1]
    key = normalise(typed)
    close = difflib.get_close_matches(key, list(index.labels), n=MAX_SUGGESTIONS * 2, cutoff=SIMILAR_ENOUGH)
    # A name typed with its strength ("ibuprofen 400") starts with the drug's name.
    close += [k for k in index.labels if key and len(k) >= 4 and key.startswith(k + " ") and k not in close]
    suggestions: list[Suggestion] = []
    for k in close:
        generic, label = index.labels[k]
        if all(s.generic_name != generic for s in suggestions):
            suggestions.append(Suggestion(generic, label))
    return NameMatch(None, tuple(suggestions[:MAX_SUGGESTIONS]))


def formulary_row(generic_name: str | None) -> Medication | None:
    return Medication.objects.filter(generic_name=generic_name).first() if generic_name else None


@transaction.atomic
def record(patient: Patient, outside: OutsideMedication, *, by: User, request=None) -> OutsideMedication:
    """``outside`` is unsaved (a form's instance); its ``medication`` is the clinician's pick among
    the suggestions, or None to keep the name uncoded. A name that is exactly a formulary drug is
    coded to that drug whatever was picked, so the checks can never miss it."""
    exact = formulary_row(match_name(outside.name).generic_name)
    if exact is not None:
        outside.medication = exact
    outside.name = outside.name.strip()
    outside.patient = patient
    outside.recorded_by = by
    outside.save()
    audit.record(
        AuditEvent.Action.CREATE,
        request=request,
        actor=by,
        patient=patient,
        obj=outside,
        detail={"coded": outside.medication_id is not None},
    )
    return outside


@transaction.atomic
def stop(outside: OutsideMedication, *, by: User, on: datetime.date | None = None, request=None) -> OutsideMedication:
    """No longer taken (or entered in error): kept in the record, no longer checked against."""
    outside.stopped_on = on or timezone.localdate()
    outside.stopped_by = by
    outside.save(update_fields=["stopped_on", "stopped_by"])
    audit.record(
        AuditEvent.Action.UPDATE,
        request=request,
        actor=by,
        patient=outside.patient,
        obj=outside,
        detail={"change": "stopped"},
    )
    return outside


@transaction.atomic
def code_known_names() -> int:
    """After the formulary grows (``manage.py load_formulary``): each active uncoded outside
    medication whose name is now exactly a formulary drug is coded to it, so the checks see it from
    now on; one system audit row each. Returns how many were coded."""
    coded = []
    for row in OutsideMedication.objects.active().filter(medication__isnull=True).select_for_update():
        medication = formulary_row(match_name(row.name).generic_name)
        if medication is not None:
            row.medication = medication
            row.save(update_fields=["medication"])
            coded.append((row.patient_id, row, {"change": "coded", "by": "formulary_update"}))
    audit.record_many(AuditEvent.Action.UPDATE, coded)
    return len(coded)
