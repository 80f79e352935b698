"""Showing prescribing-check alerts: badges, labels, and the chart's regimen panel."""

from __future__ import annotations

from django import template

from medications import safety

register = template.Library()

BADGES = {
    safety.CONTRAINDICATED: "text-bg-danger",
    safety.MAJOR: "text-bg-warning",
    safety.MODERATE: "text-bg-info",
    safety.MINOR: "text-bg-secondary",
}
BORDERS = {
    safety.CONTRAINDICATED: "border-danger",
    safety.MAJOR: "border-warning",
    safety.MODERATE: "border-info",
    safety.MINOR: "border-secondary",
}


@register.filter
def severity_badge(severity: str) -> str:
    return BADGES.get(severity, "text-bg-secondary")


@register.filter
def severity_border(severity: str) -> str:
    return BORDERS.get(severity, "border-secondary")


@register.filter
def alert_kind(kind: str) -> str:
    return safety.KIND_LABELS.get(kind, kind)


@register.filter
def any_blocking(alerts) -> bool:
    """Works on PrescribingAlert objects and on the dicts stored on a PrescriptionEvent."""
    return any(_severity(a) in safety.BLOCKING for a in alerts or ())


def _severity(alert) -> str:
    return alert["severity"] if isinstance(alert, dict) else alert.severity


@register.inclusion_tag("medications/_regimen_alerts.html")
def regimen_alerts(patient, active_prescriptions, past_prescriptions, allergies, diagnoses, outside=()):
    """The current regimen's alerts on the chart, outside medications included, from the rows the
    chart already loaded (no queries of its own: prescriptions and outside medications come with
    their medication, allergies with theirs), and the line naming what was not checked."""
    alerts = safety.check_current(
        patient,
        prescriptions=[*active_prescriptions, *past_prescriptions],
        allergies=allergies,
        diagnoses=diagnoses,
        outside=outside,
    )
    counts = [(severity, sum(a.severity == severity for a in alerts)) for severity in safety.SEVERITIES]
    return {
        "patient": patient,
        "alerts": alerts,
        "counts": [(severity, n) for severity, n in counts if n],
        "blocking": any(a.blocking for a in alerts),
        "not_checked": alerts.not_checked_line,
    }


@register.filter
def not_checked_line(value) -> str:
    """The "Not checked for interactions: …" line of a check result (safety.CheckResult) or of
    what an event stored (PrescriptionEvent.not_checked)."""
    return safety.not_checked_line(getattr(value, "not_checked", value))
