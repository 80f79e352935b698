"""After-visit summaries: the patient's list and page, its print view and its PDF; the
psychiatrist's print view and PDF of the same summary, to hand to a patient at the desk.

The summary is read by patients.after_visit from the signed note (drafts have none). Every page,
print and PDF writes one audit row; the PDF is made on request and never stored or emailed.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from clinic import audit
from clinic.access import get_patient_for, own_record_required, role_required
from clinic.models import AuditEvent, User
from clinic.print_views import pdf_download, print_page
from patients import after_visit
from patients.models import Patient

psychiatrist_only = role_required(User.Role.PSYCHIATRIST)
PRINT_TEMPLATE = "patients/summary/print.html"


def _summary(patient: Patient, visit_id: int) -> after_visit.Summary:
    note = get_object_or_404(after_visit.signed_notes(patient), pk=visit_id)
    note.patient = patient  # the access helper's row: no second read of the patient
    return after_visit.build(note)


def _audit(request: HttpRequest, summary: after_visit.Summary, page: str, *, export: bool = False) -> None:
    audit.record(
        AuditEvent.Action.EXPORT if export else AuditEvent.Action.VIEW,
        request=request,
        patient=summary.patient,
        obj=summary.note,
        detail={"page": page},
    )


def _filename(summary: after_visit.Summary) -> str:
    return f"visit-summary-{summary.note.visit_at:%Y-%m-%d}.pdf"


# -- The patient ------------------------------------------------------------------------------


@own_record_required
def my_visit_summaries(request: HttpRequest, patient: Patient) -> HttpResponse:
    notes = list(after_visit.signed_notes(patient)[:50])
    audit.record(
        AuditEvent.Action.VIEW, request=request, patient=patient, obj=patient, detail={"page": "my_visit_summaries"}
    )
    return render(request, "patients/summary/my_list.html", {"patient": patient, "notes": notes})


@own_record_required
def my_visit_summary(request: HttpRequest, patient: Patient, visit_id: int) -> HttpResponse:
    summary = _summary(patient, visit_id)
    _audit(request, summary, "visit_summary")
    return render(request, "patients/summary/my_detail.html", {"summary": summary, "patient": patient})


@own_record_required
def my_visit_summary_print(request: HttpRequest, patient: Patient, visit_id: int) -> HttpResponse:
    summary = _summary(patient, visit_id)
    _audit(request, summary, "visit_summary_print")
    return print_page(request, PRINT_TEMPLATE, {"summary": summary, "back_url": "patients:my_visit_summary"})


@own_record_required
def my_visit_summary_pdf(request: HttpRequest, patient: Patient, visit_id: int) -> HttpResponse:
    summary = _summary(patient, visit_id)
    _audit(request, summary, "visit_summary_pdf", export=True)
    return pdf_download(
        request, PRINT_TEMPLATE, {"summary": summary}, filename=_filename(summary), title="Visit summary"
    )


# -- The psychiatrist -------------------------------------------------------------------------


@psychiatrist_only
def visit_summary_print(request: HttpRequest, pk: int, visit_id: int) -> HttpResponse:
    summary = _summary(get_patient_for(request.user, pk), visit_id)
    _audit(request, summary, "visit_summary_print")
    return print_page(request, PRINT_TEMPLATE, {"summary": summary, "staff": True})


@psychiatrist_only
def visit_summary_pdf(request: HttpRequest, pk: int, visit_id: int) -> HttpResponse:
    summary = _summary(get_patient_for(request.user, pk), visit_id)
    _audit(request, summary, "visit_summary_pdf", export=True)
    return pdf_download(
        request, PRINT_TEMPLATE, {"summary": summary}, filename=_filename(summary), title="Visit summary"
    )
