"""Prescribing checks: interactions, washout, duplicate therapy, dose caps, allergies, pregnancy and age flags.

The rules are data (medications/data/interaction_rules.json, each with its source and the reference's certainty
mark); this module only knows how to evaluate them. :func:`check_regimen` is pure: it takes a regimen
(drug + mg/day) and an optional patient context and returns the alerts, most severe first. The portal calls
:func:`check_for_patient` (builds the regimen and context from the database in a constant number of queries)
or :func:`check_current` (from rows a page has already loaded); ``manage.py check_regimen`` calls
:func:`check_regimen` directly with drugs read from the formulary file.

The regimen includes the patient's outside medications (medications.models.OutsideMedication): a
coded one is checked like a prescription (without its dose, which is free text); an uncoded one
cannot be, and the result says so (:class:`CheckResult.not_checked`): unknown is never "no alerts".
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from clinic import dates
from medications import formulary
from medications.models import Prescription

RULES_FILE = Path(__file__).resolve().parent / "data" / "interaction_rules.json"

CONTRAINDICATED, MAJOR, MODERATE, MINOR = "contraindicated", "major", "moderate", "minor"
SEVERITIES = (CONTRAINDICATED, MAJOR, MODERATE, MINOR)
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
# Contraindicated and major alerts need a written override reason before the prescription is saved.
BLOCKING = frozenset({CONTRAINDICATED, MAJOR})

# The five kinds of the check_regimen command's contract; the portal adds patient-only kinds.
CONTRACT_KINDS = ("interaction", "duplicate_therapy", "max_dose", "allergy", "washout")
KIND_ORDER = ("allergy", "interaction", "washout", "max_dose", "duplicate_therapy", "pregnancy", "age", "condition",
              "counselling")  # fmt: skip
KIND_LABELS = {
    "allergy": "Allergy",
    "interaction": "Interaction",
    "washout": "Washout",
    "max_dose": "Dose",
    "duplicate_therapy": "Duplicate therapy",
    "pregnancy": "Pregnancy",
    "age": "Age",
    "condition": "Condition",
    "counselling": "Counselling",
}


# -- Inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drug:
    """What the checks need to know about a formulary entry."""

    name: str
    drug_class: str = ""
    tags: frozenset[str] = frozenset()
    brand_names: tuple[str, ...] = ()
    max_mg_per_day: Decimal | None = None
    is_psychotropic: bool = True

    @classmethod
    def from_medication(cls, medication) -> Drug:
        return cls(
            name=medication.generic_name,
            drug_class=medication.drug_class,
            tags=frozenset(medication.tags or ()),
            brand_names=tuple(medication.brand_names or ()),
            max_mg_per_day=medication.max_mg_per_day,
            is_psychotropic=medication.is_psychotropic,
        )

    @classmethod
    def from_entry(cls, entry: dict) -> Drug:
        """From a row of medications/data/formulary.json (no database needed)."""
        top = entry.get("max_mg_per_day")
        return cls(
            name=entry["generic_name"],
            drug_class=entry.get("drug_class", ""),
            tags=frozenset(entry.get("tags") or ()),
            brand_names=tuple(entry.get("brand_names") or ()),
            max_mg_per_day=None if top is None else Decimal(str(top)),
            is_psychotropic=entry.get("is_psychotropic", True),
        )

    @property
    def components(self) -> frozenset[str]:
        """'dextromethorphan/bupropion' -> both ingredients; a single drug -> itself."""
        return frozenset(part.strip() for part in self.name.split("/"))

    @property
    def moiety(self) -> frozenset[str]:
        """Active ingredients, with a long-acting injection mapped to its oral parent."""
        parent = book().lai_parents.get(self.name)
        return frozenset({parent}) if parent else self.components


@dataclass(frozen=True)
class Item:
    """One drug of the regimen. mg_per_day None: dose not given (dose rules are then skipped)."""

    drug: Drug
    mg_per_day: Decimal | None = None
    mg_per_dose: Decimal | None = None
    form: str = ""
    route: str = ""
    start_date: datetime.date | None = None

    @property
    def name(self) -> str:
        return self.drug.name


@dataclass(frozen=True)
class StoppedDrug:
    drug: Drug
    stopped_on: datetime.date


@dataclass(frozen=True)
class AllergyInfo:
    substance: str
    drug_name: str = ""  # the formulary drug the allergy is linked to, if any
    drug_class: str = ""
    severity: str = "moderate"
    reaction: str = ""


@dataclass(frozen=True)
class DiagnosisInfo:
    code: str
    active: bool = True
    recorded_on: datetime.date | None = None
    resolved_on: datetime.date | None = None


@dataclass(frozen=True)
class Context:
    """What is known about the patient. Every field is optional: unknown means the rule does not fire."""

    today: datetime.date = field(default_factory=lambda: _today())
    age: int | None = None
    pregnancy_status: str = ""
    allergies: tuple[AllergyInfo, ...] = ()
    diagnoses: tuple[DiagnosisInfo, ...] = ()
    stopped: tuple[StoppedDrug, ...] = ()


def _today() -> datetime.date:
    from django.utils import timezone

    return timezone.localdate()


# -- Output -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrescribingAlert:
    kind: str
    severity: str
    drugs: tuple[str, ...]
    message: str
    rule: str
    action: str = ""
    source: str = ""
    confidence: str = ""

    @property
    def blocking(self) -> bool:
        return self.severity in BLOCKING

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def as_contract(self) -> dict[str, Any]:
        """The check_regimen --json shape: exactly these four keys."""
        message = f"{self.message} Action: {self.action}" if self.action else self.message
        return {"kind": self.kind, "severity": self.severity, "drugs": list(self.drugs), "message": message}

    def as_stored(self) -> dict[str, Any]:
        """What a PrescriptionEvent keeps (JSON)."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "drugs": list(self.drugs),
            "message": self.message,
            "rule": self.rule,
            "action": self.action,
            "source": self.source,
        }

    def sort_key(self):
        return (SEVERITY_RANK[self.severity], KIND_ORDER.index(self.kind), _rule_key(self.rule), self.drugs)


def _rule_key(rule_id: str) -> tuple:
    return (0, int(rule_id), "") if rule_id.isdigit() else (1, 0, rule_id)


@dataclass(frozen=True)
class NotChecked:
    """A drug of the regimen the checks could not see, and why ("not in the formulary")."""

    name: str
    why: str = "not in the formulary"

    def __str__(self) -> str:
        return f"{self.name} ({self.why})"

    def as_stored(self) -> dict[str, str]:
        return {"name": self.name, "why": self.why}


class CheckResult(list):
    """The alerts, most severe first (a list of PrescribingAlert, as before), and ``not_checked``:
    the regimen's drugs no rule could see. With any, an empty list is not "no alerts"."""

    def __init__(self, alerts=(), not_checked=()):
        super().__init__(alerts)
        self.not_checked: tuple[NotChecked, ...] = tuple(not_checked)

    @property
    def not_checked_line(self) -> str:
        """'Not checked for interactions: Kratom (not in the formulary)', or ''."""
        return not_checked_line(self.not_checked)


def not_checked_line(not_checked) -> str:
    """Works on NotChecked objects and on the dicts stored on a PrescriptionEvent."""
    named = [str(n) if isinstance(n, NotChecked) else str(NotChecked(**n)) for n in not_checked or ()]
    return f"Not checked for interactions: {'; '.join(named)}" if named else ""


def fingerprint(alerts: list[PrescribingAlert]) -> str:
    """Identifies what the prescriber was shown: the same alerts (and drugs not checked) give the same value."""
    payload = sorted([a.rule, a.kind, a.severity, list(a.drugs)] for a in alerts)
    unseen = sorted(n.name for n in getattr(alerts, "not_checked", ()))
    if unseen:
        payload.append(["not_checked", unseen])
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:20]


class ReviewRequired(ValidationError):
    """Alerts the prescriber has not reviewed yet (or a missing override reason). Nothing was saved."""

    def __init__(self, alerts: list[PrescribingAlert], *, reason_missing: bool = False):
        self.alerts = alerts
        self.fingerprint = fingerprint(alerts)
        self.reason_missing = reason_missing
        message = (
            "Contraindicated or major alerts: give an override reason, or change the prescription."
            if reason_missing
            else "Review the safety check below, then save again."
        )
        super().__init__(message)


def require_review(alerts: list[PrescribingAlert], *, acknowledged: str, override_reason: str) -> None:
    """Raise ReviewRequired unless these exact alerts were shown (``acknowledged`` is their fingerprint)
    and, for contraindicated/major alerts, a reason is given. Moderate/minor alerts, and drugs the
    checks could not see (``alerts.not_checked``), need only the re-submit."""
    if not alerts and not getattr(alerts, "not_checked", ()):
        return
    if acknowledged != fingerprint(alerts):
        raise ReviewRequired(alerts)
    if any(a.blocking for a in alerts) and not override_reason.strip():
        raise ReviewRequired(alerts, reason_missing=True)


# -- The rule book --------------------------------------------------------------------------------


@dataclass
class RuleBook:
    data: dict
    rules: list[dict]
    rules_by_id: dict[str, dict]
    sets: dict[str, dict]
    lai_parents: dict[str, str]
    max_washout_days: int
    # Every formulary entry (both data files) by generic name: an allergy's substance names one.
    drugs: dict[str, Drug]


@cache
def book(path: Path = RULES_FILE) -> RuleBook:
    data = json.loads(path.read_text(encoding="utf-8"))
    rules = data["rules"]
    longest = 0
    for rule in rules:
        for arm in rule["arms"]:
            if arm["type"] == "washout":
                spans = [arm.get("days", 0), arm.get("default_days", 0), *arm.get("days_by_drug", {}).values()]
                spans += [tier["days"] for tier in arm.get("tiers", [])]
                longest = max(longest, *spans)
    return RuleBook(
        drugs={entry["generic_name"]: Drug.from_entry(entry) for entry in formulary.read_entries()},
        data=data,
        rules=rules,
        rules_by_id={rule["id"]: rule for rule in rules},
        sets=data["sets"],
        lai_parents=data["duplicate_therapy"]["same_moiety"]["long_acting_injections"],
        max_washout_days=longest,
    )


def matches(selector: dict, item: Item) -> bool:
    drug = item.drug
    sets = book().sets
    hit = (
        bool(drug.components & set(selector.get("drugs", ())) or drug.name in selector.get("drugs", ()))
        or bool(drug.tags & set(selector.get("tags", ())))
        or drug.drug_class in selector.get("classes", ())
        or any(matches(sets[name], item) for name in selector.get("sets", ()))
    )
    if not hit:
        return False
    if drug.name in selector.get("exclude", ()):
        return False
    if drug.tags & set(selector.get("exclude_tags", ())):
        return False
    if any(matches(sets[name], item) for name in selector.get("exclude_sets", ())):
        return False
    if "routes" in selector and item.route not in selector["routes"]:
        return False
    return not ("psychotropic" in selector and drug.is_psychotropic != selector["psychotropic"])


def _code(code: str) -> str:
    return code.replace(".", "").strip().upper()


def _has_dx(ctx: Context, prefixes, *, exclude=()) -> bool:
    wanted = [_code(p) for p in prefixes]
    unwanted = [_code(p) for p in exclude]
    return any(
        dx.active
        and any(_code(dx.code).startswith(p) for p in wanted)
        and not any(_code(dx.code).startswith(p) for p in unwanted)
        for dx in ctx.diagnoses
    )


CONDITIONS = frozenset({
    "age_gt", "age_gte", "age_lt", "pregnancy_in", "diagnosis_prefixes", "diagnosis_exclude_prefixes",
    "diagnosis_resolved_within_days", "diagnosis_recorded_within_days",
})  # fmt: skip


def conditions_hold(when: dict | None, ctx: Context | None) -> bool:
    """All conditions must hold; with no patient context, patient conditions never do."""
    if not when:
        return True
    unknown = set(when) - CONDITIONS
    if unknown:
        # A misspelt condition would otherwise be ignored and the rule would fire for everyone.
        raise ValueError(f"Unknown condition(s) in interaction_rules.json: {sorted(unknown)}")
    if ctx is None:
        return False
    for key, value in when.items():
        if key == "age_gt" and not (ctx.age is not None and ctx.age > value):
            return False
        if key == "age_gte" and not (ctx.age is not None and ctx.age >= value):
            return False
        if key == "age_lt" and not (ctx.age is not None and ctx.age < value):
            return False
        if key == "pregnancy_in" and ctx.pregnancy_status not in value:
            return False
        if key == "diagnosis_prefixes" and not _has_dx(ctx, value, exclude=when.get("diagnosis_exclude_prefixes", ())):
            return False
        if key == "diagnosis_resolved_within_days" and not any(
            not dx.active
            and dx.resolved_on is not None
            and 0 <= (ctx.today - dx.resolved_on).days < value["days"]
            and any(_code(dx.code).startswith(_code(p)) for p in value["prefixes"])
            for dx in ctx.diagnoses
        ):
            return False
        if key == "diagnosis_recorded_within_days" and not any(
            dx.active
            and dx.recorded_on is not None
            and 0 <= (ctx.today - dx.recorded_on).days < value["days"]
            and any(_code(dx.code).startswith(_code(p)) for p in value["prefixes"])
            for dx in ctx.diagnoses
        ):
            return False
    return True


def _mg(value: Decimal | float | int) -> str:
    return f"{Decimal(str(value)).normalize():f}"


# -- The checks ----------------------------------------------------------------------------------


def advice_for(rule: dict, alerted: list[Item]) -> str:
    """The rule's shared advice, then each ``drug_advice`` entry whose selector matches a drug of
    this alert: advice about one drug is never shown on an alert that does not name it."""
    parts = [rule.get("action", "")]
    for entry in rule.get("drug_advice", ()):
        named = [i.name for i in alerted if matches(entry["when"], i)]
        if named:
            parts.append(entry["text"].replace("{drug}", " and ".join(named)))
    return " ".join(part for part in parts if part)


class _Collector:
    def __init__(self, items: list[Item] = ()):
        self.alerts: dict[tuple, PrescribingAlert] = {}
        # An alert names drugs; per-drug advice is matched on the items themselves (class, tags).
        self._items = {item.name: item for item in items}

    def add(self, rule: dict, kind: str, severity: str, drugs: tuple[str, ...], detail: str, **extra) -> None:
        parts = [f"{' + '.join(drugs)}: {rule['title']}."]
        if detail:
            parts.append(detail)
        if rule.get("mechanism"):
            parts.append(rule["mechanism"])
        if "action" in extra:
            action = extra["action"]
        else:
            alerted = [self._items.get(name) or Item(drug=Drug(name=name)) for name in drugs]
            action = advice_for(rule, alerted)
        alert = PrescribingAlert(
            kind=kind,
            severity=severity,
            drugs=drugs,
            message=" ".join(parts),
            rule=rule["id"],
            action=action,
            source=extra.get("source", rule.get("source", "")),
            confidence=rule.get("confidence", ""),
        )
        key = (alert.rule, alert.kind, frozenset(drugs))
        kept = self.alerts.get(key)
        if kept is None or SEVERITY_RANK[alert.severity] < SEVERITY_RANK[kept.severity]:
            self.alerts[key] = alert


def _escalate(arm: dict, severity: str, notes: list[str], *, ctx, items, b=None, members=None, pair=()) -> str:
    for step in arm.get("escalate", ()):
        applies = True
        if "min_count" in step:
            applies &= members is not None and len(members) >= step["min_count"]
        if "if_any" in step:
            applies &= members is not None and any(matches(step["if_any"], m) for m in members)
        if "if_b" in step:
            applies &= b is not None and matches(step["if_b"], b)
        if "when" in step:
            applies &= conditions_hold(step["when"], ctx)
        if "also" in step:
            applies &= any(matches(step["also"], c) for c in items if c.name not in pair)
        if applies:
            if SEVERITY_RANK[step["severity"]] < SEVERITY_RANK[severity]:
                severity = step["severity"]
            if step.get("note"):
                notes.append(step["note"])
    return severity


def _pair(rule, arm, items, ctx, out: _Collector) -> None:
    if not conditions_hold(arm.get("when"), ctx):
        return
    for a in items:
        if not matches(arm["a"], a):
            continue
        for b in items:
            if b.name == a.name or not matches(arm["b"], b):
                continue
            if "also" in arm and not any(matches(arm["also"], c) for c in items if c.name not in (a.name, b.name)):
                continue
            severity = arm["severity"]
            notes = [arm["note"]] if arm.get("note") else []
            if "b_mg_above" in arm:
                if b.mg_per_day is None:
                    if not arm.get("b_dose_unknown"):
                        continue
                    severity = arm["b_dose_unknown"]
                elif b.mg_per_day <= Decimal(str(arm["b_mg_above"])):
                    continue
            cap = arm.get("cap")
            if cap and b.mg_per_day is not None and b.mg_per_day <= Decimal(str(cap["max_mg_per_day"])):
                severity = cap["within_severity"]
                within = f"{_mg(b.mg_per_day)} mg/day is within the reduced cap of {_mg(cap['max_mg_per_day'])} mg/day."
                notes.append(f"{b.name} {within}")
            severity = _escalate(arm, severity, notes, ctx=ctx, items=items, b=b, pair=(a.name, b.name))
            out.add(
                rule,
                "interaction",
                severity,
                (a.name, b.name),
                " ".join(notes),
                source=arm.get("source", rule["source"]),
            )


def _group(rule, arm, items, ctx, out: _Collector) -> None:
    members = _distinct([i for i in items if matches(arm["members"], i)])
    if len(members) < arm.get("min_count", 2):
        return
    if "require_any" in arm and not any(matches(arm["require_any"], m) for m in members):
        return
    notes = [arm["note"]] if arm.get("note") else []
    severity = _escalate(arm, arm["severity"], notes, ctx=ctx, items=items, members=members)
    out.add(rule, "interaction", severity, tuple(sorted(m.name for m in members)), " ".join(notes))


def _condition(rule, arm, items, ctx, out: _Collector) -> None:
    if not conditions_hold(arm["when"], ctx):
        return
    for item in _distinct([i for i in items if matches(arm["drug"], i)]):
        out.add(rule, arm["kind"], arm["severity"], (item.name,), arm.get("note", ""))


def _drug_only(rule, arm, items, ctx, out: _Collector) -> None:
    unless = arm.get("unless", {})
    for item in _distinct([i for i in items if matches(arm["drug"], i)]):
        if (
            item.name in unless.get("drugs", ())
            and item.mg_per_day is not None
            and item.mg_per_day <= Decimal(str(unless["mg_per_day_at_most"]))
        ):
            continue
        out.add(rule, arm["kind"], arm["severity"], (item.name,), arm.get("message", ""))


def _washout(rule, arm, items, ctx: Context | None, out: _Collector) -> None:
    if ctx is None or not ctx.stopped:
        return
    on_regimen = {i.name for i in items}
    for stopped in ctx.stopped:
        if stopped.drug.name in on_regimen:
            continue  # restarted: a current drug, checked as an interaction
        gone = Item(drug=stopped.drug)
        if not matches(arm["stopped"], gone):
            continue
        for item in items:
            if item.name == stopped.drug.name or not matches(arm["starting"], item):
                continue
            # From the stop date to the later of the item's start and today: still inside the window?
            reference = max(item.start_date or ctx.today, ctx.today)
            elapsed = (reference - stopped.stopped_on).days
            tiers = arm.get("tiers") or [
                {
                    "days": arm.get("days_by_drug", {}).get(
                        stopped.drug.name, arm.get("days", arm.get("default_days"))
                    ),
                    "severity": arm["severity"],
                }
            ]
            hit = next((t for t in sorted(tiers, key=lambda t: t["days"]) if elapsed < t["days"]), None)
            if hit is None:
                continue
            longest = max(t["days"] for t in tiers)
            detail = (
                f"{stopped.drug.name} was stopped on {dates.day(stopped.stopped_on, year=True)}, "
                f"{max(elapsed, 0)} day(s) before "
                f"{item.name} ({dates.day(reference, year=True)}); at least {longest} days are needed."
            )
            if arm.get("note"):
                detail += f" {arm['note']}"
            out.add(rule, "washout", hit["severity"], (stopped.drug.name, item.name), detail)


def _doses(items, ctx, out: _Collector) -> None:
    rb = book()
    top = rb.data["max_dose"]
    for item in _merged(items):
        daily: list[tuple[Decimal, str, dict, str]] = []
        per_dose: list[tuple[Decimal, str, dict, str]] = []
        base = (
            (item.drug.max_mg_per_day, top["severity"], top, "Above the formulary maximum.")
            if item.drug.max_mg_per_day is not None
            else None
        )
        replacements = []
        for rule in rb.rules:
            for arm in rule["arms"]:
                if arm["type"] != "dose" or not matches(arm["drug"], item):
                    continue
                if not conditions_hold(arm.get("when"), ctx):
                    continue
                if "with_drug" in arm and not any(
                    matches(arm["with_drug"], other) for other in items if other.name != item.name
                ):
                    continue
                form = item.form.lower()
                if "form_is" in arm and form not in arm["form_is"]:
                    continue
                if "form_contains" in arm and not any(
                    re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", form) for word in arm["form_contains"]
                ):
                    continue
                entry = (
                    Decimal(str(arm.get("max_mg_per_day", arm.get("max_mg_per_dose")))),
                    arm["severity"],
                    rule,
                    arm.get("note", ""),
                )
                if "max_mg_per_dose" in arm:
                    per_dose.append(entry)
                elif arm.get("replaces_formulary_max"):
                    replacements.append(entry)
                else:
                    daily.append(entry)
        if replacements:
            base = min(replacements, key=lambda e: e[0])
        if base is not None:
            daily.append(base)
        for limits, amount, unit in ((daily, item.mg_per_day, "mg/day"), (per_dose, item.mg_per_dose, "mg per dose")):
            if amount is None:
                continue
            over = [e for e in limits if amount > e[0]]
            if not over:
                continue
            cap, severity, rule, note = min(over, key=lambda e: (e[0], SEVERITY_RANK[e[1]]))
            detail = f"{_mg(amount)} {unit} is above {_mg(cap)} {unit}."
            if note:
                detail += f" {note}"
            if rule is top:
                detail += f" Usual maximum: {item_max_text(item)}."
            out.add(rule, "max_dose", severity, (item.name,), detail)


def item_max_text(item: Item) -> str:
    return f"{_mg(item.drug.max_mg_per_day)} mg/day" if item.drug.max_mg_per_day is not None else "not set"


def _duplicates(items, out: _Collector) -> None:
    rb = book()
    section = rb.data["duplicate_therapy"]
    moiety = section["same_moiety"]
    rule_stub = {"id": moiety["id"], "title": "The same active ingredient twice", "mechanism": "", "action":
                 "Check this is intended; stop one, or end the oral overlap of a long-acting injection on schedule.",
                 "source": "Duplicate-therapy check (no §2 row): same ingredient", "confidence": "—"}  # fmt: skip
    for i, first in enumerate(items):
        for second in items[i + 1 :]:
            if not (first.drug.moiety & second.drug.moiety):
                continue
            names = {first.name, second.name}
            lai_pair = len(names) == 2 and any(rb.lai_parents.get(x) == y for x in names for y in names)
            severity = moiety["lai_oral_severity"] if lai_pair else moiety["severity"]
            detail = (
                "An oral drug with its own long-acting injection: an oral overlap is expected when the LAI starts, "
                "then it must end."
                if lai_pair
                else "Same ingredient in both."
            )
            out.add(
                rule_stub,
                "duplicate_therapy",
                severity,
                tuple(sorted(names)) if len(names) == 2 else (first.name, second.name),
                detail,
            )
    for group in section["groups"]:
        members = _distinct([i for i in items if matches(group["members"], i)])
        if len(members) < 2 or _moiety_clusters(members) < 2:
            continue
        stub = {"id": group["id"], "title": f"Duplicate therapy: {group['label']}", "mechanism": "",
                "action": "Check the combination is intended (e.g. a cross-taper) and document why.",
                "source": "Duplicate-therapy check (no §2 row): same class", "confidence": "—"}  # fmt: skip
        out.add(stub, "duplicate_therapy", group["severity"], tuple(sorted(m.name for m in members)), "")


def _moiety_clusters(members: list[Item]) -> int:
    clusters: list[set[str]] = []
    for member in members:
        joined = [c for c in clusters if c & member.drug.moiety]
        merged = set(member.drug.moiety).union(*joined) if joined else set(member.drug.moiety)
        clusters = [c for c in clusters if c not in joined] + [merged]
    return len(clusters)


def _norm(text: str) -> str:
    text = text.lower().replace("’", "").replace("'", "")
    return re.sub(r"[^a-z0-9/]+", " ", text).strip()


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _allergen(allergy: AllergyInfo, rb: RuleBook) -> tuple[set[str], Drug | None]:
    """The names an allergy stands for (normalised) and, when it names a formulary drug, that drug.
    Free text naming a formulary drug, brand or alias ("Wellbutrin", "Tegretol") counts as that drug."""
    named = allergy.drug_name
    if not named:
        found = formulary.names().resolve(allergy.substance)
        named = found.generic_name if found is not None else ""
    allergen = {_norm(allergy.substance)}
    drug = rb.drugs.get(named) if named else None
    if drug is not None:
        allergen |= {_norm(part) for part in drug.components} | {_norm(named)}
    return allergen, drug


def _allergy_classes(allergy: AllergyInfo, config: dict) -> set[str]:
    wanted = {_singular(_norm(text).replace(" ", "_")) for text in (allergy.drug_class, allergy.substance) if text}
    terms = config.get("class_terms", {})
    wanted |= {terms[_norm(text)] for text in (allergy.drug_class, allergy.substance) if text and _norm(text) in terms}
    return wanted


def _cross_group(group: dict, allergen: set[str], allergen_drug: Drug | None, classes: set[str], item: Item) -> bool:
    """The allergen and this (different) drug are both in the group."""
    if not matches(group["members"], item):
        return False
    if classes & set(group.get("class_names", ())):
        return True
    if allergen & {_norm(name) for name in group["members"].get("drugs", ())}:
        return True
    return allergen_drug is not None and matches(group["members"], Item(drug=allergen_drug))


def _allergies(items, ctx: Context | None, out: _Collector) -> None:
    if ctx is None or not ctx.allergies:
        return
    rb = book()
    config = rb.data["allergy"]
    for item in _distinct(items):
        drug = item.drug
        names = {_norm(n) for n in (drug.name, *drug.components, *drug.moiety, *drug.brand_names)}
        class_keys = {_norm(drug.drug_class).replace(" ", "_"), *(t.lower() for t in drug.tags)}
        class_keys |= {name.lower() for name, sel in rb.sets.items() if matches(sel, item)}
        for allergy in ctx.allergies:
            allergen, allergen_drug = _allergen(allergy, rb)
            wanted_classes = _allergy_classes(allergy, config)
            described = f"Allergy recorded: {allergy.substance} ({allergy.severity}"
            described += f"; {allergy.reaction})." if allergy.reaction else ")."
            if names & allergen:
                rule = {"id": config["drug"]["id"], "title": "Allergy to this drug", "mechanism": "",
                        "action": "Do not give unless the allergy is disproved; record why if you override.",
                        "source": "Patient allergy list", "confidence": "—"}  # fmt: skip
                severity = config["drug"]["severity_by_reaction"].get(allergy.severity, MAJOR)
                out.add(rule, "allergy", severity, (drug.name,), described)
            elif wanted_classes & class_keys:
                rule = {"id": config["class"]["id"], "title": "Allergy to this drug's class", "mechanism": "",
                        "action": "Check cross-reactivity; give only with a documented reason.",
                        "source": "Patient allergy list (class)", "confidence": "—"}  # fmt: skip
                severity = config["class"]["severity_by_reaction"].get(allergy.severity, MODERATE)
                out.add(rule, "allergy", severity, (drug.name,), described)
            else:
                _cross_sensitivity(item, allergy, allergen, allergen_drug, wanted_classes, described, config, out)


def _cross_sensitivity(item, allergy, allergen, allergen_drug, classes, described, config, out: _Collector) -> None:
    """One alert, from the strictest group that links the allergen to this drug."""
    hits = [g for g in config.get("cross_sensitivity", ()) if _cross_group(g, allergen, allergen_drug, classes, item)]
    if not hits:
        return
    severities = [(g["severity_by_reaction"].get(allergy.severity, MODERATE), g) for g in hits]
    severity, group = min(severities, key=lambda pair: SEVERITY_RANK[pair[0]])
    rule = {"id": group["id"], "title": f"Cross-sensitivity ({group['label']})", "mechanism": group["statement"],
            "action": group["action"], "source": group["source"], "confidence": group["confidence"]}  # fmt: skip
    detail = f"{described} {item.name} is not that drug, but it is a possible cross-sensitivity."
    out.add(rule, "allergy", severity, (item.name,), detail)


def _distinct(items: list[Item]) -> list[Item]:
    seen: dict[str, Item] = {}
    for item in items:
        seen.setdefault(item.name, item)
    return list(seen.values())


def _merged(items: list[Item]) -> list[Item]:
    """One item per drug; a drug listed twice counts with its total daily dose (if both are known)."""
    by_name: dict[str, Item] = {}
    for item in items:
        kept = by_name.get(item.name)
        if kept is None:
            by_name[item.name] = item
        else:
            # A dose not given (an outside medication's is free text) adds nothing known: the known
            # doses are at least the total, so a cap they pass is still caught.
            known = [dose for dose in (kept.mg_per_day, item.mg_per_day) if dose is not None]
            total = sum(known) if known else None
            by_name[item.name] = Item(drug=kept.drug, mg_per_day=total, form=kept.form, route=kept.route,
                                      start_date=kept.start_date)  # fmt: skip
    return list(by_name.values())


_ARMS = {"pair": _pair, "group": _group, "condition": _condition, "drug": _drug_only, "washout": _washout}


def check_regimen(
    items: list[Item], *, context: Context | None = None, not_checked: tuple[NotChecked, ...] = ()
) -> CheckResult:
    """Every alert for this regimen (and patient, if a context is given), most severe first;
    ``not_checked`` (drugs of the regimen that are not Items) is carried on the result."""
    items = sorted(items, key=lambda i: i.name)
    stopped = [Item(drug=s.drug) for s in context.stopped] if context is not None else []
    out = _Collector([*stopped, *items])  # a washout alert names a stopped drug
    rb = book()
    for rule in rb.rules:
        for arm in rule["arms"]:
            handler = _ARMS.get(arm["type"])
            if handler is not None:
                handler(rule, arm, items, context, out)
    _doses(items, context, out)
    _duplicates(items, out)
    _allergies(items, context, out)
    alerts = list(out.alerts.values())
    alerts = [a for a in alerts if not _superseded(a, alerts, rb)]
    return CheckResult(sorted(alerts, key=PrescribingAlert.sort_key), not_checked)


def _superseded(alert: PrescribingAlert, alerts: list[PrescribingAlert], rb: RuleBook) -> bool:
    rule = rb.rules_by_id.get(alert.rule)
    by = set(rule.get("superseded_by", ())) if rule else set()
    return bool(by) and any(o.rule in by and set(alert.drugs) <= set(o.drugs) for o in alerts)


# -- From the database ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """A start or a dose change, as the prescriber is about to save it."""

    medication: Any
    mg_per_day: Decimal | None
    mg_per_dose: Decimal | None = None
    form: str = ""
    route: str = ""
    start_date: datetime.date | None = None


def item_for(prescription) -> Item:
    return Item(
        drug=Drug.from_medication(prescription.medication),
        mg_per_day=prescription.daily_dose_mg,
        mg_per_dose=prescription.dose_mg,
        form=prescription.form,
        route=prescription.route,
        start_date=prescription.start_date,
    )


def outside_regimen(outside) -> tuple[list[Item], tuple[NotChecked, ...]]:
    """The active outside medications: coded ones as Items (no dose: it is free text), the
    uncoded ones' names as NotChecked (once each, by name)."""
    active = [o for o in outside if o.is_active]
    items = [Item(drug=Drug.from_medication(o.medication), start_date=o.start_date) for o in active if o.medication_id]
    names: dict[str, str] = {}
    for o in active:
        if not o.medication_id:
            names.setdefault(o.name.strip().casefold(), o.name.strip())
    return items, tuple(NotChecked(names[key]) for key in sorted(names))


def context_for(patient, *, allergies, diagnoses, stopped, today: datetime.date) -> Context:
    from django.utils import timezone

    return Context(
        today=today,
        age=patient.age_on(today),
        pregnancy_status=patient.pregnancy_status or "",
        allergies=tuple(
            AllergyInfo(
                substance=a.substance,
                drug_name=a.medication.generic_name if a.medication_id else "",
                drug_class=a.drug_class,
                severity=a.severity,
                reaction=a.reaction,
            )
            for a in allergies
            if a.is_active
        ),
        diagnoses=tuple(
            DiagnosisInfo(
                code=d.icd10_code,
                active=d.status == "active",
                recorded_on=d.onset_date or timezone.localdate(d.recorded_at),
                resolved_on=d.resolved_date,
            )
            for d in diagnoses
        ),
        stopped=tuple(
            StoppedDrug(drug=Drug.from_medication(rx.medication), stopped_on=rx.end_date)
            for rx in stopped
            if rx.end_date is not None and (today - rx.end_date).days < book().max_washout_days
        ),
    )


def check_for_patient(
    patient, *, proposed: Proposal, replacing=None, today: datetime.date | None = None
) -> CheckResult:
    """The alerts for the regimen this start or dose change would leave, with the outside
    medications the checks could not see. Four queries, whatever the regimen: prescriptions
    (active, and stopped within the longest washout), active outside medications, allergies,
    diagnoses."""
    today = today or timezone.localdate()
    horizon = today - datetime.timedelta(days=book().max_washout_days)
    rows = list(
        Prescription.objects.filter(patient=patient)
        .filter(Q(status=Prescription.Status.ACTIVE) | Q(end_date__gte=horizon))
        .select_related("medication")
    )
    skip = replacing.pk if replacing is not None else None
    items = [item_for(rx) for rx in rows if rx.is_active and rx.pk != skip]
    outside_items, not_checked = outside_regimen(patient.outside_medications.active().select_related("medication"))
    items.extend(outside_items)
    items.append(
        Item(
            drug=Drug.from_medication(proposed.medication),
            mg_per_day=proposed.mg_per_day,
            mg_per_dose=proposed.mg_per_dose,
            form=proposed.form,
            route=proposed.route,
            start_date=proposed.start_date,
        )
    )
    context = context_for(
        patient,
        allergies=list(patient.allergies.filter(is_active=True).select_related("medication")),
        diagnoses=list(patient.diagnoses.all()),
        stopped=[rx for rx in rows if not rx.is_active],
        today=today,
    )
    return check_regimen(items, context=context, not_checked=not_checked)


def check_current(
    patient, *, prescriptions, allergies, diagnoses, outside=(), today: datetime.date | None = None
) -> CheckResult:
    """The current regimen's alerts from rows a page already loaded (the chart), its outside
    medications included: no queries of its own when the prescriptions and the outside
    medications come with their medication and the allergies with theirs."""
    from django.utils import timezone

    today = today or timezone.localdate()
    prescriptions = list(prescriptions)
    outside_items, not_checked = outside_regimen(outside)
    items = [*(item_for(rx) for rx in prescriptions if rx.is_active), *outside_items]
    if not items:
        return CheckResult((), not_checked)
    context = context_for(
        patient,
        allergies=list(allergies),
        diagnoses=list(diagnoses),
        stopped=[rx for rx in prescriptions if not rx.is_active],
        today=today,
    )
    return check_regimen(items, context=context, not_checked=not_checked)


def blocking_summary(alerts: list[PrescribingAlert]) -> list[dict[str, str]]:
    """For the audit trail: rule ids and severities only, never free text."""
    return [{"rule": a.rule, "severity": a.severity} for a in alerts if a.blocking]
