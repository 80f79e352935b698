"""A prescription printed for a pharmacy: the print view and its PDF (clinic/print_views.py).

What a US pharmacy needs on a paper prescription for a non-controlled drug: the prescriber's
name, credentials, NPI and DEA number (clinic.prescriber_ids checks them when entered), the
clinic's name and phone, the patient's name, date of birth and address, the drug, strength,
form, directions (sig), quantity in words and figures, refills, the date and a signature line.
A Schedule II–V drug prints with a notice that it needs electronic prescribing or a wet signature
as the state requires: printing alone never makes it a valid controlled-substance prescription.
Every print and PDF writes one audit row.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone

from clinic import audit, contact
from clinic.access import get_patient_for, role_required
from clinic.models import AuditEvent, User
from clinic.print_views import pdf_download, print_page
from medications import instructions
from medications.models import Prescription

psychiatrist_only = role_required(User.Role.PSYCHIATRIST)
TEMPLATE = "medications/prescription_print.html"


def _printable(request: HttpRequest, pk: int, prescription_id: int) -> tuple[Prescription | None, HttpResponse | None]:
    patient = get_patient_for(request.user, pk)
    rx = get_object_or_404(patient.prescriptions.select_related("medication", "prescriber"), pk=prescription_id)
    if not rx.is_active:
        messages.error(request, "This prescription was stopped: it cannot be printed for a pharmacy.")
        return None, redirect("medications:prescription_detail", patient.pk, rx.pk)
    return rx, None


def _context(request: HttpRequest, rx: Prescription) -> dict:
    schedule = rx.medication.dea_schedule
    prescriber = rx.prescriber
    return {
        "rx": rx,
        "patient": rx.patient,
        "prescriber": prescriber,
        "clinic": contact.clinic(),
        "written_on": timezone.localdate(),
        "quantity": instructions.quantity_text(rx.quantity),
        "refills": instructions.quantity_text(rx.refills) if rx.refills else "None (0)",
        "controlled": instructions.is_controlled(schedule),
        "schedule": schedule.removeprefix("C"),
        "missing": [
            label for label, value in (("NPI", prescriber.npi), ("credentials", prescriber.credentials)) if not value
        ]
        + (["DEA number"] if instructions.is_controlled(schedule) and not prescriber.dea_number else []),
        "is_prescriber": prescriber.pk == request.user.pk,
    }


def _audit(request: HttpRequest, rx: Prescription, page: str, *, export: bool = False) -> None:
    audit.record(
        AuditEvent.Action.EXPORT if export else AuditEvent.Action.VIEW,
        request=request,
        patient=rx.patient,
        obj=rx,
        detail={"page": page},
    )


@psychiatrist_only
def prescription_print(request: HttpRequest, pk: int, prescription_id: int) -> HttpResponse:
    rx, refused = _printable(request, pk, prescription_id)
    if refused:
        return refused
    _audit(request, rx, "prescription_print")
    return print_page(request, TEMPLATE, _context(request, rx))


@psychiatrist_only
def prescription_pdf(request: HttpRequest, pk: int, prescription_id: int) -> HttpResponse:
    rx, refused = _printable(request, pk, prescription_id)
    if refused:
        return refused
    _audit(request, rx, "prescription_pdf", export=True)
    context = _context(request, rx)
    filename = f"prescription-{context['written_on']:%Y-%m-%d}-{rx.pk}.pdf"
    return pdf_download(request, TEMPLATE, context, filename=filename, title="Prescription")
