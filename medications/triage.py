"""Triage of side-effect reports: decides, at submission, whether a report is urgent.

Today a report is urgent when the patient ticked a symptom the reference marks for
escalation (clinical.md §4b, via the ``urgent`` flag in side_effect_checklists.json).
The safety-net work extends ``assess`` with drug-specific red flags (rash on
lamotrigine, ANC symptoms on clozapine, ...) and the alerting and escalation that follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from medications import checklists


@dataclass(frozen=True)
class TriageResult:
    urgent: bool
    reasons: list[str] = field(default_factory=list)


def assess(*, symptoms: list[str], severity: str, drug_classes: set[str]) -> TriageResult:
    reasons = [checklists.label_for(code) for code in symptoms if checklists.is_urgent(code)]
    return TriageResult(urgent=bool(reasons), reasons=reasons)
