"""The psychiatrist home's due lists (labs and checks, prescription reviews), precomputed per
patient in ``DueEntry`` so the page costs one indexed query whatever the caseload.

The rules stay where they are: ``medications.monitoring`` (labs) and ``medications.reassessment``
(reviews); ``refresh`` stores what they compute, with dates rather than flags (listed from,
due on, overdue from), so the stored list stays right as days pass.

Freshness:
- every write to an input (lab result, prescription, dose event, visit note, patient) marks its
  patient, and the patient's entries are recomputed when the transaction commits (``touch``);
- the hourly lab-reminder planner rebuilds every patient (``rebuild``, also
  ``manage.py rebuild_due_entries``) as a safety net, and for the two inputs that change with the
  calendar alone: a stopped interacting drug leaving the monitoring's "recently stopped" window,
  and a future-dated dose change taking effect. Staleness is thus bounded by one hour.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from medications import monitoring, reassessment
from medications.models import DueEntry, Medication, Prescription
from medications.reassessment import ReviewDue
from patients.models import Patient

logger = logging.getLogger(__name__)

ONE_DAY = datetime.timedelta(days=1)
LAB_LIMIT = 15  # monitoring_tags.HOME_PANEL_MAX
REVIEW_LIMIT = 20
REBUILD_CHUNK = 500
PATIENT_NAME_FIELDS = ("preferred_name", "legal_first_name", "legal_last_name")  # Patient.display_name


def refresh(patient_ids: Iterable[int], today: datetime.date | None = None) -> int:
    """Recompute the entries of these patients. Six queries whatever their number (monitoring:
    prescriptions, latest results; reviews: prescriptions; delete; insert; the patients' overdue
    dates, ``summarise``)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return 0
    today = today or timezone.localdate()
    now = timezone.now()
    rows = [
        DueEntry(
            patient_id=item.patient.pk,
            kind=DueEntry.Kind.LAB,
            code=item.test.code,
            label=item.label,
            due_on=item.due_on,
            show_from=item.due_on,
            overdue_from=item.latest + ONE_DAY,
            computed_at=now,
        )
        for item in monitoring._due_in(Q(patient_id__in=ids), today)
    ]
    # As prescriptions_due_for_review: active prescriptions by an active prescriber (a prescription
    # stopped is a write, so it refreshes at once; a prescriber deactivated waits for the rebuild).
    reviewed = (
        reassessment.review_prescriptions(today)
        .active()
        .filter(patient_id__in=ids, prescriber__is_active=True)
        .select_related("medication")
    )
    for rx in reviewed:
        on, why, listed = reassessment.review_due(rx)
        rows.append(
            DueEntry(
                patient_id=rx.patient_id,
                kind=DueEntry.Kind.REVIEW,
                code=rx.medication.generic_name,
                prescription_id=rx.pk,
                label=why[:200],
                due_on=on,
                show_from=listed,
                overdue_from=on + reassessment.REVIEW_WINDOW + ONE_DAY,
                computed_at=now,
            )
        )
    with transaction.atomic():
        DueEntry.objects.filter(patient_id__in=ids).delete()
        DueEntry.objects.bulk_create(rows)
        summarise(ids)
    return len(rows)


def summarise(patient_ids: list[int]) -> None:
    """Record on each patient the day their first lab or check, and their first prescription
    review, is overdue from (Patient.lab_overdue_from, review_overdue_from), taken from their
    DueEntry rows: the clinic metrics count overdue patients from these (docs/metrics.md). One
    UPDATE; ``refresh`` calls it in the transaction that writes the rows."""

    def first_overdue(kind: str):
        rows = DueEntry.objects.filter(patient=OuterRef("pk"), kind=kind).order_by("overdue_from")
        return Subquery(rows.values("overdue_from")[:1])

    Patient.objects.filter(pk__in=patient_ids).update(
        lab_overdue_from=first_overdue(DueEntry.Kind.LAB), review_overdue_from=first_overdue(DueEntry.Kind.REVIEW)
    )


def rebuild(today: datetime.date | None = None, chunk: int = REBUILD_CHUNK) -> int:
    """Recompute every patient's entries, ``chunk`` patients at a time (bounded memory)."""
    ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
    total = 0
    for start in range(0, len(ids), chunk):
        total += refresh(ids[start : start + chunk], today)
    # Patients deleted since (tests, erasure) leave nothing behind: entries cascade.
    return total


def _flush(batch: set[int]) -> None:
    try:
        refresh(batch)
    except Exception:
        # The write itself is committed; the hourly rebuild catches up. No PHI in the log.
        logger.exception("due entries: refresh of %d patient(s) failed", len(batch))


def touch(patient_id: int | None) -> None:
    """Recompute this patient's entries once the current transaction commits (at once in
    autocommit). Several writes in one transaction (a dose change is an event and a prescription
    update) share one recomputation."""
    if patient_id is None:
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _flush({patient_id})
        return
    savepoints = set(connection.savepoint_ids)
    for sids, func, *_ in connection.run_on_commit:
        batch = getattr(func, "due_batch", None)
        # Only a callback of the same savepoint: a rolled-back savepoint drops its callbacks.
        if batch is not None and set(sids) == savepoints:
            batch.add(patient_id)
            return
    batch = {patient_id}

    def flush() -> None:
        _flush(batch)

    flush.due_batch = batch
    transaction.on_commit(flush)


# -- Reading, for the psychiatrist home ---------------------------------------------------------


@dataclass
class HomePanels:
    labs: list = field(default_factory=list)
    lab_count: int = 0
    reviews: list = field(default_factory=list)
    review_count: int = 0

    @property
    def patient_ids(self) -> set[int]:
        return {e.patient_id for e in self.labs} | {r.prescription.patient_id for r in self.reviews}


def _shown(scope, today: datetime.date) -> QuerySet[DueEntry]:
    order = [
        Case(When(overdue_from__lte=today, then=Value(0)), default=Value(1)).asc(),
        F("due_on").asc(),
        F("prescription_id").asc(),
        F("patient_id").asc(),
        F("code").asc(),
    ]
    return (
        DueEntry.objects.filter(scope)
        .filter(show_from__lte=today)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("kind")], order_by=order),
            total=Window(Count("id"), partition_by=[F("kind")]),
        )
        .filter(rank__lte=max(LAB_LIMIT, REVIEW_LIMIT))
        .only("kind", "code", "label", "due_on", "overdue_from", "patient", "prescription_id")
        .order_by("kind", "rank")
    )


# The same rows as _shown, for a list of patient ids on PostgreSQL (see listed_among).
LISTED_AMONG_SQL = """
SELECT id, patient_id, kind, code, prescription_id, label, due_on, overdue_from, rank, total
FROM (
    SELECT id, patient_id, kind, code, prescription_id, label, due_on, overdue_from,
           ROW_NUMBER() OVER (
               PARTITION BY kind
               ORDER BY CASE WHEN overdue_from <= %(today)s THEN 0 ELSE 1 END,
                        due_on, prescription_id, patient_id, code
           ) AS rank,
           COUNT(*) OVER (PARTITION BY kind) AS total
    FROM medications_dueentry
    WHERE patient_id = ANY(%(patient_ids)s) AND show_from <= %(today)s
) listed
WHERE rank <= %(limit)s
ORDER BY kind, rank
"""


def listed_among(patient_ids: list[int], today: datetime.date) -> list[DueEntry]:
    """``_shown`` for a caseload's ids, as one SQL statement with the ids as ONE array parameter.

    The ORM's ``patient_id IN (...)`` prepares each of a caseload's ~330 ids one by one, and
    building and compiling the window query costs more again. Measured on the bench data (20,000
    patients, psychiatrist 1's 334 active patients, medians of 40 calls in-process, load ~4): the
    queryset took 7.7 ms of Python (3.4 ms of it compiling), this raw SQL 0.8 ms, for the same
    rows from a statement PostgreSQL runs in ~6 ms. With the home's lists as plain querysets its
    Python time per request had gone from 17.6 to 33.5 ms (medians, old and new code side by
    side); this list was the largest part. ``tests/medications/test_due_entries.py`` checks it
    returns what the queryset returns. The ids come from the caller's ``clinic.access.patients_for``."""
    params = {"today": today, "patient_ids": patient_ids, "limit": max(LAB_LIMIT, REVIEW_LIMIT)}
    return list(DueEntry.objects.raw(LISTED_AMONG_SQL, params))


def home_panels(patients, today: datetime.date | None = None, *, people: dict | None = None) -> HomePanels:
    """The first labs/checks (overdue first, then by due date) and prescription reviews (by due
    date) listed today for these patients (a queryset, or a list of their ids: on PostgreSQL the
    raw SQL of ``listed_among``), and how many there are of each. One query: a window numbers
    each kind's rows in display order and counts them, over the entries alone (joining every
    listed row's patient cost as much as the rest). The patients shown get their names from
    ``people`` ({id: Patient with its name fields}, the caller's caseload) or, without it, from
    one more query for those few rows."""
    today = today or timezone.localdate()
    if isinstance(patients, list) and connection.vendor == "postgresql":
        entries = listed_among(patients, today)
    else:
        entries = list(_shown(Q(patient__in=patients), today))
    if people is None:
        people = Patient.objects.only(*PATIENT_NAME_FIELDS).in_bulk({entry.patient_id for entry in entries})
    panels = HomePanels()
    for entry in entries:
        entry.patient = people[entry.patient_id]
        overdue = today >= entry.overdue_from
        if entry.kind == DueEntry.Kind.LAB:
            panels.lab_count = entry.total
            if entry.rank <= LAB_LIMIT:
                entry.status = "overdue" if overdue else "due"
                panels.labs.append(entry)
        else:
            panels.review_count = entry.total
            # The review names the patient and the medicine: both are on the entry (no join).
            rx = Prescription(
                pk=entry.prescription_id, patient=entry.patient, medication=Medication(generic_name=entry.code)
            )
            panels.reviews.append(ReviewDue(rx, entry.due_on, entry.label, overdue))
    return panels
