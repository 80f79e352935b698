"""Data for the score chart: scores over time, the medication timeline (one band per drug,
a segment per dose, a marker per change) and side-effect reports.

The same rows feed the chart (``json_script`` → static/js/measures.js) and its table
alternative, so the two never disagree. Callers pass rows they loaded in a constant number of
queries (see templatetags/measures_tags.py).

Every moment on the chart is the viewer's wall clock, without an offset ("2026-03-04T21:30:00"):
the browser reads it as its own local time, so the axis shows the viewer's days whatever zone the
browser is in, and a score from this evening falls inside "today" like the range's end does.
"""

from __future__ import annotations

import datetime
from collections import OrderedDict
from decimal import Decimal

from django.utils import timezone

from clinic import dates
from medications.models import DOSES_PER_DAY, Frequency, PrescriptionEvent, TriageLevel
from patients import instruments

ONCE_DAILY = {"qd", "qam", "qhs"}
DIVIDED = {"bid", "tid", "qid"}


def _mg(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def dose_label(dose_mg: Decimal, frequency: str) -> str:
    """'100 mg/day'; '50 mg twice daily (100 mg/day)'; '25 mg every 2 weeks'."""
    if frequency in ONCE_DAILY or not frequency:
        return f"{_mg(dose_mg)} mg/day"
    label = Frequency(frequency).label
    if frequency in DIVIDED:
        daily = (dose_mg * DOSES_PER_DAY[Frequency(frequency)]).quantize(Decimal("0.001"))
        return f"{_mg(dose_mg)} mg {label} ({_mg(daily)} mg/day)"
    return f"{_mg(dose_mg)} mg {label}"


def _daily(dose_mg: Decimal, frequency: str) -> float:
    per_day = DOSES_PER_DAY[Frequency(frequency)] if frequency else Decimal(1)
    return float((dose_mg * per_day).quantize(Decimal("0.001")))


def _noon(day: datetime.date) -> str:
    # Local noon: a date drawn on a time axis never slips to the day before in the viewer's zone.
    return f"{day.isoformat()}T12:00:00"


def _wall(moment: datetime.datetime) -> str:
    """The viewer's wall clock (the active zone), no offset: on the same clock as the range."""
    return timezone.localtime(moment).replace(tzinfo=None).isoformat(timespec="seconds")


def medication_timeline(events, today: datetime.date) -> tuple[list[dict], list[dict]]:
    """(bands, changes) from PrescriptionEvents (with prescription__medication), oldest first.

    bands: one per drug, ``segments`` of a constant dose; changes: each dose change or stop."""
    Kind = PrescriptionEvent.Kind
    by_prescription: OrderedDict[int, list] = OrderedDict()
    for event in events:
        by_prescription.setdefault(event.prescription_id, []).append(event)
    bands: OrderedDict[str, dict] = OrderedDict()
    changes = []
    for rx_events in by_prescription.values():
        rx = rx_events[0].prescription
        drug = rx.medication.generic_name
        band = bands.setdefault(drug, {"drug": drug, "segments": []})
        current = None  # (start date, dose, frequency)
        for event in rx_events:
            frequency = event.to_frequency or (current[2] if current else rx.frequency)
            if event.kind == Kind.STARTED:
                if current:
                    band["segments"].append(_segment(current, event.effective_date))
                current = (event.effective_date, event.to_dose_mg, frequency)
            elif event.kind == Kind.DOSE_CHANGED and current:
                band["segments"].append(_segment(current, event.effective_date))
                before, after = dose_label(current[1], current[2]), dose_label(event.to_dose_mg, frequency)
                changes.append(
                    {
                        "t": _noon(event.effective_date),
                        "date": event.effective_date,
                        "drug": drug,
                        "label": f"{drug} {_change(before, after)}",
                    }
                )
                current = (event.effective_date, event.to_dose_mg, frequency)
            elif event.kind == Kind.DISCONTINUED and current:
                band["segments"].append(_segment(current, event.effective_date))
                changes.append(
                    {
                        "t": _noon(event.effective_date),
                        "date": event.effective_date,
                        "drug": drug,
                        "label": f"{drug} stopped",
                    }
                )
                current = None
        if current:
            band["segments"].append(_segment(current, max(today, current[0]), ongoing=True))
    return list(bands.values()), changes


def _segment(current: tuple, end: datetime.date, ongoing: bool = False) -> dict:
    start, dose, frequency = current
    return {
        "start": _noon(start),
        "end": _noon(max(end, start)),
        "start_date": start,
        "end_date": None if ongoing else end,
        "mg_per_day": _daily(dose, frequency),
        "label": dose_label(dose, frequency),
        "ongoing": ongoing,
    }


def _change(before: str, after: str) -> str:
    """'50 mg/day', '100 mg/day' → '50 → 100 mg/day' when the units match."""
    if before.endswith(" mg/day") and after.endswith(" mg/day") and "(" not in before + after:
        return f"{before.removesuffix(' mg/day')} → {after}"
    return f"{before} → {after}"


def score_series(responses) -> list[dict]:
    """One series per charted questionnaire (PHQ-9, GAD-7), oldest point first."""
    series: OrderedDict[str, dict] = OrderedDict()
    for response in sorted(responses, key=lambda r: (r.submitted_at, r.pk)):
        definition = instruments.get(response.instrument)
        if not definition.charted:
            continue
        entry = series.setdefault(
            response.instrument,
            {"instrument": response.instrument, "label": definition.name, "max": definition.max_total, "points": []},
        )
        entry["points"].append(
            {
                "t": _wall(response.submitted_at),
                "y": response.total,
                "band": response.band_label,
                "worsened": response.worsened,
            }
        )
    return list(series.values())


def _band_instrument(series: list[dict]):
    """Whose bands the chart draws: PHQ-9's if it is charted, else GAD-7's (None: no scores)."""
    codes = [s["instrument"] for s in series]
    code = instruments.PHQ9 if instruments.PHQ9 in codes else (codes[0] if codes else None)
    return instruments.get(code) if code else None


def thresholds(series: list[dict]) -> list[dict]:
    """Band edges to draw as reference lines (y), with the band each one opens (named on the band
    axis, between y and high)."""
    definition = _band_instrument(series)
    if definition is None:
        return []
    return [{"y": band.low, "high": band.high, "label": band.label.lower()} for band in definition.bands[1:]]


def chart_data(*, responses, events, reports=(), today: datetime.date | None = None) -> dict:
    today = today or timezone.localdate()
    bands, changes = medication_timeline(events, today)
    series = score_series(responses)
    banded = _band_instrument(series)
    side_effects = [
        {
            "t": _wall(report.created_at),
            "label": f"Side-effect report: {report.severity}"
            + (f" ({report.prescription.medication.generic_name})" if report.prescription_id else "")
            + (f" · {TriageLevel(report.triage).label.lower()}" if report.triage != TriageLevel.ROUTINE else ""),
        }
        for report in sorted(reports, key=lambda r: r.created_at)
    ]
    moments = [p["t"][:10] for s in series for p in s["points"]]
    moments += [seg["start"][:10] for band in bands for seg in band["segments"]]
    moments += [r["t"][:10] for r in side_effects]
    start = min(moments, default=today.isoformat())
    return {
        "series": series,
        "thresholds": thresholds(series),
        "band_instrument": banded.name if banded else "",
        "medications": [
            {"drug": band["drug"], "segments": [_public(seg) for seg in band["segments"]]} for band in bands
        ],
        "changes": [{k: v for k, v in change.items() if k != "date"} for change in changes],
        "side_effects": side_effects,
        "range": {"start": f"{start}T00:00:00", "end": f"{today.isoformat()}T23:59:59"},
        "y_max": max([s["max"] for s in series], default=27),
    }


def _public(segment: dict) -> dict:
    return {k: v for k, v in segment.items() if k not in ("start_date", "end_date")}


def table_rows(*, responses, events, reports=(), today: datetime.date | None = None) -> dict:
    """The same facts as the chart, for the <table> alternative."""
    today = today or timezone.localdate()
    bands, changes = medication_timeline(events, today)
    doses = [
        {
            "drug": band["drug"],
            **segment,
            "from_day": dates.day(segment["start_date"]),
            "until_day": dates.day(segment["end_date"]),
        }
        for band in bands
        for segment in band["segments"]
    ]
    doses.sort(key=lambda row: (row["start_date"], row["drug"]))
    # Dates printed here, not by the date filter in the rows (~60 of them on a chart).
    charted = (r for r in responses if instruments.get(r.instrument).charted)
    return {
        "scores": [(r, dates.day(r.submitted_at)) for r in sorted(charted, key=lambda r: (r.submitted_at, r.pk))],
        "doses": doses,
        "changes": [{**change, "day": dates.day(change["date"])} for change in changes],
        "reports": [(r, dates.day(r.created_at)) for r in sorted(reports, key=lambda r: r.created_at)],
    }


# -- Patient-reported adherence (medications.adherence), drawn beside the scores -----------------

ADHERENCE_WIDTH, ADHERENCE_HEIGHT, ADHERENCE_PAD = 320, 120, 24
# Up to this many check-ins are drawn (the newest); the table lists them all.
ADHERENCE_SHOWN = 13
ADHERENCE_COLOURS = ("#0d6efd", "#d63384", "#198754", "#fd7e14", "#6f42c1", "#20c997")


def adherence_trend(answers) -> dict:
    """Points of days missed per medicine per check-in (oldest first), as an SVG needs them:
    x by check-in, y by days missed out of the window (0 at the bottom). ``answers`` come from
    patients.chart.adherence_answers (check-in and prescription attached): no query."""
    check_ins = sorted({(a.check_in.submitted_at, a.check_in_id) for a in answers})[-ADHERENCE_SHOWN:]
    if not check_ins:
        return {"series": [], "rows": []}
    shown = {cid for _, cid in check_ins}
    column = {cid: n for n, (_, cid) in enumerate(check_ins)}
    span_x = ADHERENCE_WIDTH - 2 * ADHERENCE_PAD
    step = span_x / max(len(check_ins) - 1, 1)
    top = max(a.check_in.days for a in answers if a.check_in_id in shown)
    by_drug: dict[str, list] = OrderedDict()
    rows = []
    for answer in answers:
        drug = answer.prescription.medication.generic_name
        rows.append(
            {
                "day": dates.day(answer.check_in.submitted_at),
                "drug": drug,
                "missed": answer.missed_days,
                "days": answer.check_in.days,
                "reasons": ", ".join(answer.reason_labels),
                "cost": answer.cost_concern,
                "prescription_id": answer.prescription_id,
            }
        )
        if answer.check_in_id not in shown:
            continue
        x = ADHERENCE_PAD + column[answer.check_in_id] * step
        y = ADHERENCE_HEIGHT - ADHERENCE_PAD - answer.missed_days / top * (ADHERENCE_HEIGHT - 2 * ADHERENCE_PAD)
        by_drug.setdefault(drug, []).append({"x": round(x, 1), "y": round(y, 1), "missed": answer.missed_days})
    series = [
        {
            "drug": drug,
            "colour": ADHERENCE_COLOURS[n % len(ADHERENCE_COLOURS)],
            "points": points,
            "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
        }
        for n, (drug, points) in enumerate(by_drug.items())
    ]
    return {
        "series": series,
        "rows": rows[::-1],  # newest first in the table
        "width": ADHERENCE_WIDTH,
        "height": ADHERENCE_HEIGHT,
        "top": top,
        "baseline": ADHERENCE_HEIGHT - ADHERENCE_PAD,
        "topline": ADHERENCE_PAD,
        "left": ADHERENCE_PAD,
        "right": ADHERENCE_WIDTH - ADHERENCE_PAD,
    }
