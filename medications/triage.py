"""Triage of what patients tell us: EMERGENCY / URGENT / ROUTINE, with human-readable reasons.

One code path for the portal (side-effect reports, questionnaire free text) and the
``triage`` management command. The rules are data: medications/data/red_flags.json, each with
its source row in clinical.md §4b and the reference's certainty mark. In order:

1. Crisis language in free text (medications.crisis_language) — suicidal or self-harm intent,
   plans, goodbyes, command hallucinations, harming others, overdose: EMERGENCY.
2. Red-flag rules: symptoms found in ticked checklist items (side_effect_checklists.json codes)
   or in the free text (concept lexicon, with negation: "no fever" is not a fever), per drug,
   class or tag of the patient's medicines (``drugs``, plus any formulary name the text mentions).
   A rule whose medicines the patient does not take applies its ``otherwise`` level, if any.
3. Checklist floor: a ticked item the checklist marks for escalation is at least URGENT.
4. Severity: "severe" makes the report at least URGENT and moves split §4b rows
   (URGENT/EMERGENCY) to EMERGENCY.

Context from the regimen: ``recent`` names the drugs started, raised or added in the last 14 days;
a rule with a ``recent_level`` (serotonin toxicity) is graded up when one of its drugs is recent or
the report itself says so ("since the new antibiotic", "after I doubled it").

Each result carries structured ``findings`` (picture, level, the words that matched, source) for
the staff pages and the audit trail; ``reasons`` stay the readable sentences, quoting the words.

PROMPT rows of §4b (review in 24–72 h) come out as ROUTINE with their reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from medications import checklists, crisis_language, formulary, spanish, textmatch

EMERGENCY, URGENT, ROUTINE = "emergency", "urgent", "routine"
PROMPT = "prompt"  # §4b's "review within 24–72 h": reported as ROUTINE with a reason
LEVELS = (EMERGENCY, URGENT, ROUTINE)
SEVERITIES = ("mild", "moderate", "severe")
_RANK = {ROUTINE: 0, PROMPT: 1, URGENT: 2, EMERGENCY: 3}

DATA_DIR = Path(__file__).resolve().parent / "data"
RULES_FILE = DATA_DIR / "red_flags.json"
FORMULARY_FILE = formulary.DATA_FILE


@dataclass(frozen=True)
class Finding:
    """One clinical picture the report matched: what the psychiatrist sees as the "why"."""

    rule: str  # rule id, or "crisis:<category>"
    label: str  # the picture ("Serotonin toxicity (Hunter criteria)")
    level: str
    words: tuple[str, ...]  # the patient's words that matched (or the ticked checklist items)
    source: str


@dataclass(frozen=True)
class TriageResult:
    level: str
    reasons: list[str] = field(default_factory=list)
    # Ids of the rules that fired (for tests and the audit trail; not part of the CLI contract).
    rules: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def urgent(self) -> bool:
        """Kept for existing callers: anything that is not routine."""
        return self.level != ROUTINE


class UnknownDrug(ValueError):
    def __init__(self, name: str, suggestions: list[str]):
        self.name, self.suggestions = name, suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"Unknown drug {name!r}.{hint}")


class InvalidSeverity(ValueError):
    pass


# -- Data ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drug:
    generic_name: str
    drug_class: str
    tags: frozenset[str]


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    reason: str
    drugs: dict
    otherwise: str | None
    severe_level: str | None
    checklist: tuple[str, ...]
    text: tuple[dict, ...]
    drug_text: str | None
    family: str
    reason_any: str | None
    label: str
    source: str
    recent_level: str | None
    reason_recent: str | None


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    concepts: dict[str, re.Pattern]
    crisis: dict[str, dict]
    checklist_crisis: dict[str, str]
    severe_floor: str


# Files whose "concepts" ({name: {"patterns": [...], "sources": [...]}}) make up the lexicon. Another
# language adds its file here: its patterns join the concept of the same name, so every rule hears it.
LEXICON_FILES: tuple[Path, ...] = (RULES_FILE,)


def load_concepts(files: Sequence[Path] = LEXICON_FILES) -> dict[str, dict[str, list[str]]]:
    """The concept lexicon, merged by concept name across ``files``; every concept needs a source."""
    merged: dict[str, dict[str, list[str]]] = {}
    for path in files:
        for name, entry in json.loads(Path(path).read_text(encoding="utf-8"))["concepts"].items():
            if not entry.get("sources"):
                raise ValueError(f"Concept {name!r} in {Path(path).name} has no source")
            target = merged.setdefault(name, {"patterns": [], "sources": []})
            target["patterns"] += [p for p in entry["patterns"] if p not in target["patterns"]]
            target["sources"] += [s for s in entry["sources"] if s not in target["sources"]]
    return merged


@lru_cache(maxsize=1)
def rule_set() -> RuleSet:
    data = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    concepts = {
        name: re.compile("|".join(f"(?:{p})" for p in entry["patterns"])) for name, entry in load_concepts().items()
    }
    rules = []
    for raw in data["rules"]:
        for condition in raw["text"]:
            for name in [c for group in condition.get("all", []) for c in group] + condition.get("min_of", {}).get(
                "concepts", []
            ):
                if name not in concepts:
                    raise ValueError(f"Rule {raw['id']} uses unknown concept {name!r}")
        rules.append(
            Rule(
                id=raw["id"],
                level=raw["level"],
                reason=raw["reason"],
                drugs=raw.get("drugs", {}),
                otherwise=raw.get("otherwise"),
                severe_level=raw.get("severe_level"),
                checklist=tuple(raw.get("checklist", [])),
                text=tuple(raw.get("text", [])),
                drug_text=raw.get("drug_text"),
                family=raw.get("family", raw["id"]),
                reason_any=raw.get("reason_any"),
                label=raw["label"],
                source=raw["source"],
                recent_level=raw.get("recent_level"),
                reason_recent=raw.get("reason_recent"),
            )
        )
    return RuleSet(
        rules=tuple(rules),
        concepts=concepts,
        crisis=data["crisis"],
        checklist_crisis=data["checklist_crisis"],
        severe_floor=data["severity_rule"]["severe"],
    )


@lru_cache(maxsize=1)
def _formulary() -> dict[str, Drug]:
    return {
        m["generic_name"].lower(): Drug(m["generic_name"], m["drug_class"], frozenset(m.get("tags", [])))
        for m in formulary.read_entries()
    }


def _name_index() -> dict[str, str]:
    """Every accepted spelling (generic, brand, alias; normalised) -> generic: the shared resolver's."""
    return formulary.names().index


def resolve_drug(name: str) -> Drug:
    """A formulary drug by generic or brand name, alias or salt (medications.formulary.names: never by
    similarity); raises UnknownDrug with the closest names, look-alikes marked."""
    found = formulary.names().resolve(name)
    if found is None:
        raise UnknownDrug(name, [str(s) for s in formulary.names().suggest(name, n=5)])
    return _formulary()[found.generic_name.lower()]


@lru_cache(maxsize=1)
def _mention_pattern() -> re.Pattern:
    """Formulary names (generic and brand, 5+ letters) as whole words in normalised text."""
    names = [n for n in _name_index() if len(n.replace(" ", "")) >= 5]
    return re.compile(r"\b(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")


def drug_from_medication(medication) -> Drug:
    """A formulary Medication row (the portal's prescriptions) as the rules see it."""
    return Drug(medication.generic_name, medication.drug_class, frozenset(medication.tags or []))


def mentioned_drugs(norm_text: str) -> list[Drug]:
    """Formulary drugs the patient names in their own words ("since starting Lamictal")."""
    index = _name_index()
    found: dict[str, Drug] = {}
    for match in _mention_pattern().finditer(norm_text):
        if textmatch.is_negated(norm_text, match.start(), match.end(), hypothetical=False):
            continue  # "I'm not on lithium any more"
        drug = _formulary()[index[match.group(1)].lower()]
        found.setdefault(drug.generic_name, drug)
    return list(found.values())


# -- Matching --------------------------------------------------------------------------------------


def _gated(rule: Rule, drugs: Sequence[Drug]) -> list[Drug]:
    """The patient's drugs that the rule names (by generic name, class or tag)."""
    spec = rule.drugs
    if not spec:
        return []
    generics = {g.lower() for g in spec.get("generic", [])}
    classes, tags = set(spec.get("classes", [])), set(spec.get("tags", []))
    matched = [d for d in drugs if d.generic_name.lower() in generics or d.drug_class in classes or d.tags & tags]
    for tag, count in spec.get("tag_count", {}).items():
        carriers = [d for d in drugs if tag in d.tags]
        if len(carriers) >= count:
            matched += [d for d in carriers if d not in matched]
    return matched


def _found_concepts(
    norm: str,
    names: Iterable[str],
    cache: dict[str, list[textmatch.Span]],
    spanish_found: dict[str, list[textmatch.Span]],
) -> dict[str, list[textmatch.Span]]:
    """English spans, then the Spanish lexicon's spans for the same concept (medications.spanish)."""
    rules = rule_set()
    for name in names:
        if name not in cache:
            cache[name] = textmatch.find_affirmed(rules.concepts[name], norm) + spanish_found.get(name, [])
    return cache


def _free(spans: Iterable[textmatch.Span], used: list[textmatch.Span]) -> textmatch.Span | None:
    """The first span that overlaps none already used: one phrase never counts for two symptoms
    ("woke up on the floor" is not both a blackout and a sign of a seizure)."""
    return next((s for s in spans if all(s.end <= u.start or s.start >= u.end for u in used)), None)


def _text_condition_met(
    condition: dict,
    norm: str,
    cache: dict[str, list[textmatch.Span]],
    spanish_found: dict[str, list[textmatch.Span]],
) -> list[str] | None:
    """Phrases satisfying the condition, or None if it is not met."""
    used: list[textmatch.Span] = []
    for group in condition.get("all", []):
        _found_concepts(norm, group, cache, spanish_found)
        hit = _free((span for name in group for span in cache[name]), used)
        if hit is None:
            return None
        used.append(hit)
    minimum = condition.get("min_of")
    if minimum:
        _found_concepts(norm, minimum["concepts"], cache, spanish_found)
        present = 0
        # Shortest phrases first, so one long phrase does not hide two symptoms it contains.
        found = sorted(
            (n for n in minimum["concepts"] if cache[n]), key=lambda n: min(x.end - x.start for x in cache[n])
        )
        for name in found:
            hit = _free(sorted(cache[name], key=lambda x: x.end - x.start), used)
            if hit is not None:
                used.append(hit)
                present += 1
        if present < minimum["count"]:
            return None
    return [span.text for span in used]


def _format_reason(rule: Rule, gated: list[Drug], *, recent: bool = False) -> str:
    if rule.drugs and not gated and rule.reason_any:
        return rule.reason_any
    names = ", ".join(d.generic_name for d in gated)
    drug_words = names or rule.drug_text or "this medicine"
    on_drugs = f" on {names}" if names else ""
    template = rule.reason_recent if recent and rule.reason_recent else rule.reason
    return template.replace("{drugs}", drug_words).replace("{on_drugs}", on_drugs)


@dataclass
class _Verdict:
    """Collects findings. Within a family of related rules (e.g. NMS and its partial picture)
    only the highest level is reported, so one problem gives one reason."""

    # (rank, order, reason, family, specific: the rule named one of the patient's drugs, finding)
    items: list[tuple[int, int, str, str, bool, Finding]] = field(default_factory=list)

    def add(self, finding: Finding, reason: str, family: str | None = None, specific: bool = True) -> None:
        if any(item[5].rule == finding.rule for item in self.items):
            return
        self.items.append((_RANK[finding.level], len(self.items), reason, family or finding.rule, specific, finding))

    def result(self) -> TriageResult:
        kept = []
        for family in dict.fromkeys(item[3] for item in self.items):
            members = [item for item in self.items if item[3] == family]
            rank = max(item[0] for item in members)
            best = [item for item in members if item[0] == rank]
            specific = [item for item in best if item[4]]
            kept += (specific or best)[:1]
        kept.sort(key=lambda item: (-item[0], item[1]))
        reasons = list(dict.fromkeys(item[2] for item in kept))
        rank = kept[0][0] if kept else _RANK[ROUTINE]
        level = next(name for name, value in _RANK.items() if value == rank)
        level = ROUTINE if level == PROMPT else level
        findings = tuple(replace(item[5], level=ROUTINE) if item[5].level == PROMPT else item[5] for item in kept)
        return TriageResult(level, reasons, tuple(item[5].rule for item in kept), findings)


def _unique(phrases: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip() for p in phrases if p.strip()))


def _quote(phrases: list[str]) -> str:
    unique = _unique(phrases)
    return f' (reported: "{"; ".join(unique[:4])}")' if unique else ""


def _resolve_all(drugs: Iterable[str | Drug]) -> list[Drug]:
    resolved: list[Drug] = []
    for drug in drugs:
        one = drug if isinstance(drug, Drug) else resolve_drug(drug)
        if one not in resolved:
            resolved.append(one)
    return resolved


def assess(
    *,
    symptoms: Iterable[str] = (),
    text: str = "",
    drugs: Iterable[str | Drug] = (),
    severity: str | None = None,
    recent: Iterable[str | Drug] = (),
) -> TriageResult:
    """Triage a report: ticked checklist ``symptoms`` (codes), free ``text``, the patient's
    ``drugs`` (names or Drug), the patient's own ``severity`` rating, and the drugs started,
    raised or added in the last 14 days (``recent``; they count as taken too)."""
    if severity is not None and severity not in SEVERITIES:
        raise InvalidSeverity(f"Severity must be one of {', '.join(SEVERITIES)}, not {severity!r}.")
    rules = rule_set()
    recent_drugs = _resolve_all(recent)
    patient_drugs = _resolve_all([*drugs, *recent_drugs])
    norm = textmatch.normalize(text)
    es = spanish.Reading(text)  # the Spanish lexicon reads every report (medications.spanish)
    spanish_drugs = [_formulary()[generic] for generic in es.mentioned_generics()]
    for drug in [*mentioned_drugs(norm), *spanish_drugs] if norm else []:
        if drug not in patient_drugs:
            patient_drugs.append(drug)
    all_drugs = patient_drugs
    codes = list(dict.fromkeys(symptoms))
    severe = severity == "severe"
    verdict = _Verdict()
    cache: dict[str, list[textmatch.Span]] = {}
    # Spanish spans sit past the English text's end, so the two readings never overlap.
    spanish_found = es.concept_spans(offset=len(norm) + 1) if es.norm else {}
    # The report's own timing words ("since they added…", "after I doubled it").
    told_recent = bool(norm) and bool(_found_concepts(norm, ["recent_change"], cache, spanish_found)["recent_change"])

    # 1. Crisis language and crisis checklist items. Both lexicons read every report: a
    # misdetected or mixed-language report must never lose a red flag (medications.spanish).
    crisis_hits = [*crisis_language.find(norm, normalized=True, medicines=_mention_pattern()), *es.crisis()]
    for hit in crisis_hits if norm else []:
        info = rules.crisis[hit.category]
        finding = Finding(f"crisis:{hit.category}", info["label"], info["level"], (hit.phrase,), info["source"])
        verdict.add(finding, f'{info["label"]} — {info["reason"]}: "{hit.phrase}"')
    for code in codes:
        category = rules.checklist_crisis.get(code)
        if category:
            info = rules.crisis[category]
            label = checklists.label_for(code)
            finding = Finding(f"crisis:{category}", info["label"], info["level"], (label,), info["source"])
            verdict.add(finding, f"{info['label']} — {info['reason']} (ticked: {label})")

    # 2. Red-flag rules, from checklist codes and from the text.
    handled_codes: set[str] = set()
    for rule in rules.rules:
        code_hits = [code for code in codes if code in rule.checklist]
        phrases: list[str] = []
        text_hit = False
        if norm:
            for condition in rule.text:
                met = _text_condition_met(condition, norm, cache, spanish_found)
                if met is not None:
                    phrases, text_hit = met, True
                    break
        if not code_hits and not text_hit:
            continue
        gated = _gated(rule, all_drugs)
        level = rule.otherwise if rule.drugs and not gated else rule.level
        if level is None:
            continue
        handled_codes.update(code_hits)
        if severe and rule.severe_level and (gated or not rule.drugs):
            level = rule.severe_level
        is_recent = bool(rule.recent_level and gated and (told_recent or set(gated) & set(recent_drugs)))
        if is_recent and _RANK[rule.recent_level] > _RANK[level]:
            level = rule.recent_level
        # The picture first, so the psychiatrist reads what it may be before why, then the words.
        reason = f"{rule.label} — {_format_reason(rule, gated, recent=is_recent)}"
        reason += _quote(phrases) if text_hit else ""
        words = _unique(phrases) if text_hit else tuple(checklists.label_for(code) for code in code_hits)
        finding = Finding(rule.id, rule.label, level, words, rule.source)
        verdict.add(finding, reason, rule.family, specific=bool(gated))

    # 3. Checklist floor: an item marked for escalation is at least URGENT.
    prompt_codes = {code for rule in rules.rules if rule.level == PROMPT for code in rule.checklist}
    for code in codes:
        if code in handled_codes or code in rules.checklist_crisis:
            continue
        if checklists.is_urgent(code) and code not in prompt_codes:
            label = checklists.label_for(code)
            finding = Finding(f"checklist:{code}", label, URGENT, (label,), "side_effect_checklists.json (escalate)")
            verdict.add(finding, f"{label}: marked for same-day review")

    # 4. Severity.
    if severe and max((item[0] for item in verdict.items), default=0) < _RANK[rules.severe_floor]:
        finding = Finding(
            "severity:severe",
            "Rated severe by the patient",
            rules.severe_floor,
            ("severe",),
            "red_flags.json severity_rule",
        )
        verdict.add(finding, "The patient rates this as severe (hard to cope with): same-day contact")
    return verdict.result()


def assess_text(
    text: str, *, drugs: Sequence[str] = (), severity: str | None = None, recent: Sequence[str] = ()
) -> TriageResult:
    """Triage free text (the contract other areas call): ``drugs`` and ``recent`` are generic or brand names."""
    return assess(text=text, drugs=drugs, severity=severity, recent=recent)
