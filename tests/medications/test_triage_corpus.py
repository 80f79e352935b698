"""The triage evaluation corpus (tests/triage_corpus/*.jsonl, issue 17): reports in patients' own
words, written from Medication Guides, vignettes and forum phrasing rather than from the rules,
each with the level clinical reference §4b gives it. docs/alerts.md must publish the figures the
engine actually reaches. The rules were tuned on the "dev" split only; the "holdout" split was never
read while tuning, so its figures are the honest estimate for reports nobody has seen. The goals are
asserted on the dev split (a regression guard, not a measure) and over-triage on the whole corpus.

The engine reads data files only: nothing here touches the database."""

from __future__ import annotations

import json

import pytest

from tests.triage_corpus import figures as corpus
from tests.triage_corpus.figures import Entry, Tally

SENSITIVITY_GOAL = 0.98
OVER_TRIAGE_LIMIT = 0.10
MIN_ENTRIES = 600
MIN_SPANISH = 100


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    found, problems = corpus.read_corpus()
    assert problems == [], "\n".join(problems)
    return found


@pytest.fixture(scope="module")
def figures(entries) -> corpus.Figures:
    return corpus.compute(entries, corpus.triage_all(entries))


def _entry(**fields) -> Entry:
    values = {
        "id": "en-psy-0001",
        "text": "I took the whole bottle",
        "drugs": ("sertraline",),
        "expected": "emergency",
        "category": "overdose_ingestion",
        "language": "en",
        "split": "dev",
        "source": "test",
    }
    return Entry(**{**values, **fields})


# --- The format --------------------------------------------------------------------------


def test_every_line_of_every_corpus_file_is_a_valid_entry():
    entries, problems = corpus.read_corpus()
    assert problems == [], "\n".join(problems)
    assert entries


def test_it_rejects_malformed_entries(tmp_path):
    good = {
        "id": "en-psy-0001",
        "text": "took 30 of my pills",
        "drugs": ["sertraline"],
        "expected": "emergency",
        "category": "overdose_ingestion",
        "language": "en",
        "split": "dev",
        "source": "vignette",
    }
    bad = [
        {**good, "id": "en-psy-0002", "drugs": ["Zoloft"]},
        {**good, "id": "en-psy-0003", "expected": "soon"},
        {**good, "id": "en-psy-0004", "category": "benign"},
        {**good, "id": "en-psy-0005", "recent": ["lithium"]},
        {**good, "id": "en-psy-0006", "severity": "awful"},
        {**good, "id": "es-0007"},
        {key: value for key, value in good.items() if key != "source"} | {"id": "en-psy-0008"},
        {**good, "id": "en-psy-0009", "mood": "low"},
        good,  # the same id twice
    ]
    lines = [json.dumps(good)] + [json.dumps(entry) for entry in bad] + ["{not json", ""]
    (tmp_path / "x.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    entries, problems = corpus.read_corpus(tmp_path, known_drugs=frozenset({"sertraline", "lithium"}))

    assert [entry.id for entry in entries] == ["en-psy-0001"]
    joined = "\n".join(problems)
    for expected in (
        "x.jsonl:2: drug 'Zoloft' is not a formulary generic name",
        "x.jsonl:3: expected 'soon'",
        "x.jsonl:4: category 'benign' is a routine picture but expected is 'emergency'",
        "x.jsonl:5: recent drug 'lithium' is not in 'drugs'",
        "x.jsonl:6: severity 'awful'",
        "x.jsonl:7: id 'es-0007' does not start with its language 'en'",
        "x.jsonl:8: missing field 'source'",
        "x.jsonl:9: unknown field 'mood'",
        "x.jsonl:10: id 'en-psy-0001' already used at x.jsonl:1",
        "x.jsonl:11: not JSON",
    ):
        assert expected in joined


def test_the_corpus_has_the_size_the_issue_asks_for(entries):
    assert len(entries) >= MIN_ENTRIES
    assert sum(entry.language == "es" for entry in entries) >= MIN_SPANISH


def test_about_a_fifth_of_every_file_is_held_out(entries):
    by_file: dict[str, list[Entry]] = {}
    for entry in entries:
        by_file.setdefault(entry.where.split(":")[0], []).append(entry)
    for name, found in by_file.items():
        share = sum(entry.split == "holdout" for entry in found) / len(found)
        assert 0.12 <= share <= 0.30, f"{name}: {share:.0%} held out"


def test_every_file_has_dangerous_and_benign_reports(entries):
    for name in {entry.where.split(":")[0] for entry in entries}:
        levels = {entry.expected for entry in entries if entry.where.startswith(name + ":")}
        assert levels == set(corpus.LEVELS), name


# --- The arithmetic ----------------------------------------------------------------------


def test_a_dangerous_report_counts_as_caught_at_or_above_its_level():
    tally = Tally()
    tally.add(_entry(id="en-psy-0001", expected="urgent"), "emergency")
    tally.add(_entry(id="en-psy-0002", expected="urgent"), "urgent")
    tally.add(_entry(id="en-psy-0003", expected="urgent"), "routine")
    tally.add(_entry(id="en-psy-0004", expected="emergency"), "urgent")
    tally.add(_entry(id="en-psy-0005", expected="emergency"), "emergency")

    assert (tally.dangerous, tally.caught, tally.missed_ids) == (5, 3, ["en-psy-0003", "en-psy-0004"])
    assert (tally.emergency, tally.emergency_caught) == (2, 1)
    assert tally.sensitivity == pytest.approx(0.6)
    assert tally.emergency_sensitivity == pytest.approx(0.5)
    assert tally.over_triage is None


def test_a_routine_report_raised_to_any_higher_level_is_over_triaged():
    tally = Tally()
    for number, level in enumerate(("routine", "routine", "urgent", "emergency"), start=1):
        tally.add(_entry(id=f"en-psy-{number:04}", expected="routine", category="benign"), level)

    assert (tally.benign, tally.over_triaged, tally.over_triaged_ids) == (4, 2, ["en-psy-0003", "en-psy-0004"])
    assert tally.over_triage == pytest.approx(0.5)
    assert tally.sensitivity is None


def test_the_table_has_a_row_per_language_split_and_category():
    entries = [
        _entry(id="en-psy-0001"),
        _entry(id="es-0002", language="es", split="holdout", category="suicide_risk"),
        _entry(id="en-psy-0003", expected="routine", category="benign"),
    ]
    levels = {"en-psy-0001": "emergency", "es-0002": "urgent", "en-psy-0003": "urgent"}

    rows = corpus.table(corpus.compute(entries, levels)).splitlines()

    assert rows[2] == "| **overall** | 2 | 1 | 50.0 % | 1/2 | 1 | 1 | 100.0 % |"
    assert "| language: es | 1 | 0 | 0.0 % | 0/1 | 0 | 0 | – |" in rows
    assert "| split: dev | 1 | 1 | 100.0 % | 1/1 | 1 | 1 | 100.0 % |" in rows
    assert "| split: holdout, es | 1 | 0 | 0.0 % | 0/1 | 0 | 0 | – |" in rows
    assert "| overdose_ingestion | 1 | 1 | 100.0 % | 1/1 | 0 | 0 | – |" in rows
    assert "| benign | 0 | 0 | – | – | 1 | 1 | 100.0 % |" in rows


def test_the_docs_block_is_replaced_between_its_markers():
    text = f"intro\n{corpus.DOCS_START}\nold table\n{corpus.DOCS_END}\nafter\n"

    rewritten = corpus.with_docs_block(text, "| new |")

    assert rewritten == f"intro\n{corpus.DOCS_START}\n| new |\n{corpus.DOCS_END}\nafter\n"
    assert corpus.docs_block(rewritten) == "| new |"


def test_the_misses_list_names_each_missed_and_over_triaged_entry_by_category():
    entries = [
        _entry(id="en-psy-0001"),
        _entry(id="en-psy-0002", expected="routine", category="benign"),
        _entry(id="en-psy-0003", expected="urgent", category="mania_switch"),
    ]
    levels = {"en-psy-0001": "urgent", "en-psy-0002": "emergency", "en-psy-0003": "urgent"}

    listed = corpus.misses(corpus.compute(entries, levels)).splitlines()

    assert [line.split() for line in listed] == [
        ["missed", "overdose_ingestion", "en-psy-0001"],
        ["over-triaged", "benign", "en-psy-0002"],
    ]


# --- The issue's goals -------------------------------------------------------------------


def test_the_tuned_dev_split_keeps_the_sensitivity_goal(figures):
    dev = figures.by_split["dev"]
    assert dev.sensitivity >= SENSITIVITY_GOAL, f"missed: {dev.missed_ids}"
    assert dev.over_triage <= OVER_TRIAGE_LIMIT, f"over-triaged: {dev.over_triaged_ids}"


def test_over_triage_stays_within_the_limit(figures):
    overall = figures.overall
    assert overall.over_triage <= OVER_TRIAGE_LIMIT, f"over-triaged: {overall.over_triaged_ids}"


def test_docs_alerts_publishes_the_figures_the_engine_reaches(figures):
    published = corpus.docs_block(corpus.DOCS_FILE.read_text(encoding="utf-8"))
    assert published is not None, "docs/alerts.md has no corpus-figures block"
    assert published == corpus.table(figures), "run: python -m tests.triage_corpus.figures --write-docs"
