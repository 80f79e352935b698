"""The triage evaluation corpus (tests/triage_corpus/*.jsonl): reading and checking its entries,
running each through ``medications.triage.assess`` and the figures docs/alerts.md publishes.

Sensitivity is the share of dangerous entries (expected urgent or emergency) triaged at or above
their expected level; emergency sensitivity the share of expected-emergency entries triaged
emergency; over-triage the share of expected-routine entries raised to urgent or emergency.

    python -m tests.triage_corpus.figures                 # the Markdown table
    python -m tests.triage_corpus.figures --misses --split dev   # which entries missed or over-triaged
    python -m tests.triage_corpus.figures --write-docs    # rewrite the block in docs/alerts.md
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
ROOT = CORPUS_DIR.parent.parent
DOCS_FILE = ROOT / "docs" / "alerts.md"
DOCS_START = "<!-- corpus-figures:start -->"
DOCS_END = "<!-- corpus-figures:end -->"

LEVELS = ("routine", "urgent", "emergency")
RANK = {level: rank for rank, level in enumerate(LEVELS)}
DANGEROUS_CATEGORIES = (
    "suicide_risk",
    "self_harm",
    "harm_to_others",
    "overdose_ingestion",
    "serotonin_toxicity",
    "nms",
    "lithium_toxicity",
    "sjs_ten",
    "anticonvulsant_rash",
    "agranulocytosis_infection",
    "clozapine_myocarditis",
    "chest_pain_cardiac",
    "angioedema_anaphylaxis",
    "seizure",
    "priapism",
    "acute_dystonia",
    "hypertensive_crisis",
    "qt_syncope",
    "respiratory_depression",
    "hepatotoxicity",
    "pancreatitis",
    "hyperammonaemia",
    "hyponatraemia",
    "mania_switch",
    "psychosis",
    "akathisia_activation",
    "complex_sleep_behaviour",
    "urinary_retention",
    "angle_closure",
    "gi_bleed",
    "hyperglycaemia",
    "sedative_withdrawal",
    "bowel_obstruction",
    "fall_confusion_older_adult",
)
# Pictures §4b grades PROMPT (routine here), and plain everyday reports.
ROUTINE_CATEGORIES = ("tardive_dyskinesia", "pregnancy", "benign")
CATEGORIES = DANGEROUS_CATEGORIES + ROUTINE_CATEGORIES
LANGUAGES = ("en", "es")
SPLITS = ("dev", "holdout")
SEVERITIES = ("mild", "moderate", "severe")
REQUIRED = ("id", "text", "drugs", "expected", "category", "language", "split", "source")
OPTIONAL = ("recent", "severity")
ID_PATTERN = re.compile(r"^(en-med|en-psy|es)-\d{4}$")


@dataclass(frozen=True)
class Entry:
    id: str
    text: str
    drugs: tuple[str, ...]
    expected: str
    category: str
    language: str
    split: str
    source: str
    recent: tuple[str, ...] = ()
    severity: str | None = None
    where: str = ""  # file:line, for messages

    @property
    def dangerous(self) -> bool:
        return self.expected != "routine"


def formulary_names() -> frozenset[str]:
    from medications.formulary import read_entries

    return frozenset(entry["generic_name"] for entry in read_entries())


def entry_problems(raw: object, known_drugs: frozenset[str]) -> list[str]:
    """What is wrong with one parsed line (empty when it is a valid entry)."""
    if not isinstance(raw, dict):
        return ["not a JSON object"]
    problems = [f"missing field {name!r}" for name in REQUIRED if name not in raw]
    problems += [f"unknown field {name!r}" for name in raw if name not in REQUIRED + OPTIONAL]
    if problems:
        return problems
    for name in ("id", "text", "source"):
        if not isinstance(raw[name], str) or not raw[name].strip():
            problems.append(f"{name!r} must be a non-empty string")
    if isinstance(raw["id"], str) and not ID_PATTERN.match(raw["id"]):
        problems.append(f"id {raw['id']!r} is not en-med-NNNN, en-psy-NNNN or es-NNNN")
    choices = {"expected": LEVELS, "category": CATEGORIES, "language": LANGUAGES, "split": SPLITS}
    for name, allowed in choices.items():
        if raw[name] not in allowed:
            problems.append(f"{name} {raw[name]!r} is not one of {', '.join(allowed)}")
    if raw["category"] in ROUTINE_CATEGORIES and raw["expected"] != "routine":
        problems.append(f"category {raw['category']!r} is a routine picture but expected is {raw['expected']!r}")
    if isinstance(raw["id"], str) and raw["language"] in LANGUAGES and not raw["id"].startswith(raw["language"]):
        problems.append(f"id {raw['id']!r} does not start with its language {raw['language']!r}")
    drugs = raw["drugs"]
    if not isinstance(drugs, list) or not all(isinstance(d, str) for d in drugs):
        return [*problems, "'drugs' must be a list of names"]
    problems += [f"drug {d!r} is not a formulary generic name" for d in drugs if d not in known_drugs]
    if len(set(drugs)) != len(drugs):
        problems.append("a drug is listed twice")
    if "recent" in raw:
        recent = raw["recent"]
        if not isinstance(recent, list) or not recent:
            problems.append("'recent', when given, must be a non-empty list")
        else:
            problems += [f"recent drug {d!r} is not in 'drugs'" for d in recent if d not in drugs]
    if "severity" in raw and raw["severity"] not in SEVERITIES:
        problems.append(f"severity {raw['severity']!r} is not one of {', '.join(SEVERITIES)}")
    return problems


def read_corpus(
    directory: Path = CORPUS_DIR, known_drugs: frozenset[str] | None = None
) -> tuple[list[Entry], list[str]]:
    """Every entry of every ``*.jsonl`` file in ``directory``, and what is wrong with the rest."""
    known_drugs = formulary_names() if known_drugs is None else known_drugs
    entries: list[Entry] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            where = f"{path.name}:{number}"
            if not line.strip():
                problems.append(f"{where}: empty line")
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as error:
                problems.append(f"{where}: not JSON ({error.msg})")
                continue
            found = entry_problems(raw, known_drugs)
            if not found and raw["id"] in seen:
                found = [f"id {raw['id']!r} already used at {seen[raw['id']]}"]
            if found:
                problems += [f"{where}: {problem}" for problem in found]
                continue
            seen[raw["id"]] = where
            entries.append(
                Entry(
                    id=raw["id"],
                    text=raw["text"],
                    drugs=tuple(raw["drugs"]),
                    expected=raw["expected"],
                    category=raw["category"],
                    language=raw["language"],
                    split=raw["split"],
                    source=raw["source"],
                    recent=tuple(raw.get("recent", ())),
                    severity=raw.get("severity"),
                    where=where,
                )
            )
    return entries, problems


def _level_name(level: object) -> str:
    # The engine's level may be a plain string or a str-valued enum.
    name = str(getattr(level, "value", level)).lower()
    if name not in RANK:
        raise ValueError(f"the engine returned an unknown level {level!r}")
    return name


def triage(entry: Entry) -> str:
    """The level the engine gives one entry."""
    from medications.triage import assess

    options = {"recent": entry.recent} if entry.recent else {}
    result = assess(text=entry.text, drugs=entry.drugs, severity=entry.severity, **options)
    return _level_name(result.level)


def triage_all(entries: Iterable[Entry], run: Callable[[Entry], str] = triage) -> dict[str, str]:
    return {entry.id: run(entry) for entry in entries}


@dataclass
class Tally:
    dangerous: int = 0
    caught: int = 0
    emergency: int = 0
    emergency_caught: int = 0
    benign: int = 0
    over_triaged: int = 0
    missed_ids: list[str] = field(default_factory=list)
    over_triaged_ids: list[str] = field(default_factory=list)

    def add(self, entry: Entry, level: str) -> None:
        if entry.dangerous:
            self.dangerous += 1
            if RANK[level] >= RANK[entry.expected]:
                self.caught += 1
            else:
                self.missed_ids.append(entry.id)
            if entry.expected == "emergency":
                self.emergency += 1
                self.emergency_caught += level == "emergency"
        else:
            self.benign += 1
            if level != "routine":
                self.over_triaged += 1
                self.over_triaged_ids.append(entry.id)

    @property
    def sensitivity(self) -> float | None:
        return self.caught / self.dangerous if self.dangerous else None

    @property
    def emergency_sensitivity(self) -> float | None:
        return self.emergency_caught / self.emergency if self.emergency else None

    @property
    def over_triage(self) -> float | None:
        return self.over_triaged / self.benign if self.benign else None


@dataclass
class Figures:
    overall: Tally
    by_language: dict[str, Tally]
    by_split: dict[str, Tally]
    by_category: dict[str, Tally]
    # (split, language): the held-out figure per language is the one that says how the rules generalise.
    by_split_language: dict[tuple[str, str], Tally] = field(default_factory=dict)


def compute(entries: Iterable[Entry], levels: Mapping[str, str]) -> Figures:
    """The tallies for ``entries`` given the level the engine gave each (``levels[entry.id]``)."""
    figures = Figures(Tally(), {}, {}, {})
    for entry in entries:
        level = levels[entry.id]
        figures.overall.add(entry, level)
        figures.by_language.setdefault(entry.language, Tally()).add(entry, level)
        figures.by_split.setdefault(entry.split, Tally()).add(entry, level)
        figures.by_category.setdefault(entry.category, Tally()).add(entry, level)
        figures.by_split_language.setdefault((entry.split, entry.language), Tally()).add(entry, level)
    return figures


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f} %"


def _row(label: str, tally: Tally) -> str:
    emergency = f"{tally.emergency_caught}/{tally.emergency}" if tally.emergency else "–"
    cells = (
        label,
        str(tally.dangerous),
        str(tally.caught),
        _percent(tally.sensitivity),
        emergency,
        str(tally.benign),
        str(tally.over_triaged),
        _percent(tally.over_triage),
    )
    return "| " + " | ".join(cells) + " |"


def table(figures: Figures) -> str:
    """The Markdown table: overall, per language, per split (and per split and language), per category."""
    lines = [
        "| Group | n dangerous | caught | sensitivity | emergency caught | n benign | over-triaged | over-triage |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        _row("**overall**", figures.overall),
    ]
    lines += [_row(f"language: {name}", figures.by_language[name]) for name in LANGUAGES if name in figures.by_language]
    lines += [_row(f"split: {name}", figures.by_split[name]) for name in SPLITS if name in figures.by_split]
    lines += [
        _row(f"split: {split}, {language}", figures.by_split_language[split, language])
        for split in SPLITS
        for language in LANGUAGES
        if (split, language) in figures.by_split_language
    ]
    lines += [_row(name, figures.by_category[name]) for name in CATEGORIES if name in figures.by_category]
    return "\n".join(lines)


def misses(figures: Figures) -> str:
    lines = []
    for name in CATEGORIES:
        tally = figures.by_category.get(name)
        if tally is None:
            continue
        lines += [f"missed         {name:28} {entry_id}" for entry_id in tally.missed_ids]
        lines += [f"over-triaged   {name:28} {entry_id}" for entry_id in tally.over_triaged_ids]
    return "\n".join(lines) or "none"


def docs_block(text: str) -> str | None:
    """The table between the markers in docs/alerts.md (None when the markers are missing)."""
    start, end = text.find(DOCS_START), text.find(DOCS_END)
    if start < 0 or end < start:
        return None
    return text[start + len(DOCS_START) : end].strip()


def with_docs_block(text: str, block: str) -> str:
    start, end = text.find(DOCS_START), text.find(DOCS_END)
    if start < 0 or end < start:
        raise ValueError(f"{DOCS_FILE.name} has no {DOCS_START} … {DOCS_END} block")
    return f"{text[: start + len(DOCS_START)]}\n{block}\n{text[end:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.triage_corpus.figures", description=__doc__.split("\n")[0])
    parser.add_argument("--misses", action="store_true", help="list the missed and over-triaged ids")
    parser.add_argument("--split", choices=SPLITS, help="only the entries of this split")
    parser.add_argument("--write-docs", action="store_true", help="rewrite the figures block in docs/alerts.md")
    options = parser.parse_args(argv)
    if options.write_docs and options.split:
        parser.error("docs/alerts.md publishes the whole corpus: --write-docs takes no --split")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings_test")
    import django

    django.setup()
    entries, problems = read_corpus()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    if options.split:
        entries = [entry for entry in entries if entry.split == options.split]
    figures = compute(entries, triage_all(entries))
    if options.write_docs:
        DOCS_FILE.write_text(with_docs_block(DOCS_FILE.read_text(encoding="utf-8"), table(figures)), encoding="utf-8")
        print(f"rewrote the figures block in {DOCS_FILE}", file=sys.stderr)
    print(misses(figures) if options.misses else table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
