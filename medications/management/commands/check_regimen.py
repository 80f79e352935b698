"""``manage.py check_regimen DRUG[:MG_PER_DAY] ... [--json]``: the prescribing checks for pharmacists.

Reads the formulary file, not the database, so it answers the same on any machine. Names are generic
or brand names, case-insensitive ("st john's wort", "Wellbutrin XL", "LITHIUM:900"). An unknown name or
a bad dose exits with status 2 and says why (with the closest names for a typo).

Contract (--json): {"alerts": [{"kind", "severity", "drugs", "message"}]} with kind one of
interaction, duplicate_therapy, max_dose, allergy, washout.
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from medications import formulary, safety

# Words that name a salt or a release form, not a different drug ("bupropion hcl", "lithium carbonate").
TRAILING_NOISE = {
    "hcl", "hydrochloride", "hydrobromide", "sodium", "potassium", "carbonate", "citrate", "mesylate", "maleate",
    "fumarate", "succinate", "tartrate", "besylate", "sulfate", "oxalate", "er", "xr", "xl", "sr", "cr", "ir", "la",
    "dr", "odt", "tablet", "tablets", "capsule", "capsules", "oral",
}  # fmt: skip
EXIT_BAD_INPUT = 2


def normalise(name: str) -> str:
    text = name.lower().replace("’", "").replace("'", "").replace("st.", "st ")
    return re.sub(r"[^a-z0-9/]+", " ", text).strip()


class Formulary:
    def __init__(self):
        self.drugs = {entry["generic_name"]: safety.Drug.from_entry(entry) for entry in formulary.read_entries()}
        self.index: dict[str, str] = {}
        brands: dict[str, set[str]] = {}
        for drug in self.drugs.values():
            for brand in drug.brand_names:
                brands.setdefault(normalise(brand), set()).add(drug.name)
        # A brand shared by two generics would be a guess: leave it out (the generic name still works).
        self.index.update({key: next(iter(names)) for key, names in brands.items() if len(names) == 1})
        for alias, generic in safety.book().data.get("aliases", {}).items():
            self.index[normalise(alias)] = generic
        self.index.update({normalise(name): name for name in self.drugs})
        self.display = {normalise(name): name for name in self.drugs}
        for drug in self.drugs.values():
            for brand in drug.brand_names:
                self.display.setdefault(normalise(brand), f"{brand} ({drug.name})")

    def resolve(self, raw: str) -> safety.Drug | None:
        key = normalise(raw)
        words = key.split()
        while words:
            generic = self.index.get(" ".join(words))
            if generic:
                return self.drugs[generic]
            if words[-1] not in TRAILING_NOISE:
                break
            words = words[:-1]
        return None

    def closest(self, raw: str) -> list[str]:
        keys = difflib.get_close_matches(normalise(raw), list(self.display), n=5, cutoff=0.6)
        seen: list[str] = []
        for key in keys:
            if self.display[key] not in seen:
                seen.append(self.display[key])
        return seen[:3]


def parse_mg(raw: str, name: str) -> Decimal:
    text = raw.strip().lower()
    text = re.sub(r"\s*mg(\s*/\s*(day|d))?$", "", text)
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value <= 0:
        raise CommandError(
            f'Bad dose "{raw}" for {name}: give mg per day as a number above 0, e.g. {name}:50.',
            returncode=EXIT_BAD_INPUT,
        )
    return value


class Command(BaseCommand):
    help = "Check a regimen for interactions, duplicate therapy, dose caps, allergies and washout. DRUG[:MG_PER_DAY]."

    def add_arguments(self, parser):
        parser.add_argument("regimen", nargs="+", metavar="DRUG[:MG_PER_DAY]")
        parser.add_argument("--json", action="store_true", help="Print {'alerts': [...]} as JSON.")
        parser.add_argument("--age", type=int, help="Patient age in years (age-reduced caps, e.g. citalopram).")
        parser.add_argument(
            "--allergy", action="append", default=[], metavar="SUBSTANCE_OR_CLASS", help="A recorded allergy."
        )
        parser.add_argument(
            "--stopped",
            action="append",
            default=[],
            metavar="DRUG:DAYS_AGO",
            help="A drug stopped DAYS_AGO days ago (washout checks).",
        )

    def handle(self, *args, **options):
        book = Formulary()
        items = [self._item(book, spec) for spec in options["regimen"]]
        context = None
        if options["age"] is not None or options["allergy"] or options["stopped"]:
            today = timezone.localdate()
            context = safety.Context(
                today=today,
                age=options["age"],
                allergies=tuple(
                    safety.AllergyInfo(substance=text, drug_class=text, severity="moderate")
                    for text in options["allergy"]
                ),
                stopped=tuple(self._stopped(book, spec, today) for spec in options["stopped"]),
            )
        alerts = [a for a in safety.check_regimen(items, context=context) if a.kind in safety.CONTRACT_KINDS]
        if options["json"]:
            self.stdout.write(json.dumps({"alerts": [a.as_contract() for a in alerts]}, ensure_ascii=False))
            return
        self._table(items, alerts)

    def _drug(self, book: Formulary, name: str) -> safety.Drug:
        name = name.strip()
        drug = book.resolve(name) if name else None
        if drug is None:
            near = book.closest(name)
            hint = f" Closest matches: {', '.join(near)}." if near else " No close match in the formulary."
            raise CommandError(f'Unknown drug "{name}".{hint}', returncode=EXIT_BAD_INPUT)
        return drug

    def _item(self, book: Formulary, spec: str) -> safety.Item:
        name, colon, mg = spec.rpartition(":") if ":" in spec else (spec, "", "")
        drug = self._drug(book, name)
        return safety.Item(drug=drug, mg_per_day=parse_mg(mg, drug.name) if colon else None)

    def _stopped(self, book: Formulary, spec: str, today: datetime.date) -> safety.StoppedDrug:
        name, _, days = spec.rpartition(":")
        if not name or not days.strip().isdigit():
            raise CommandError(
                f'Bad --stopped "{spec}": use DRUG:DAYS_AGO, e.g. fluoxetine:10.', returncode=EXIT_BAD_INPUT
            )
        drug = self._drug(book, name)
        return safety.StoppedDrug(drug=drug, stopped_on=today - datetime.timedelta(days=int(days)))

    def _table(self, items, alerts) -> None:
        regimen = ", ".join(
            f"{i.name}{f' {i.mg_per_day.normalize():f} mg/day' if i.mg_per_day is not None else ''}" for i in items
        )
        if not alerts:
            self.stdout.write(f"No alerts for: {regimen}")
            return
        self.stdout.write(f"{len(alerts)} alert(s) for: {regimen}\n")
        rows = [(a.severity.upper(), a.kind, " + ".join(a.drugs), a.as_contract()["message"]) for a in alerts]
        widths = [
            max(len(header), *(len(r[i]) for r in rows)) for i, header in enumerate(("SEVERITY", "KIND", "DRUGS"))
        ]
        header = ("SEVERITY", "KIND", "DRUGS", "MESSAGE")
        self.stdout.write("  ".join(h.ljust(w) for h, w in zip(header, [*widths, 0], strict=True)).rstrip())
        for row in rows:
            self.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, [*widths, 0], strict=True)).rstrip())
