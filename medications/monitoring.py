"""Lab and measure monitoring: which tests a patient's medicines call for and when, entering a
result (unit and plausibility checks), and flagging it (critical values raise an alert).

The rules are data: medications/data/monitoring_profiles.json, one entry per monitoring profile
of the reference (MON-LI, MON-CLZ, ...), each scheduled item with its source and certainty mark.
Items the reference leaves to clinical judgement are kept there as ``not_scheduled`` and shown on
the chart, never turned into reminders.

How an item falls due (per patient, per item, from the drugs it applies to):

- the *course start* is the earliest start date of the active prescriptions it applies to;
- ``baseline``: due at the start, unless a result was taken up to ``baseline_window_days`` before;
- ``after_start`` / ``after_change`` / ``after_interacting_drug``: due N days after the start, the
  latest dose change (or increase), or the latest start/stop of an interacting drug;
- ``every``: the interval of the phase the last result fell in (counted from the course start),
  from the last result — clozapine ANC weekly, then every 2 weeks after 6 months, then monthly;
- a flagged last result can bring the next one forward (``recheck_days`` of its band, with its
  ``recheck_source``; a flagged band without one says why in ``no_recheck``).

The earliest of these is the item's due date. Items of several profiles on the same test (weight
for lithium and for an antipsychotic) are merged into one.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, ExpressionWrapper, F, FloatField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from clinic import audit, dates
from clinic.access import patients_for
from clinic.models import AuditEvent, Notification
from medications.models import (
    DOSES_PER_DAY,
    Frequency,
    LabResult,
    Prescription,
    PrescriptionEvent,
    TriageLevel,
)
from notifications import kinds, messages, outbox
from patients import alerts

DATA_FILE = Path(__file__).resolve().parent / "data" / "monitoring_profiles.json"

# Blood pressure is entered as one reading ("128/82") and stored as two results.
BP = "BP"
BP_PARTS = ("SBP", "DBP")
WEIGHT_GAIN_SWITCH = Decimal("1.05")  # MON-AP: consider switching if weight gain >= 5 %
LAB_REMINDER_TTL = datetime.timedelta(days=7)


# -- The rules (medications/data/monitoring_profiles.json) ------------------------------------


@dataclass(frozen=True)
class Band:
    when: dict[str, Decimal]
    flag: str
    level: str
    label: str
    source: str
    confidence: str
    recheck_days: int | None = None
    recheck_source: str = ""
    no_recheck: str = ""  # why a flagged band sets no re-check

    def contains(self, value: Decimal) -> bool:
        tests = {
            "lt": lambda bound: value < bound,
            "lte": lambda bound: value <= bound,
            "gt": lambda bound: value > bound,
            "gte": lambda bound: value >= bound,
        }
        return all(tests[op](bound) for op, bound in self.when.items())


@dataclass(frozen=True)
class Test:
    code: str
    name: str
    patient_name: str
    unit: str
    units: dict[str, Decimal]
    physical_range: tuple[Decimal, Decimal]
    bands: tuple[Band, ...]
    note: str = ""

    @property
    def units_text(self) -> str:
        names = list(self.units)
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]

    def classify(self, canonical: Decimal) -> Band | None:
        return next((band for band in self.bands if band.contains(canonical)), None)


@dataclass(frozen=True)
class Window:
    days: int
    grace_days: int = 0
    early_days: int = 0


@dataclass(frozen=True)
class Phase:
    from_day: int
    days: int
    grace_days: int
    text: str


@dataclass(frozen=True)
class Item:
    id: str
    profile: str
    label: str
    tests: tuple[str, ...]
    baseline: bool
    source: str
    confidence: str
    phases: tuple[Phase, ...] = ()
    after_start: Window | None = None
    after_change: Window | None = None
    change_on: str = ""  # "dose_change" or "dose_increase"
    after_interacting: Window | None = None
    interacting_tags: frozenset[str] = frozenset()
    interacting_drugs: frozenset[str] = frozenset()
    applies_to_drugs: frozenset[str] | None = None
    min_age: int | None = None

    @property
    def test(self) -> str:
        return self.tests[0]


@dataclass(frozen=True)
class Profile:
    code: str
    name: str
    source: str
    items: tuple[Item, ...]
    not_scheduled: tuple[dict, ...]


@dataclass(frozen=True)
class Rules:
    tests: dict[str, Test]
    profiles: dict[str, Profile]
    baseline_window_days: int
    recent_stop_days: int


def _window(spec: dict | None) -> Window | None:
    if not spec:
        return None
    return Window(int(spec["days"]), int(spec.get("grace_days", 0)), int(spec.get("early_days", 0)))


def _item(profile: str, spec: dict) -> Item:
    interacting = spec.get("after_interacting_drug") or {}
    change = spec.get("after_change") or {}
    applies = spec.get("applies_to_drugs")
    return Item(
        id=spec["id"],
        profile=profile,
        label=spec["label"],
        tests=tuple(spec["tests"]),
        baseline=bool(spec.get("baseline")),
        source=spec["source"],
        confidence=spec["confidence"],
        phases=tuple(
            Phase(int(p["from_day"]), int(p["days"]), int(p.get("grace_days", 0)), p.get("text", ""))
            for p in sorted(spec.get("every", []), key=lambda p: p["from_day"])
        ),
        after_start=_window(spec.get("after_start")),
        after_change=_window(change),
        change_on=change.get("on", ""),
        after_interacting=_window(interacting),
        interacting_tags=frozenset(interacting.get("tags", [])),
        interacting_drugs=frozenset(interacting.get("drugs", [])),
        applies_to_drugs=frozenset(applies) if applies is not None else None,
        min_age=spec.get("min_age"),
    )


def _test(code: str, spec: dict) -> Test:
    return Test(
        code=code,
        name=spec["name"],
        patient_name=spec["patient_name"],
        unit=spec["unit"],
        units={unit: Decimal(str(factor)) for unit, factor in spec["units"].items()},
        physical_range=(Decimal(str(spec["physical_range"][0])), Decimal(str(spec["physical_range"][1]))),
        bands=tuple(
            Band(
                when={op: Decimal(str(bound)) for op, bound in band["when"].items()},
                flag=band["flag"],
                level=band["level"],
                label=band["label"],
                source=band["source"],
                confidence=band["confidence"],
                recheck_days=band.get("recheck_days"),
                recheck_source=band.get("recheck_source", ""),
                no_recheck=band.get("no_recheck", ""),
            )
            for band in spec["bands"]
        ),
        note=spec.get("note", ""),
    )


def load(path: Path = DATA_FILE) -> Rules:
    data = json.loads(path.read_text(encoding="utf-8"))
    conventions = data["conventions"]
    return Rules(
        tests={code: _test(code, spec) for code, spec in data["tests"].items()},
        profiles={
            code: Profile(
                code=code,
                name=spec["name"],
                source=spec["source"],
                items=tuple(_item(code, item) for item in spec["items"]),
                not_scheduled=tuple(spec.get("not_scheduled", [])),
            )
            for code, spec in data["profiles"].items()
        },
        baseline_window_days=int(conventions["baseline_window_days"]),
        recent_stop_days=int(conventions["recent_stop_days"]),
    )


@functools.cache
def rules() -> Rules:
    return load()


def entry_choices() -> list[tuple[str, str]]:
    """Tests a result can be entered for, blood pressure as one reading."""
    tests = rules().tests
    choices = [(code, test.name) for code, test in tests.items() if code not in BP_PARTS]
    choices.append((BP, "Blood pressure (systolic/diastolic)"))
    return sorted(choices, key=lambda choice: choice[1].lower())


def units_for(code: str) -> list[str]:
    tests = rules().tests
    return list(tests[BP_PARTS[0]].units) if code == BP else list(tests[code].units)


def all_units() -> list[str]:
    seen: dict[str, None] = {}
    for test in rules().tests.values():
        seen.update(dict.fromkeys(test.units))
    return list(seen)


def test_name(code: str) -> str:
    return "Blood pressure" if code == BP else rules().tests[code].name


# -- Entering a result ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    test: Test
    value: Decimal
    unit: str
    canonical: Decimal
    flag: str
    level: str
    reason: str


_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")


def _number(raw, field_label: str) -> Decimal:
    text = str(raw).strip().replace(",", ".") if raw is not None else ""
    if not _NUMBER.match(text):
        raise ValidationError({"value": f"Enter {field_label} as a number, e.g. 0.8."})
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationError({"value": f"Enter {field_label} as a number, e.g. 0.8."}) from None
    if value != value.quantize(Decimal("0.0001")) or value >= Decimal(10) ** 8:
        raise ValidationError({"value": "Use at most 8 digits before and 4 after the decimal point."})
    return value


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


def read(code: str, raw_value, unit: str) -> list[Reading]:
    """Check a typed value and unit for a test; the flagged reading(s), or ValidationError
    with a message on the field at fault. Blood pressure "128/82" gives two readings."""
    tests = rules().tests
    if code == BP:
        text = str(raw_value or "").strip()
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)", text)
        if not match:
            raise ValidationError({"value": "Enter blood pressure as systolic/diastolic, e.g. 128/82."})
        systolic, diastolic = (_number(part, "blood pressure") for part in match.groups())
        if systolic <= diastolic:
            raise ValidationError({"value": "The systolic (first) number must be higher than the diastolic."})
        return [_reading(tests["SBP"], systolic, unit), _reading(tests["DBP"], diastolic, unit)]
    if code not in tests:
        raise ValidationError({"test": "Choose a test from the list."})
    test = tests[code]
    return [_reading(test, _number(raw_value, test.name.lower()), unit)]


def _reading(test: Test, value: Decimal, unit: str) -> Reading:
    if unit not in test.units:
        raise ValidationError(
            {
                "unit": f"{test.name} is entered in {test.units_text}, not {unit or 'no unit'}. "
                "Check the unit on the lab report; other units are not converted."
            }
        )
    canonical = (value * test.units[unit]).quantize(Decimal("0.0001"))
    low, high = test.physical_range
    if not low <= canonical <= high:
        shown = f"{_fmt(value)} {unit}" + (f" (= {_fmt(canonical)} {test.unit})" if unit != test.unit else "")
        raise ValidationError(
            {
                "value": f"{shown} is outside the possible range for {test.name} "
                f"({_fmt(low)}–{_fmt(high)} {test.unit}). Check the value and the unit."
            }
        )
    band = test.classify(canonical)
    if band is None:
        flag, level, reason = LabResult.Flag.NONE, TriageLevel.ROUTINE, ""
    else:
        flag, level, reason = band.flag, band.level, band.label
    return Reading(test, value, unit, canonical, flag, level, reason)


def _weight_gain(patient, reading: Reading, collected_on: datetime.date) -> Reading:
    """MON-AP (ADA/APA 2004 ✔): consider switching if weight gain >= 5 % — measured against the
    first weight of the current antipsychotic course (from baseline_window_days before its start)."""
    starts = [
        rx.start_date
        for rx in Prescription.objects.active().filter(patient=patient).select_related("medication")
        if "MON-AP" in rx.medication.monitoring_profiles
    ]
    if not starts:
        return reading
    since = min(starts) - datetime.timedelta(days=rules().baseline_window_days)
    baseline = (
        LabResult.objects.filter(patient=patient, test_code="WEIGHT", collected_on__gte=since)
        .filter(collected_on__lt=collected_on)
        .order_by("collected_on", "created_at", "id")
        .first()
    )
    if baseline is None or reading.canonical < baseline.canonical_value * WEIGHT_GAIN_SWITCH:
        return reading
    gain = (reading.canonical / baseline.canonical_value - 1) * 100
    reason = (
        f"{gain:.1f}% above the antipsychotic baseline ({_fmt(baseline.canonical_value)} kg on "
        f"{dates.day(baseline.collected_on, year=True)}): weight gain ≥5% — consider switching (ADA/APA 2004)"
    )
    return Reading(reading.test, reading.value, reading.unit, reading.canonical, "high", TriageLevel.ROUTINE, reason)


@transaction.atomic
def record_result(
    *,
    patient,
    test_code: str,
    value,
    unit: str,
    collected_on: datetime.date,
    entered_by,
    note: str = "",
    request=None,
) -> list[LabResult]:
    """Validate, flag and store a result (two for blood pressure). Nothing is stored if any part
    is wrong. An urgent or emergency flag raises an alert for the patient's psychiatrists."""
    readings = read(test_code, value, unit)
    if collected_on is None:
        raise ValidationError({"collected_on": "Enter the date the sample or measurement was taken."})
    if collected_on > timezone.localdate():
        raise ValidationError({"collected_on": "The collection date cannot be in the future."})
    if patient.date_of_birth and collected_on < patient.date_of_birth:
        raise ValidationError({"collected_on": "The collection date is before the patient's date of birth."})
    results, alerts_raised = [], []
    for reading in readings:
        if reading.test.code == "WEIGHT":
            reading = _weight_gain(patient, reading, collected_on)
        result = LabResult.objects.create(
            patient=patient,
            test_code=reading.test.code,
            value=reading.value,
            unit=reading.unit,
            canonical_value=reading.canonical,
            canonical_unit=reading.test.unit,
            collected_on=collected_on,
            flag=reading.flag,
            level=reading.level,
            flag_reason=reading.reason[:300],
            note=note.strip(),
            entered_by=entered_by,
        )
        if result.level != TriageLevel.ROUTINE:
            alert = alerts.raise_alert(
                patient=patient,
                level=result.level,
                reasons=[f"{reading.test.name} {_fmt(reading.value)} {reading.unit}: {reading.reason}"],
                source=result,
                request=request,
                audited=False,
            )
            if alert is not None:
                alerts_raised.append(alert.pk)
        results.append(result)
    # One row for the entry (blood pressure stores two results), naming every result and alert.
    detail = {
        "test": results[0].test_code,
        "flag": results[0].flag,
        "level": results[0].level,
        "results": [r.pk for r in results],
    }
    if alerts_raised:
        detail["alerts_raised"] = alerts_raised
    audit.record(
        AuditEvent.Action.CREATE, request=request, actor=entered_by, patient=patient, obj=results[0], detail=detail
    )
    return results


def describe(result: LabResult) -> str:
    test = rules().tests.get(result.test_code)
    name = test.name if test else result.test_code
    return f"{name} {_fmt(result.value)} {result.unit}"


def recheck_text(due: datetime.date, flag: str) -> str:
    return f"re-check due {dates.day(due, year=True)} after a {flag} result"


# -- What is due -----------------------------------------------------------------------------


class Status:
    OVERDUE = "overdue"
    DUE = "due"
    UPCOMING = "upcoming"


STATUS_ORDER = {Status.OVERDUE: 0, Status.DUE: 1, Status.UPCOMING: 2}


@dataclass
class DueItem:
    patient: object
    item: Item
    test: Test
    due_on: datetime.date
    latest: datetime.date
    reason: str
    status: str
    last_result_on: datetime.date | None
    after_flag: str = ""  # a flagged last result brought it forward (its band's recheck_days)
    profiles: list[str] = field(default_factory=list)
    drugs: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.item.label

    @property
    def patient_label(self) -> str:
        return self.test.patient_name

    @property
    def is_open(self) -> bool:
        return self.status in (Status.OVERDUE, Status.DUE)


def _status(due_on: datetime.date, latest: datetime.date, today: datetime.date) -> str:
    if today > latest:
        return Status.OVERDUE
    if today >= due_on:
        return Status.DUE
    return Status.UPCOMING


def _per_day(prefix: str):
    return Case(
        *[When(**{f"{prefix}_frequency": freq.value}, then=Value(float(DOSES_PER_DAY[freq]))) for freq in Frequency],
        default=Value(1.0),
        output_field=FloatField(),
    )


def _daily(prefix: str):
    return ExpressionWrapper(Cast(f"{prefix}_dose_mg", FloatField()) * _per_day(prefix), output_field=FloatField())


def _prescriptions(patient_filter: Q, today: datetime.date, *related: str) -> list[Prescription]:
    """Active prescriptions, and those stopped recently (an interacting drug stopped can make a
    lithium level due), each with the date of its latest dose change and latest daily-dose increase.
    One query."""
    changes = PrescriptionEvent.objects.filter(
        prescription=OuterRef("pk"), kind=PrescriptionEvent.Kind.DOSE_CHANGED
    ).order_by("-effective_date", "-created_at")
    increases = changes.annotate(from_daily=_daily("from"), to_daily=_daily("to")).filter(to_daily__gt=F("from_daily"))
    since = today - datetime.timedelta(days=rules().recent_stop_days)
    return list(
        Prescription.objects.filter(patient_filter)
        .filter(Q(status=Prescription.Status.ACTIVE) | Q(end_date__gte=since))
        .select_related("medication", "patient", *related)
        .annotate(
            last_change_on=Subquery(changes.values("effective_date")[:1]),
            last_increase_on=Subquery(increases.values("effective_date")[:1]),
        )
        .order_by("patient_id", "start_date", "pk")
    )


def _latest_results(patient_filter: Q) -> list[LabResult]:
    """The newest result of each test of each patient. One query."""
    newest = (
        LabResult.objects.filter(patient=OuterRef("patient"), test_code=OuterRef("test_code"))
        .order_by("-collected_on", "-created_at", "-id")
        .values("pk")[:1]
    )
    return list(LabResult.objects.filter(patient_filter).filter(pk=Subquery(newest)))


def newest_by_test(results) -> dict[str, LabResult]:
    newest: dict[str, LabResult] = {}
    for result in results:
        current = newest.get(result.test_code)
        key = (result.collected_on, result.created_at, result.pk)
        if current is None or key > (current.collected_on, current.created_at, current.pk):
            newest[result.test_code] = result
    return newest


def _applies(item: Item, rx: Prescription) -> bool:
    if item.applies_to_drugs is not None and rx.medication.generic_name not in item.applies_to_drugs:
        return False
    return item.min_age is None or rx.patient.age_on(rx.start_date) >= item.min_age


def _interacts(item: Item, rx: Prescription) -> bool:
    med = rx.medication
    return med.generic_name in item.interacting_drugs or bool(item.interacting_tags.intersection(med.tags or []))


def _next_due(
    item: Item,
    courses: list[Prescription],
    others: list[Prescription],
    newest: dict[str, LabResult],
    today: datetime.date,
) -> tuple[datetime.date, datetime.date, str, datetime.date | None, str] | None:
    """(due on, latest, why, last result date, flag of the result that brought it forward or "")
    of the item's next occurrence, or None."""
    start = min(rx.start_date for rx in courses)
    latest_results = [newest[code] for code in item.tests if code in newest]
    last_result = max(latest_results, key=lambda r: (r.collected_on, r.created_at, r.pk), default=None)
    last = last_result.collected_on if last_result else None
    days = datetime.timedelta
    candidates: list[tuple[datetime.date, datetime.date, str, str]] = []

    def after(event: datetime.date | None, window: Window | None, why: str) -> None:
        if event is None or window is None:
            return
        due = event + days(window.days)
        if last is None or last < due - days(window.early_days):
            candidates.append((due, due + days(window.grace_days), why, ""))

    if item.baseline and (last is None or last < start - days(rules().baseline_window_days)):
        candidates.append((start, start, "baseline", ""))
    after(start, item.after_start, f"{item.after_start.days} days after the start" if item.after_start else "")
    changed_on = None
    if item.after_change:
        attr = "last_increase_on" if item.change_on == "dose_increase" else "last_change_on"
        changes = [getattr(rx, attr) for rx in courses if getattr(rx, attr) and getattr(rx, attr) > start]
        word = "dose increase" if item.change_on == "dose_increase" else "dose change"
        changed_on = max(changes, default=None)
        after(changed_on, item.after_change, f"{item.after_change.days} days after the {word}")
    if item.after_interacting:
        events = []
        for rx in others:
            if not _interacts(item, rx):
                continue
            if rx.start_date > start:
                events.append(rx.start_date)
            if rx.status == Prescription.Status.DISCONTINUED and rx.end_date and rx.end_date > start:
                events.append(rx.end_date)
        after(max(events, default=None), item.after_interacting, "after an interacting medicine started or stopped")
    if item.phases and not (item.baseline and last is None):
        base = max(last, start) if last else start
        elapsed = (base - start).days
        # The phase the last result fell in sets the interval (weekly ANC until month 6, ...).
        phase = next((p for p in reversed(item.phases) if p.from_day <= elapsed), item.phases[0])
        due = base + days(phase.days)
        candidates.append((due, due + days(phase.grace_days), phase.text, ""))
    if last_result is not None:
        test = rules().tests[last_result.test_code]
        band = test.classify(last_result.canonical_value)
        # A dose change made after the flagged result is the action on it: the item's own
        # post-change window (a lithium level 5 days later) then times the repeat.
        acted_on = changed_on is not None and changed_on > last
        if band is not None and band.recheck_days and not acted_on:
            due = last + days(band.recheck_days)
            candidates.append((due, due, recheck_text(due, band.flag), band.flag))
    if not candidates:
        return None
    due_on, latest, why, flag = min(candidates, key=lambda c: (c[0], c[1]))
    return due_on, latest, why, last, flag


def _due_for_patient(patient, prescriptions, newest, today) -> list[DueItem]:
    all_rules = rules()
    active = [rx for rx in prescriptions if rx.status == Prescription.Status.ACTIVE]
    merged: dict[str, DueItem] = {}
    for code in sorted({p for rx in active for p in rx.medication.monitoring_profiles}):
        profile = all_rules.profiles.get(code)
        if profile is None:
            continue
        for item in profile.items:
            courses = [rx for rx in active if code in rx.medication.monitoring_profiles and _applies(item, rx)]
            if not courses:
                continue
            found = _next_due(item, courses, prescriptions, newest, today)
            if found is None:
                continue
            due_on, latest, why, last, after_flag = found
            drugs = sorted({rx.medication.generic_name for rx in courses})
            current = merged.get(item.test)
            if current is not None:
                current.profiles.append(code)
                current.drugs = sorted(set(current.drugs) | set(drugs))
                if (due_on, latest) >= (current.due_on, current.latest):
                    continue
                profiles, drugs = current.profiles, current.drugs
            else:
                profiles = [code]
            merged[item.test] = DueItem(
                patient=patient,
                item=item,
                test=all_rules.tests[item.test],
                due_on=due_on,
                latest=latest,
                reason=why,
                status=_status(due_on, latest, today),
                last_result_on=last,
                after_flag=after_flag,
                profiles=profiles,
                drugs=drugs,
            )
    return sorted(merged.values(), key=lambda d: (STATUS_ORDER[d.status], d.due_on, d.test.name))


def _group(prescriptions, results) -> tuple[dict, dict, dict]:
    by_patient: dict[int, list] = defaultdict(list)
    patients: dict[int, object] = {}
    for rx in prescriptions:
        by_patient[rx.patient_id].append(rx)
        patients[rx.patient_id] = rx.patient
    newest: dict[int, list] = defaultdict(list)
    for result in results:
        newest[result.patient_id].append(result)
    return patients, by_patient, {pid: newest_by_test(rows) for pid, rows in newest.items()}


def due_items(patient, today: datetime.date | None = None, *, results=None) -> list[DueItem]:
    """Every monitoring item of the patient's active medicines, overdue first, then by due date.
    Two queries (prescriptions; latest results) — one if ``results`` (all or the newest of each
    test) are passed in."""
    today = today or timezone.localdate()
    prescriptions = _prescriptions(Q(patient=patient), today)
    if results is None:
        results = _latest_results(Q(patient=patient))
    for rx in prescriptions:
        rx.patient = patient
    return _due_for_patient(patient, prescriptions, newest_by_test(results), today)


def recheck_for(result: LabResult, due: list[DueItem]) -> DueItem | None:
    """The due item this flagged result brought forward (its band's recheck_days), while it is
    still the latest result of its test."""
    return next(
        (
            d
            for d in due
            if d.after_flag == result.flag
            and result.test_code in d.item.tests
            and d.last_result_on == result.collected_on
        ),
        None,
    )


def due_items_from(patient, prescriptions, events, results, today: datetime.date | None = None) -> list[DueItem]:
    """due_items() from rows the chart already loaded, no query: all the patient's prescriptions
    (with medication), all their prescription events and lab results. Same selection and dates
    as _prescriptions() computes in SQL."""
    today = today or timezone.localdate()
    since = today - datetime.timedelta(days=rules().recent_stop_days)
    changes: dict[int, list] = defaultdict(list)
    for event in events:
        if event.kind == PrescriptionEvent.Kind.DOSE_CHANGED:
            changes[event.prescription_id].append(event)

    def daily(dose, frequency) -> float:
        return float(dose) * float(DOSES_PER_DAY.get(frequency, 1)) if dose is not None else None

    chosen = []
    for rx in prescriptions:
        if rx.status != Prescription.Status.ACTIVE and not (rx.end_date and rx.end_date >= since):
            continue
        newest_first = sorted(changes[rx.pk], key=lambda e: (e.effective_date, e.created_at), reverse=True)
        increases = [
            e
            for e in newest_first
            if (up := daily(e.to_dose_mg, e.to_frequency)) is not None
            and (was := daily(e.from_dose_mg, e.from_frequency)) is not None
            and up > was
        ]
        rx.last_change_on = newest_first[0].effective_date if newest_first else None
        rx.last_increase_on = increases[0].effective_date if increases else None
        rx.patient = patient
        chosen.append(rx)
    chosen.sort(key=lambda rx: (rx.start_date, rx.pk))
    return _due_for_patient(patient, chosen, newest_by_test(results), today)


def _due_in(patient_filter: Q, today: datetime.date, *related: str) -> list[DueItem]:
    prescriptions = _prescriptions(patient_filter, today, *related)
    patients, by_patient, newest = _group(prescriptions, _latest_results(patient_filter))
    items: list[DueItem] = []
    for pid, rows in by_patient.items():
        if any(rx.status == Prescription.Status.ACTIVE and rx.medication.monitoring_profiles for rx in rows):
            items += _due_for_patient(patients[pid], rows, newest.get(pid, {}), today)
    return items


def due_for_psychiatrist(user, today: datetime.date | None = None) -> list[DueItem]:
    """Overdue and due items of the psychiatrist's active care-team patients, overdue first.
    Two queries whatever the number of patients."""
    today = today or timezone.localdate()
    scope = patients_for(user).filter(is_active=True).values("pk")
    items = [d for d in _due_in(Q(patient__in=scope), today) if d.is_open]
    return sorted(items, key=lambda d: (STATUS_ORDER[d.status], d.due_on, d.patient.display_name, d.test.name))


def not_scheduled_for(prescriptions) -> list[tuple[Profile, list[str]]]:
    """The documented, not automated, advice of the profiles of these (active) prescriptions."""
    profiles: dict[str, set[str]] = defaultdict(set)
    for rx in prescriptions:
        for code in rx.medication.monitoring_profiles:
            profiles[code].add(rx.medication.generic_name)
    all_rules = rules()
    return [
        (all_rules.profiles[code], sorted(drugs))
        for code, drugs in sorted(profiles.items())
        if code in all_rules.profiles
    ]


# -- Patient reminders through the outbox -----------------------------------------------------


def plan_lab_reminders(today: datetime.date | None = None) -> list[Notification]:
    """Tell patients (PHI-free) that a test or check is due. One row per patient, test, due date
    and channel: running it again creates nothing new, and an item that stays overdue is not
    repeated. Three queries plus the insert, whatever the number of patients."""
    today = today or timezone.localdate()
    now = timezone.now()
    scope = Q(patient__is_active=True, patient__user__isnull=False, patient__user__is_active=True)
    rows: list[Notification] = []
    for due in _due_in(scope, today, "patient__user__notification_preference"):
        if not due.is_open:
            continue
        rows += outbox.send_now_rows(
            due.patient.user,
            key=f"lab-due:{due.patient.pk}:{due.test.code}:{due.due_on:%Y%m%d}",
            kind=Notification.Kind.LAB_DUE,
            expires_at=now + LAB_REMINDER_TTL,
            patient=due.patient,
        )
    return outbox.insert(rows)


def _lab_due_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    # The patient's own home lists what is due; the link names no test and no patient.
    return {"details_url": messages.url("patient_home", absolute=absolute)}


def register_kinds() -> None:
    """Called from MedicationsConfig.ready()."""
    kinds.register(Notification.Kind.LAB_DUE, context=_lab_due_context)
