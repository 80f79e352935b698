"""Reassessment: when each patient is next asked for a questionnaire, which prescriptions are
due for review, which scores worsened, and how often visits might be.

Rules (issue 5; intervals are settings, see clinic/settings.py):

* Questionnaire by active diagnosis: F32/F33 (depression) → PHQ-9, F41 (anxiety) → GAD-7,
  both if both, PHQ-9 when neither.
* Every TITRATE_REASSESS_ACTIVE_WEEKS (2) weeks while a medication was started, changed or
  stopped in the last TITRATE_REASSESS_RECENT_WEEKS (12) weeks; every
  TITRATE_REASSESS_STABLE_WEEKS (8) weeks otherwise; and TITRATE_REASSESS_AFTER_CHANGE_WEEKS (2)
  weeks after each start or dose change. The interval counts from the later of the last score
  and the last request (an ignored request is not re-sent every day).
* A prescription is due for review TITRATE_RX_REVIEW_WEEKS (4) weeks after its start or last
  dose change until a visit note closes it; and, as before, when it is 90+ days old and the
  patient has had no visit note for 90 days.

The planner is idempotent: an open request per questionnaire is unique in the database, and
a request counts as "asked" from its due date on.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from clinic import dates
from medications.models import Prescription, PrescriptionEvent, QuestionnaireAfterChange
from patients import instruments
from patients.models import Diagnosis, Patient, QuestionnaireAssignment, QuestionnaireResponse, VisitNote
from patients.questionnaires import enabled, open_assignment

Assignment, Response = QuestionnaireAssignment, QuestionnaireResponse
# A request left open this long after its due date expires; the schedule goes on from it.
EXPIRE_AFTER = datetime.timedelta(days=14)
# A score (or a request) this close before the post-change date counts as that reassessment.
COVER_SLACK = datetime.timedelta(days=3)
# A visit note in the last week before a review falls due counts as the review.
REVIEW_VISIT_SLACK = datetime.timedelta(days=7)
# The review window runs from TITRATE_RX_REVIEW_WEEKS to this much later ("4–6 weeks").
REVIEW_WINDOW = datetime.timedelta(weeks=2)
STALE_AFTER = datetime.timedelta(days=90)


def weeks(name: str) -> datetime.timedelta:
    return datetime.timedelta(weeks=getattr(settings, name))


def _change_kinds():
    Kind = PrescriptionEvent.Kind
    # "Changed" for the reassessment rhythm includes a stop (relapse and discontinuation
    # symptoms are watched too); the N-weeks-after rule and reviews follow starts and dose changes.
    return (Kind.STARTED, Kind.DOSE_CHANGED, Kind.DISCONTINUED), (Kind.STARTED, Kind.DOSE_CHANGED)


def instruments_for(icd10_codes: Iterable[str]) -> list[str]:
    codes = [code.upper() for code in icd10_codes]
    chosen = []
    if any(code.startswith(("F32", "F33")) for code in codes):
        chosen.append(instruments.PHQ9)
    if any(code.startswith("F41") for code in codes):
        chosen.append(instruments.GAD7)
    chosen = [code for code in chosen if enabled(code)]
    if not chosen and enabled(instruments.PHQ9):
        chosen = [instruments.PHQ9]
    return chosen


@dataclass(frozen=True)
class Due:
    on: datetime.date
    reason: str
    event: object = None


def next_due(
    *,
    today: datetime.date,
    last_score: datetime.date | None,
    last_asked: datetime.date | None,
    changes: list,
) -> Due:
    """When this questionnaire is next due, and why. ``changes`` are the patient's recent start /
    dose change / stop events (``effective_date``, ``kind``), oldest first."""
    _, after_kinds = _change_kinds()
    recent_since = today - weeks("TITRATE_REASSESS_RECENT_WEEKS")
    recent = any(recent_since <= e.effective_date <= today for e in changes)
    interval = weeks("TITRATE_REASSESS_ACTIVE_WEEKS" if recent else "TITRATE_REASSESS_STABLE_WEEKS")
    anchor = max((d for d in (last_score, last_asked) if d), default=None)
    candidates = [Due(anchor + interval if anchor else today, Assignment.Reason.SCHEDULE)]
    after = weeks("TITRATE_REASSESS_AFTER_CHANGE_WEEKS")
    for event in changes:
        if event.kind in after_kinds and event.effective_date <= today:
            due = event.effective_date + after
            if anchor is None or anchor < due - COVER_SLACK:
                candidates.append(Due(due, Assignment.Reason.DOSE_CHANGE, event))
    # On a tie the post-change reason wins: it says why, and links the change.
    return min(candidates, key=lambda d: (d.on, d.reason != Assignment.Reason.DOSE_CHANGE))


def expire_overdue(today: datetime.date) -> int:
    return (
        Assignment.objects.open()
        .filter(due_on__lt=today - EXPIRE_AFTER)
        .update(status=Assignment.Status.EXPIRED, closed_at=timezone.now())
    )


def plan_reassessments(today: datetime.date | None = None) -> list[QuestionnaireAssignment]:
    """Beat task (patients.tasks.plan_reassessments): open the questionnaires that are due, each
    with a PHI-free reminder. Running it again the same day creates nothing."""
    today = today or timezone.localdate()
    expire_overdue(today)
    change_kinds, _ = _change_kinds()
    recent_since = today - max(weeks("TITRATE_REASSESS_RECENT_WEEKS"), weeks("TITRATE_REASSESS_AFTER_CHANGE_WEEKS"))
    events = list(
        PrescriptionEvent.objects.filter(
            kind__in=change_kinds,
            effective_date__gte=recent_since,
            effective_date__lte=today,
            prescription__patient__is_active=True,
        )
        .select_related("prescription")
        .order_by("effective_date", "id")
    )
    on_medication = set(
        Prescription.objects.active().filter(patient__is_active=True).values_list("patient_id", flat=True)
    )
    patient_ids = on_medication | {e.prescription.patient_id for e in events}
    if not patient_ids:
        return []
    changes = defaultdict(list)
    for event in events:
        changes[event.prescription.patient_id].append(event)
    diagnoses = defaultdict(list)
    for patient_id, code in (
        Diagnosis.objects.active().filter(patient_id__in=patient_ids).values_list("patient_id", "icd10_code")
    ):
        diagnoses[patient_id].append(code)
    last_scores = {
        (row["patient_id"], row["instrument"]): timezone.localdate(row["last"])
        for row in Response.objects.filter(patient_id__in=patient_ids)
        .values("patient_id", "instrument")
        .annotate(last=Max("submitted_at"))
    }
    asked = {
        (row["patient_id"], row["instrument"]): row
        for row in Assignment.objects.filter(patient_id__in=patient_ids)
        .exclude(status=Assignment.Status.CANCELLED)
        .values("patient_id", "instrument")
        .annotate(last=Max("due_on"), open=Count("id", filter=Q(status=Assignment.Status.OPEN)))
    }
    patients = Patient.objects.in_bulk(patient_ids)
    created = []
    for patient_id in sorted(patient_ids):
        for code in instruments_for(diagnoses[patient_id]):
            row = asked.get((patient_id, code), {})
            if row.get("open"):
                continue
            due = next_due(
                today=today,
                last_score=last_scores.get((patient_id, code)),
                last_asked=row.get("last"),
                changes=changes[patient_id],
            )
            if due.on > today:
                continue
            with transaction.atomic():  # the questionnaire and the change it follows, together
                assignment = open_assignment(
                    patient=patients[patient_id],
                    instrument=code,
                    due_on=today,
                    reason=due.reason,
                    assigned_by=None,
                )
                if assignment is not None and due.event is not None:
                    QuestionnaireAfterChange.objects.create(event=due.event, assignment=assignment)
            if assignment is not None:
                created.append(assignment)
    return created


# -- Prescription reviews --------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewDue:
    prescription: object
    due_on: datetime.date
    why: str
    overdue: bool


def review_prescriptions(today: datetime.date):
    """Prescriptions annotated with their last start or dose change (up to ``today``) and the
    patient's last visit: the inputs of ``review_due``."""
    _, review_kinds = _change_kinds()
    last_change = (
        PrescriptionEvent.objects.filter(prescription=OuterRef("pk"), kind__in=review_kinds, effective_date__lte=today)
        .order_by("-effective_date", "-id")
        .values("effective_date")[:1]
    )
    last_visit = VisitNote.objects.filter(patient=OuterRef("patient_id")).order_by("-visit_at").values("visit_at")[:1]
    return Prescription.objects.annotate(last_change=Subquery(last_change), last_visit=Subquery(last_visit))


def review_due(rx) -> tuple[datetime.date, str, datetime.date] | None:
    """(due on, why, first day listed) of an active prescription annotated by
    ``review_prescriptions``; None if no rule can make it due before its inputs change.

    Each rule is listed from the day its condition holds: the change rule on its due date, the
    stale rule once both the start and the last visit are 90 days back. The earliest due date
    is also the earliest listed (a rule due a day earlier is listed at most a day later), so the
    stored row (medications.DueEntry) shows the same item on every day as the live computation."""
    after = weeks("TITRATE_RX_REVIEW_WEEKS")
    seen = timezone.localdate(rx.last_visit) if rx.last_visit else None
    found = []
    if rx.last_change:
        on = rx.last_change + after
        if not (seen and seen > rx.last_change and seen >= on - REVIEW_VISIT_SLACK):
            why = f"{after.days // 7} weeks after the {dates.day(rx.last_change, year=True)} start or dose change"
            found.append((on, why, on))
    on = max(rx.start_date, seen or rx.start_date) + STALE_AFTER
    listed = max(rx.start_date + STALE_AFTER, seen + STALE_AFTER + datetime.timedelta(days=1) if seen else on)
    found.append((on, "no visit note for 90 days", listed))
    on, why, _ = min(found, key=lambda f: (f[0], f[1]))
    return on, why, min(f[2] for f in found)


def prescriptions_due_for_review(
    today: datetime.date | None = None, *, patients: QuerySet | None = None
) -> list[ReviewDue]:
    """Active prescriptions due for review, earliest first. One query. (The psychiatrist home
    reads the same items precomputed: medications.due.)"""
    today = today or timezone.localdate()
    after = weeks("TITRATE_RX_REVIEW_WEEKS")
    prescriptions = (
        review_prescriptions(today)
        .active()
        .filter(patient__is_active=True, prescriber__is_active=True)
        .filter(Q(last_change__lte=today - after) | Q(start_date__lte=today - STALE_AFTER))
        .select_related("patient", "medication", "prescriber")
    )
    if patients is not None:
        prescriptions = prescriptions.filter(patient__in=patients)
    due = []
    for rx in prescriptions:
        # The rules listed today; the earliest of them (by due date, then reason) is shown.
        after_seen = timezone.localdate(rx.last_visit) if rx.last_visit else None
        found = []
        if rx.last_change and rx.last_change <= today - after:
            on = rx.last_change + after
            if not (after_seen and after_seen > rx.last_change and after_seen >= on - REVIEW_VISIT_SLACK):
                changed = dates.day(rx.last_change, year=True)
                found.append((on, f"{after.days // 7} weeks after the {changed} start or dose change"))
        if rx.start_date <= today - STALE_AFTER and (after_seen is None or after_seen < today - STALE_AFTER):
            on = max(rx.start_date, after_seen or rx.start_date) + STALE_AFTER
            found.append((on, "no visit note for 90 days"))
        if found:
            on, why = min(found)
            due.append(ReviewDue(rx, on, why, today > on + REVIEW_WINDOW))
    return sorted(due, key=lambda d: (d.due_on, d.prescription.pk))


# -- Worsening and visit frequency -----------------------------------------------------------


def _worsened(scope, limit: int) -> QuerySet[QuestionnaireResponse]:
    later = Response.objects.filter(
        patient=OuterRef("patient_id"), instrument=OuterRef("instrument"), submitted_at__gt=OuterRef("submitted_at")
    )
    seen = VisitNote.objects.filter(patient=OuterRef("patient_id"), visit_at__gt=OuterRef("submitted_at"))
    return (
        Response.objects.filter(scope)
        .filter(worsened=True)
        .filter(~Exists(later), ~Exists(seen))
        .select_related("patient")
        .order_by("-submitted_at")[:limit]
    )


WORSENED_LIMIT = 20


# The same rows as _worsened, for a list of patient ids on PostgreSQL (see worsened_responses).
WORSENED_AMONG_SQL = """
SELECT r.*
FROM patients_questionnaireresponse r
WHERE r.patient_id = ANY(%(patient_ids)s)
  AND r.worsened
  AND NOT EXISTS (
      SELECT 1 FROM patients_questionnaireresponse later
      WHERE later.patient_id = r.patient_id AND later.instrument = r.instrument
        AND later.submitted_at > r.submitted_at
  )
  AND NOT EXISTS (
      SELECT 1 FROM appointments_visitnote seen
      WHERE seen.patient_id = r.patient_id AND seen.visit_at > r.submitted_at
  )
ORDER BY r.submitted_at DESC
LIMIT %(limit)s
"""


def worsened_among(patient_ids: list[int], people: dict[int, Patient], limit: int = WORSENED_LIMIT) -> list[Response]:
    """``worsened_responses`` for a caseload's ids on PostgreSQL: one SQL statement with the ids
    as ONE array parameter, each response's patient taken from ``people`` ({id: Patient with its
    name fields}, read by the caller through ``clinic.access.patients_for``).

    Measured on the bench data (20,000 patients, psychiatrist 1's 334 active patients, medians
    of 30 calls in-process, load ~4): the queryset (an ``IN`` list the ORM prepares id by id,
    two anti-joins, the patient joined) took 4.7 ms of Python and 6.2 ms in all; this raw SQL
    0.5 ms of Python to run and fetch the same rows, 1.2 ms with their model instances.
    ``tests/patients/test_reassessment.py`` checks it returns what the queryset returns."""
    found = list(Response.objects.raw(WORSENED_AMONG_SQL, {"patient_ids": patient_ids, "limit": limit}))
    for response in found:
        response.patient = people[response.patient_id]
    return found


def worsened_responses(
    patients: QuerySet | list[int], limit: int = WORSENED_LIMIT, *, people: dict[int, Patient] | None = None
) -> list[QuestionnaireResponse]:
    """Scores that worsened and are still the latest of their questionnaire, with no visit note
    since (a visit is where the psychiatrist takes it up). One query. ``patients``: a queryset, or
    a list of their ids; with a list and ``people`` ({id: Patient}) on PostgreSQL, the raw SQL of
    ``worsened_among``."""
    if isinstance(patients, list) and people is not None and connection.vendor == "postgresql":
        return worsened_among(patients, people, limit)
    return list(_worsened(Q(patient__in=patients), limit))


@dataclass(frozen=True)
class VisitSuggestion:
    interval: str
    because: str


def suggest_visit_interval(
    *,
    today: datetime.date,
    last_change: datetime.date | None,
    scores: dict[str, list[QuestionnaireResponse]],
    on_medication: bool,
) -> VisitSuggestion | None:
    """A suggestion, not a rule: "as symptoms stabilise, visits may become less frequent".
    ``scores`` maps PHQ-9 / GAD-7 to their responses, newest first."""
    recent = last_change is not None and last_change >= today - weeks("TITRATE_REASSESS_RECENT_WEEKS")
    if recent:
        return VisitSuggestion(
            "every 2–4 weeks",
            f"a medication was started, changed or stopped on {dates.day(last_change, year=True)} (within 12 weeks)",
        )
    worse = [r for rs in scores.values() for r in rs[:1] if r.worsened]
    if worse:
        return VisitSuggestion("every 2–4 weeks", f"the latest {worse[0].get_instrument_display()} worsened")
    if not on_medication and not any(scores.values()):
        return None
    measured = {code: rs for code, rs in scores.items() if rs}
    remission = bool(measured) and all(
        len(rs) >= 2 and all(r.total < instruments.REMISSION_BELOW[code] for r in rs[:2])
        for code, rs in measured.items()
    )
    if remission:
        names = " and ".join(instruments.get(code).name for code in measured)
        return VisitSuggestion(
            "every 8–12 weeks", f"no medication change for 12 weeks and the last two {names} scores are in remission"
        )
    return VisitSuggestion(
        "every 4–6 weeks", "no medication change for 12 weeks, but not yet two scores in a row in remission"
    )
