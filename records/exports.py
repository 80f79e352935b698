"""CSV exports for the practice's quality work (docs/records.md): de-identified
measurement-based-care data and the schedule. Rows are produced lazily for a streamed response.

**De-identification** (the measurement-based-care export). Each export draws, per patient, a
random pseudonym and a random date offset (``SHIFT_DAYS`` either way) from the operating system's
random source; nothing is stored, so two exports cannot be joined on the pseudonym and the offset
cannot be recovered from the file. Within one export a patient's dates all move by the same
offset, so the intervals between scores and medication starts stay true. No name, MRN, date of
birth, address, contact detail or free text is read; age is a band at the (true) date of the score.

**Formula safety.** Every cell goes through clinic.csv_export (a cell starting with ``= + - @``, a
tab or a carriage return gets an apostrophe first).
"""

from __future__ import annotations

import datetime
import secrets
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from appointments.models import Appointment
from clinic import audit, csv_export
from clinic.access import patients_for
from clinic.models import AuditEvent, User
from medications.models import PrescriptionEvent
from patients.models import Patient, QuestionnaireResponse

SHIFT_DAYS = 180
AGE_BANDS = ((18, "under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64"))
NO_MEDICATION = "none"
MEASURES_HEADER = [
    "patient",
    "age_band",
    "instrument",
    "score",
    "band",
    "score_date_shifted",
    "medication_class",
    "class_started_shifted",
    "days_on_class",
]
SCHEDULE_HEADER = [
    "date",
    "start",
    "end",
    "psychiatrist",
    "patient",
    "mrn",
    "appointment_type",
    "modality",
    "status",
]


def age_band(born: datetime.date, on: datetime.date) -> str:
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    for upper, label in AGE_BANDS:
        if age < upper:
            return label
    return "65 and over"


# -- Who is in an export ---------------------------------------------------------------------------


def measures_scope(user: User) -> QuerySet[Patient]:
    """A psychiatrist: the patients whose care team they are on (primary or shared), without
    break-glass grants (emergency access is for an emergency, not quality work). A clinic admin:
    every patient (docs/security.md, "Clinic exports")."""
    scope = patients_for(user)
    if user.role == User.Role.PSYCHIATRIST:
        team = Patient.care_team.through.objects.filter(user_id=user.pk).values("patient_id")
        scope = scope.filter(Q(primary_psychiatrist_id=user.pk) | Q(pk__in=team))
    return scope


@dataclass
class _Pseudonyms:
    """Per export, per patient: a random label and a random day offset, drawn when first met."""

    labels: dict[int, str]
    offsets: dict[int, datetime.timedelta]

    @classmethod
    def new(cls) -> _Pseudonyms:
        return cls({}, {})

    def of(self, patient_id: int) -> tuple[str, datetime.timedelta]:
        if patient_id not in self.labels:
            self.labels[patient_id] = "P-" + secrets.token_hex(5)
            self.offsets[patient_id] = datetime.timedelta(days=secrets.randbelow(2 * SHIFT_DAYS + 1) - SHIFT_DAYS)
        return self.labels[patient_id], self.offsets[patient_id]


def _class_courses(patient_ids: list[int]) -> dict[int, list[tuple[str, datetime.date, datetime.date | None]]]:
    """(class, started, stopped or None) per patient, from the append-only prescription history:
    one query."""
    Kind = PrescriptionEvent.Kind
    courses: dict[int, dict[int, list]] = defaultdict(dict)
    events = (
        PrescriptionEvent.objects.filter(
            prescription__patient_id__in=patient_ids, kind__in=(Kind.STARTED, Kind.DISCONTINUED)
        )
        .order_by("effective_date", "pk")
        .values_list(
            "prescription_id",
            "prescription__patient_id",
            "prescription__medication__drug_class",
            "kind",
            "effective_date",
        )
    )
    for rx_id, patient_id, drug_class, kind, on in events:
        course = courses[patient_id].setdefault(rx_id, [drug_class, None, None])
        if kind == Kind.STARTED and course[1] is None:
            course[1] = on
        elif kind == Kind.DISCONTINUED:
            course[2] = on
    return {
        patient_id: [(c[0], c[1], c[2]) for c in by_rx.values() if c[1] is not None]
        for patient_id, by_rx in courses.items()
    }


def measures_rows(patient_ids: list[int], start: datetime.date, end: datetime.date) -> Iterator[list]:
    """One row per score and medication class the patient was on that day (a row with class
    "none" when on none): three queries, whatever the number of patients."""
    births = dict(Patient.objects.filter(pk__in=patient_ids).values_list("pk", "date_of_birth"))
    courses = _class_courses(patient_ids)
    pseudonyms = _Pseudonyms.new()
    scores = (
        QuestionnaireResponse.objects.filter(
            patient_id__in=patient_ids, submitted_at__date__gte=start, submitted_at__date__lte=end
        )
        .order_by("patient_id", "submitted_at", "pk")
        .values_list("patient_id", "instrument", "total", "band", "submitted_at")
    )
    for patient_id, instrument, total, band, submitted_at in scores.iterator(chunk_size=2000):
        label, offset = pseudonyms.of(patient_id)
        on = timezone.localtime(submitted_at).date()
        base = [label, age_band(births[patient_id], on), instrument, total, band, (on + offset).isoformat()]
        classes: dict[str, datetime.date] = {}
        for drug_class, started, stopped in courses.get(patient_id, []):
            if started <= on and (stopped is None or stopped > on):
                classes[drug_class] = min(started, classes.get(drug_class, started))
        if not classes:
            yield [*base, NO_MEDICATION, "", ""]
        for drug_class in sorted(classes):
            started = classes[drug_class]
            yield [*base, drug_class, (started + offset).isoformat(), (on - started).days]


def measures_export(user: User, start: datetime.date, end: datetime.date, *, request=None) -> Iterator[str]:
    """The de-identified export's lines, after one ``export`` audit row (written before the first
    byte, so an export the client abandons is still on the record)."""
    patient_ids = list(measures_scope(user).order_by().values_list("pk", flat=True))
    audit.record(
        AuditEvent.Action.EXPORT,
        request=request,
        detail={
            "page": "export_measures",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "deidentified": True,
            "patient_count": len(patient_ids),
        },
    )
    return csv_export.lines(MEASURES_HEADER, measures_rows(patient_ids, start, end))


def _local_range(start: datetime.date, end: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    zone = timezone.get_current_timezone()
    first = datetime.datetime.combine(start, datetime.time.min, tzinfo=zone)
    after = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
    return first, after


def schedule_rows(appointments: QuerySet[Appointment]) -> Iterator[list]:
    for visit in appointments.iterator(chunk_size=2000):
        begins, ends = timezone.localtime(visit.start), timezone.localtime(visit.end)
        yield [
            begins.date().isoformat(),
            begins.strftime("%H:%M"),
            ends.strftime("%H:%M"),
            visit.psychiatrist.display_name,
            visit.patient.display_name,
            visit.patient.mrn,
            visit.appointment_type.name,
            visit.appointment_type.get_modality_display(),
            visit.get_status_display(),
        ]


def schedule_export(user: User, start: datetime.date, end: datetime.date, *, request=None) -> Iterator[str]:
    """Appointments starting in [start, end] (the viewer's days) for a clinic admin, after one
    ``export`` audit row naming the patients in it (two queries: the ids, then the rows)."""
    first, after = _local_range(start, end)
    appointments = (
        Appointment.objects.filter(patient__in=patients_for(user), start__gte=first, start__lt=after)
        .select_related("patient", "psychiatrist", "appointment_type")
        .order_by("start", "pk")
    )
    patient_ids = sorted(set(appointments.values_list("patient_id", flat=True)))
    audit.record(
        AuditEvent.Action.EXPORT,
        request=request,
        detail={
            "page": "export_schedule",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "patient_ids": patient_ids,
        },
    )
    return csv_export.lines(SCHEDULE_HEADER, schedule_rows(appointments))
