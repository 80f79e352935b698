"""What goes in a patient's downloadable record, one builder per format (``BUILDERS``), and the
worker's step that runs one (``prepare``).

Interface, like the print views: it reads the record across the domains (prescriptions, the
after-visit summaries' wording, scores, labs) after records.requests claimed the request for the
patient the request names, renders our own HTML and hands the file back to records.requests.
A format is one function here registered under its ``RecordRequest.Format`` value: the PDF,
and the FHIR R4 bundle (the API's ``Patient/$everything``, interop.search.everything_bundle).

``record_for`` reads the whole record in a fixed number of queries whatever its length
(tests/records/test_record_pdf.py pins it).
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from clinic import contact, dates, pdf
from interop import search
from medications import instructions, monitoring
from medications.models import (
    Allergy,
    LabResult,
    OutsideMedication,
    Prescription,
    PrescriptionEvent,
    dose_change_text,
    dose_text,
)
from patients import after_visit
from patients.models import Diagnosis, Patient, QuestionnaireResponse, VisitNote
from records import requests
from records.models import RecordRequest

logger = logging.getLogger(__name__)
Kind = PrescriptionEvent.Kind
TEMPLATE = "records/record_pdf.html"


@dataclass(frozen=True)
class Built:
    content: bytes
    content_type: str
    filename: str


@dataclass
class MedicationHistory:
    prescription: Prescription
    instructions: str
    # (date, what happened), oldest first.
    history: list[tuple[datetime.date, str]] = field(default_factory=list)


@dataclass
class Visit:
    note: VisitNote
    changes: list[after_visit.Change]


@dataclass
class Record:
    patient: Patient
    clinic: contact.Clinic
    generated_at: datetime.datetime
    medications: list[MedicationHistory]
    outside: list[OutsideMedication]
    diagnoses: list[Diagnosis]
    allergies: list[Allergy]
    scores: list[QuestionnaireResponse]
    chart: SafeString
    visits: list[Visit]
    labs: list[LabResult]


def _event_text(event: PrescriptionEvent) -> str:
    if event.kind == Kind.STARTED:
        return _("Started at %(dose)s") % {"dose": dose_text(event.to_dose_mg)}
    if event.kind == Kind.DOSE_CHANGED:
        return _("Dose changed: %(change)s") % {"change": dose_change_text(event.from_dose_mg, event.to_dose_mg)}
    if event.kind == Kind.DISCONTINUED:
        return _("Stopped")
    if event.kind == Kind.PLAN_CREATED:
        return _("Dose plan made")
    return _("Refill approved")


def record_for(patient: Patient) -> Record:
    """The record as the patient may read it, in the active language. Eleven queries: the
    prescriptions with their events, the outside medicines, diagnoses, allergies, scores, the
    signed visit notes with their events, plans and steps, and the labs (the clinic's profile is
    cached)."""
    prescriptions = list(
        Prescription.objects.filter(patient=patient)
        .select_related("medication")
        .prefetch_related("events")
        .order_by("-status", "medication__generic_name", "-start_date")
    )
    medications = []
    for rx in prescriptions:
        events = sorted(rx.events.all(), key=lambda e: (e.effective_date, e.created_at, e.pk))
        medications.append(
            MedicationHistory(
                rx,
                instructions.for_prescription(rx) if rx.status == Prescription.Status.ACTIVE else "",
                [(event.effective_date, _event_text(event)) for event in events],
            )
        )
    notes = list(
        VisitNote.objects.filter(patient=patient, status=VisitNote.Status.SIGNED)
        .select_related("signed_by", "author")
        .order_by("-visit_at")
    )
    events_by_note: dict[int, list[PrescriptionEvent]] = {}
    for event in after_visit.with_plans(PrescriptionEvent.objects.filter(visit_note__in=[n.pk for n in notes])):
        events_by_note.setdefault(event.visit_note_id, []).append(event)
    scores = list(QuestionnaireResponse.objects.filter(patient=patient).order_by("submitted_at", "pk"))
    return Record(
        patient=patient,
        clinic=contact.clinic(),
        generated_at=timezone.now(),
        medications=medications,
        outside=list(OutsideMedication.objects.filter(patient=patient).order_by("stopped_on", "name")),
        diagnoses=list(Diagnosis.objects.filter(patient=patient).order_by("status", "-recorded_at")),
        allergies=list(Allergy.objects.filter(patient=patient, is_active=True).order_by("substance")),
        scores=scores,
        chart=score_chart(scores),
        visits=[Visit(note, after_visit.changes_in(events_by_note.get(note.pk, []))) for note in notes],
        labs=_named(LabResult.objects.filter(patient=patient).order_by("-collected_on", "-created_at")),
    )


def _named(labs) -> list[LabResult]:
    rows = list(labs)
    for lab in rows:
        try:
            lab.name = monitoring.test_name(lab.test_code)
        except KeyError:  # a code the monitoring file no longer lists: shown as entered
            lab.name = lab.test_code
    return rows


# -- The score chart, drawn on the server (the PDF runs no JavaScript) ---------------------------

CHART_W, CHART_H = 640, 240
PAD_L, PAD_R, PAD_T, PAD_B = 40, 12, 12, 36
# Colour and dash per instrument, so the lines differ in print without colour too.
LINE_STYLE = {"phq9": ("#0d47a1", ""), "gad7": ("#b71c1c", "6 4")}
MAX_TOTAL = {"phq9": 27, "gad7": 21}


def score_chart(scores: list[QuestionnaireResponse]) -> SafeString:
    """PHQ-9 and GAD-7 totals over time as an inline SVG: one line per questionnaire, the y axis
    0-27, the first and last dates on the x axis. Numbers and our own labels only, escaped."""
    points = [(r.submitted_at, r.instrument, r.total) for r in scores if r.instrument in LINE_STYLE]
    if not points:
        return SafeString("")
    start, end = points[0][0], points[-1][0]
    span = max((end - start).total_seconds(), 1.0)
    width, height = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    top = 27

    def x(moment: datetime.datetime) -> float:
        return round(PAD_L + width * (moment - start).total_seconds() / span, 1)

    def y(total: int) -> float:
        return round(PAD_T + height * (1 - total / top), 1)

    grid = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ccc" stroke-width="0.5"/>'
        '<text x="{}" y="{}" font-size="9" text-anchor="end">{}</text>',
        ((PAD_L, y(v), CHART_W - PAD_R, y(v), PAD_L - 4, y(v) + 3, v) for v in (0, 5, 10, 15, 20, 25)),
    )
    lines = []
    for instrument, (colour, dash) in LINE_STYLE.items():
        mine = [(x(when), y(total)) for when, code, total in points if code == instrument]
        if not mine:
            continue
        path = " ".join(f"{px},{py}" for px, py in mine)
        dots = format_html_join(
            "", '<circle cx="{}" cy="{}" r="2.5" fill="{}"/>', ((px, py, colour) for px, py in mine)
        )
        lines.append(
            format_html(
                '<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5" stroke-dasharray="{}"/>{}',
                path,
                colour,
                dash or "none",
                dots,
            )
        )
    legend = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>'
        '<text x="{}" y="{}" font-size="10">{}</text>',
        (
            (PAD_L + 150 * i, CHART_H - 8, PAD_L + 150 * i + 20, CHART_H - 8, colour, dash or "none",
             PAD_L + 150 * i + 25, CHART_H - 5, label)
            for i, (label, (colour, dash)) in enumerate((("PHQ-9", LINE_STYLE["phq9"]), ("GAD-7", LINE_STYLE["gad7"])))
        ),
    )  # fmt: skip
    axis = format_html(
        '<text x="{}" y="{}" font-size="9">{}</text><text x="{}" y="{}" font-size="9" text-anchor="end">{}</text>',
        PAD_L,
        CHART_H - PAD_B + 14,
        dates.day(timezone.localtime(start).date(), year=True),
        CHART_W - PAD_R,
        CHART_H - PAD_B + 14,
        dates.day(timezone.localtime(end).date(), year=True),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}">{}{}{}{}</svg>',
        CHART_W,
        CHART_H,
        CHART_W,
        CHART_H,
        _("My questionnaire scores over time; the same scores are in the table below."),
        grid,
        SafeString("".join(lines)),
        axis,
        legend,
    )


# -- Builders -------------------------------------------------------------------------------------

Builder = Callable[[RecordRequest], Built]
BUILDERS: dict[str, Builder] = {}


def builder(format: str) -> Callable[[Builder], Builder]:
    def register(function: Builder) -> Builder:
        BUILDERS[format] = function
        return function

    return register


def filename(row: RecordRequest, extension: str) -> str:
    """What and when, never whose (clinic.print_views): the name lands in download folders."""
    return f"my-record-{timezone.localdate():%Y-%m-%d}.{extension}"


@builder(RecordRequest.Format.PDF)
def build_pdf(row: RecordRequest) -> Built:
    record = record_for(row.patient)
    requests.set_progress(row, 50)
    html = render_to_string(TEMPLATE, {"record": record, "for_pdf": True})
    requests.set_progress(row, 75)
    return Built(pdf.render(html, title=_("My health record")), pdf.PDF_CONTENT_TYPE, filename(row, "pdf"))


@builder(RecordRequest.Format.FHIR)
def build_fhir(row: RecordRequest) -> Built:
    # The same Bundle the API's Patient/$everything answers, so another system reads the file as
    # it would read the API; full URLs name the portal's FHIR base (docs/api.md).
    bundle = search.everything_bundle(row.patient, base_url=settings.TITRATE_BASE_URL.rstrip("/"))
    requests.set_progress(row, 75)
    content = json.dumps(bundle, ensure_ascii=False, indent=1).encode()
    return Built(content, "application/fhir+json", filename(row, "json"))


def prepare(request_id: str) -> RecordRequest | None:
    """The worker's step: claim the request, build its file in the patient's language, store it
    and tell the patient. None when another worker has it or it is already done; the request back
    in the queue (or FAILED after its last attempt) when the build raised."""
    row = requests.claim(request_id)
    if row is None:
        return None
    try:
        with translation.override(row.language), timezone.override(row.patient.time_zone):
            built = BUILDERS[row.format](row)
    except Exception as error:
        # The request id and the error's type only, and not raised on to Celery's own log: the
        # error's text could quote the record. The sweep retries (records.requests.fail).
        logger.error("Preparing record request %s failed: %s.", row.pk, type(error).__name__)
        requests.fail(row, code="error")
        row.refresh_from_db()
        return row
    return requests.complete(row, content=built.content, content_type=built.content_type, filename=built.filename)
