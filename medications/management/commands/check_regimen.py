"""``manage.py check_regimen DRUG[:MG_PER_DAY] ... [--json]``: the prescribing checks for pharmacists.

Reads the formulary files, not the database, so it answers the same on any machine. Names are generic
or brand names, declared aliases and salts, case-insensitive ("st john's wort", "Wellbutrin XL",
"LITHIUM:900", "bupropion hcl"); a name is never matched by similarity. An unknown name or a bad dose
exits with status 2 and says why (with the closest names for a typo, each marked when it is a known
look-alike/sound-alike of what was typed). A typed name on the ISMP confused-names list is named with
its generic and the look-alike warning (on stderr with --json, so stdout stays the contract).

``--condition ICD10`` (repeatable) adds coded diagnoses, so the drug–disease rules run (bupropion with
an eating disorder F50.2, a QT drug with congenital long QT I45.81); their alerts are drug–disease
interactions and are reported with kind "interaction".

Contract (--json): {"alerts": [{"kind", "severity", "drugs", "message"}]} with kind one of
interaction, duplicate_therapy, max_dose, allergy, washout.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from medications import formulary, safety

EXIT_BAD_INPUT = 2
ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.?[0-9A-TV-Z]{1,4})?$", re.IGNORECASE)


class Formulary:
    def __init__(self):
        self.drugs = safety.book().drugs
        self.names = formulary.names()

    def resolve(self, raw: str) -> tuple[safety.Drug, formulary.Resolution] | None:
        found = self.names.resolve(raw)
        return None if found is None else (self.drugs[found.generic_name], found)

    def closest(self, raw: str) -> list[str]:
        return [str(suggestion) for suggestion in self.names.suggest(raw)]


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
            "--condition",
            action="append",
            default=[],
            metavar="ICD10",
            help="A coded diagnosis (ICD-10-CM, e.g. F50.2): drug–disease rules, reported as kind 'interaction'.",
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
        self.resolved: list[formulary.Resolution] = []
        items = [self._item(book, spec) for spec in options["regimen"]]
        conditions = [self._condition(code) for code in options["condition"]]
        context = None
        if options["age"] is not None or options["allergy"] or options["stopped"] or conditions:
            today = timezone.localdate()
            context = safety.Context(
                today=today,
                age=options["age"],
                allergies=tuple(
                    safety.AllergyInfo(substance=text, drug_class=text, severity="moderate")
                    for text in options["allergy"]
                ),
                diagnoses=tuple(safety.DiagnosisInfo(code=code) for code in conditions),
                stopped=tuple(self._stopped(book, spec, today) for spec in options["stopped"]),
            )
        alerts = [as_contract_kind(a) for a in safety.check_regimen(items, context=context)]
        alerts = [a for a in alerts if a.kind in safety.CONTRACT_KINDS]
        notes = self._name_notes()
        if options["json"]:
            for note in notes:
                self.stderr.write(note)
            self.stdout.write(json.dumps({"alerts": [a.as_contract() for a in alerts]}, ensure_ascii=False))
            return
        for note in notes:
            self.stdout.write(note)
        self._table(items, alerts)

    def _name_notes(self) -> list[str]:
        """How each typed name was read ("Celebrex (celecoxib)"), and its look-alike warning."""
        notes: list[str] = []
        for found in dict.fromkeys(self.resolved):
            if found.via != "generic":
                notes.append(f"{found.typed.strip()}: read as {found.label}.")
            if found.confusions:
                notes.append(f"Warning: {found.lasa_warning()}")
        return notes

    def _condition(self, code: str) -> str:
        code = code.strip()
        if not ICD10.match(code):
            raise CommandError(
                f'Bad --condition "{code}": give an ICD-10-CM code, e.g. F50.2 or I45.81.', returncode=EXIT_BAD_INPUT
            )
        return code.upper()

    def _drug(self, book: Formulary, name: str) -> safety.Drug:
        name = name.strip()
        found = book.resolve(name) if name else None
        if found is None:
            near = book.closest(name)
            hint = f" Closest matches: {'; '.join(near)}." if near else " No close match in the formulary."
            raise CommandError(f'Unknown drug "{name}".{hint}', returncode=EXIT_BAD_INPUT)
        drug, resolution = found
        self.resolved.append(resolution)
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


def as_contract_kind(alert: safety.PrescribingAlert) -> safety.PrescribingAlert:
    """A drug–disease alert (kind "condition") is an interaction in the contract's five kinds."""
    if alert.kind != "condition":
        return alert
    return dataclasses.replace(alert, kind="interaction", message=f"Drug–disease interaction: {alert.message}")
