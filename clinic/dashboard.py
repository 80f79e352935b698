"""What the two home pages read: one named selector per list, so each view checks access, calls
these and renders (docs/performance.md has each page's query count and timings).

The access rule comes first. Patient-scoped reads start from ``clinic.access``: a selector takes
the queryset ``patients_for`` returned, or ids read from it, or a patient that came through it.
The psychiatrist's own work (their notes, appointments, evaluations) is selected by its author or
psychiatrist column, which is the psychiatrist's own id.
"""

from __future__ import annotations

import datetime

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import (
    CharField,
    DateField,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
)

from appointments.models import Appointment
from clinic.models import Alert, User
from medications.models import (
    DosePlan,
    LabResult,
    Medication,
    Message,
    MessageThread,
    OutsideMedication,
    Prescription,
    PrescriptionEvent,
    SideEffectReport,
)
from patients import instruments
from patients.models import Evaluation, Patient, QuestionnaireAssignment, QuestionnaireResponse, VisitNote
from patients.rows import instances, json_rows

NAMES = ("patient__preferred_name", "patient__legal_first_name", "patient__legal_last_name")
UNNOTED_LIMIT = 20
OPEN_REPORTS_LIMIT = 10

# -- The psychiatrist home ---------------------------------------------------------------------


def caseload(scope: QuerySet[Patient]) -> list[tuple]:
    """(pk, is_active, preferred, first and last name, MRN) of every patient in ``scope``
    (``patients_for``), in the model's order: one narrow query whose ids the other lists filter
    on, and whose names they print."""
    return list(scope.values_list("pk", "is_active", "preferred_name", "legal_first_name", "legal_last_name", "mrn"))


def drafts(user: User, day_start: datetime.datetime, day_end: datetime.datetime) -> tuple[list[tuple], list[tuple]]:
    """What the psychiatrist has left to write, in one query (a UNION ALL of two narrow lists):

    - their visit notes still in draft, and the day's visits without an appointment: (pk, patient
      id, appointment id, visit time, status, modality, *patient names), newest first. The
      appointment is the reverse of Appointment.visit_note: one left join on its unique index;
    - their evaluations still in draft: (pk, patient id, date, *patient names), newest first.
    """
    today_without_appointment = Q(visit_at__gte=day_start, visit_at__lt=day_end, appointment__isnull=True)
    notes = (
        VisitNote.objects.filter(author=user)
        .filter(Q(status=VisitNote.Status.DRAFT) | today_without_appointment)
        .order_by()  # a compound statement's parts take no ORDER BY (SQLite): sorted below
        .annotate(row_kind=Value("note"), at=F("visit_at"), on=Value(None, output_field=DateField()))
        .values_list("row_kind", "pk", "patient_id", "appointment__id", "at", "on", "status", "modality", *NAMES)
    )
    evaluations = (
        Evaluation.objects.filter(author=user, status=Evaluation.Status.DRAFT)
        .order_by()
        .annotate(
            row_kind=Value("evaluation"),
            appointment_id=Value(None, output_field=IntegerField()),
            at=Value(None, output_field=DateTimeField()),
            on=F("evaluation_date"),
            modality=Value("", output_field=CharField()),
        )
        .values_list("row_kind", "pk", "patient_id", "appointment_id", "at", "on", "status", "modality", *NAMES)
    )
    note_rows, evaluation_rows = [], []
    for kind, pk, patient_id, appointment_id, at, on, status, modality, *names in notes.union(evaluations, all=True):
        if kind == "note":
            note_rows.append((pk, patient_id, appointment_id, at, status, modality, *names))
        else:
            evaluation_rows.append((pk, patient_id, on, *names))
    note_rows.sort(key=lambda row: (row[3], row[0]), reverse=True)
    evaluation_rows.sort(key=lambda row: (row[2], row[0]), reverse=True)
    return note_rows, evaluation_rows


def todays_appointments(user: User, day_start: datetime.datetime, day_end: datetime.datetime) -> list[tuple]:
    """The day's appointments not cancelled, by start: (pk, patient id, start, status, type name,
    visit note id and status, *patient names)."""
    return list(
        Appointment.objects.filter(psychiatrist=user, start__gte=day_start, start__lt=day_end)
        .exclude(status=Appointment.Status.CANCELLED)
        .order_by("start")
        .values_list(
            "pk",
            "patient_id",
            "start",
            "status",
            "appointment_type__name",
            "visit_note__id",
            "visit_note__status",
            *NAMES,
        )  # fmt: skip
    )


def unnoted_visits(user: User) -> list[tuple]:
    """Completed visits without a signed note, newest first: (pk, patient id, start, *names).
    The partial index appt_unnoted holds only those (Appointment.note_signed); the check of the
    linked note stays as a guard, so a flag not yet set by a bulk load costs a primary-key probe,
    never a wrong row."""
    signed = VisitNote.objects.filter(pk=OuterRef("visit_note_id"), status=VisitNote.Status.SIGNED)
    return list(
        Appointment.objects.filter(psychiatrist=user, status=Appointment.Status.COMPLETED, note_signed=False)
        .filter(~Exists(signed))
        .order_by("-start")
        .values_list("pk", "patient_id", "start", *NAMES)[:UNNOTED_LIMIT]
    )


# The first open reports of a list of patients, in SideEffectReportQuerySet.inbox_order.
OPEN_REPORTS_SQL = """
SELECT id, patient_id, severity, created_at, is_urgent, triage_level, acknowledged_at
FROM medications_sideeffectreport
WHERE patient_id = ANY(%(patient_ids)s) AND acknowledged_at IS NULL
ORDER BY CASE triage_level WHEN 'emergency' THEN 0 WHEN 'urgent' THEN 1 ELSE 2 END,
         is_urgent DESC,
         acknowledged_at ASC NULLS FIRST,
         CASE severity WHEN 'severe' THEN 0 WHEN 'moderate' THEN 1 ELSE 2 END,
         created_at DESC
LIMIT %(limit)s
"""


def open_reports(patient_ids: list[int]) -> list[SideEffectReport]:
    """The first open side-effect reports of these patients (the caseload's ids, as constants:
    PostgreSQL probes ser_unack_patient per patient instead of hashing every open report), with
    only what the list prints (the patient's name comes from the caseload).

    On PostgreSQL, raw SQL with the ids as ONE array parameter. Measured on the bench data
    (20,000 patients, psychiatrist 1's 334 patients, medians of 30 calls in-process, load ~4):
    the queryset (an ``IN`` list the ORM prepares id by id) took 3.9 ms of Python and 5.8 ms in
    all; this raw SQL 0.6 ms of Python to run and fetch the same rows, 1.4 ms with their model
    instances (tests/clinic/test_dashboard.py checks they are the same)."""
    if connection.vendor == "postgresql":
        params = {"patient_ids": patient_ids, "limit": OPEN_REPORTS_LIMIT}
        return list(SideEffectReport.objects.raw(OPEN_REPORTS_SQL, params))
    return list(
        SideEffectReport.objects.filter(patient_id__in=patient_ids)
        .unacknowledged()
        .only("patient", "severity", "is_urgent", "triage_level", "acknowledged_at", "created_at")
        .inbox_order()[:OPEN_REPORTS_LIMIT]
    )


# The open alerts of a list of patients, most urgent and oldest first (as alerts_for(...).open()).
OPEN_ALERTS_SQL = """
SELECT * FROM clinic_alert
WHERE patient_id = ANY(%(patient_ids)s) AND acknowledged_at IS NULL
ORDER BY level, created_at, id
"""


def open_alerts(patient_ids: list[int], people: dict[int, Patient]) -> list[Alert]:
    """Open safety alerts of these patients (the caseload's ids, which ``patients_for`` already
    read: ``alerts.alerts_for`` would build that scope again), most urgent and oldest first. Each
    gets its patient from ``people`` ({id: Patient with its name fields}) and its source type from
    the content-type cache, so printing them costs no query.

    On PostgreSQL, raw SQL with the ids as ONE array parameter. Measured on the bench data (20,000
    patients, psychiatrist 1's 334, medians of 35 calls in-process, idle): ``alerts_for(user)``
    with its scope took 4.1 ms, the same filter over the ids as an ``IN`` list 4.3 ms, this raw SQL
    0.8 ms (tests/clinic/test_dashboard.py checks they return the same rows)."""
    if connection.vendor == "postgresql":
        rows = list(Alert.objects.raw(OPEN_ALERTS_SQL, {"patient_ids": patient_ids}))
    else:
        rows = list(Alert.objects.filter(patient_id__in=patient_ids).open().order_by("level", "created_at", "pk"))
    for alert in rows:
        alert.patient = people[alert.patient_id]
        if alert.source_type_id:
            alert.source_type = ContentType.objects.get_for_id(alert.source_type_id)
    return rows


# -- The patient home --------------------------------------------------------------------------

SCORE_FIELDS = [
    "patient_id", "instrument", "total", "band", "previous_total", "worsened", "worsening_reason", "submitted_at",
]  # fmt: skip
REQUEST_FIELDS = ["patient_id", "instrument", "due_on", "reason", "status"]
REPLY_FIELDS = ["thread_id", "text", "created_at"]
OUTSIDE_FIELDS = ["patient_id", "name", "medication_id", "dose_text", "source", "start_date", "stopped_on"]


def own_record(scope: QuerySet[Patient]) -> Patient | None:
    """The patient user's record from ``scope`` (``patients_for``: their own record only), with
    their psychiatrist, open questionnaires (``request_rows``), PHQ-9/GAD-7 scores
    (``response_rows``), the care team's replies to their side-effect reports (``reply_rows``)
    and the outside medications their clinician recorded (``outside_rows``) as JSON columns
    (patients.rows): one query. None without a record."""
    found = list(
        scope.select_related("primary_psychiatrist").annotate(
            request_rows=json_rows("patient_home.requests", QuestionnaireAssignment.objects.open(), REQUEST_FIELDS),
            response_rows=json_rows(
                "patient_home.responses",
                QuestionnaireResponse.objects.filter(instrument__in=(instruments.PHQ9, instruments.GAD7)),
                SCORE_FIELDS,
            ),
            reply_rows=json_rows(
                "patient_home.replies",
                Message.objects.filter(from_patient=False, thread__side_effect_report__isnull=False),
                REPLY_FIELDS,
                patient="thread__patient",
                thread=["side_effect_report_id"],
            ),
            outside_rows=json_rows(
                "patient_home.outside",
                OutsideMedication.objects.filter(stopped_on__isnull=True),
                OUTSIDE_FIELDS,
                medication=["generic_name"],
            ),
        )[:1]
    )
    return found[0] if found else None


def outside_medications(patient: Patient) -> list[OutsideMedication]:
    """From ``own_record``: the active outside medications by name, with their medicine's name if coded."""
    rows = instances(OutsideMedication, patient.outside_rows, medication=Medication)
    return sorted(rows, key=lambda o: (o.name.casefold(), o.pk))


def next_appointment(patient: Patient, now: datetime.datetime) -> Appointment | None:
    upcoming = (
        Appointment.objects.active()
        .filter(patient=patient, end__gte=now)
        .select_related("psychiatrist", "appointment_type")[:1]
    )
    return next(iter(upcoming), None)


def prescriptions(patient: Patient) -> list[Prescription]:
    """Every prescription of the patient, stopped ones too (the monitoring panel looks at recently
    stopped interacting drugs), with its medicine and active plans (``active_plans``) and their
    steps: three queries."""
    active_plans = DosePlan.objects.filter(status=DosePlan.Status.ACTIVE).prefetch_related("steps")
    return list(
        Prescription.objects.filter(patient=patient)
        .select_related("medication")
        .prefetch_related(Prefetch("plans", queryset=active_plans, to_attr="active_plans"))
    )


def prescription_events(patient: Patient) -> list[PrescriptionEvent]:
    return list(PrescriptionEvent.objects.filter(prescription__patient=patient))


def lab_results(patient: Patient) -> list[LabResult]:
    return list(LabResult.objects.filter(patient=patient))


def recent_reports(patient: Patient) -> list[SideEffectReport]:
    """The ten newest reports, each with its replies (``shown_replies``, oldest first) from the
    patient's ``reply_rows`` (own_record): no query of their own."""
    reports = list(SideEffectReport.objects.filter(patient=patient)[:10])
    by_report: dict[int, list[Message]] = {report.pk: [] for report in reports}
    for reply in sorted(
        instances(Message, getattr(patient, "reply_rows", None), thread=MessageThread),
        key=lambda r: (r.created_at, r.pk),
    ):
        by_report.get(reply.thread.side_effect_report_id, []).append(reply)
    for report in reports:
        report.shown_replies = by_report[report.pk]
    return reports
