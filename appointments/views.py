from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from appointments import booking
from appointments.forms import VisitNoteForm
from clinic import audit
from clinic.access import get_patient_for, role_required
from clinic.models import AuditEvent, User
from medications import adherence, side_effects
from medications.models import Prescription
from patients import notes
from patients.forms import AddendumForm
from patients.models import VisitNote
from patients.views import add_addendum_from_post, after_note_save, sign_from_post

psychiatrist_only = role_required(User.Role.PSYCHIATRIST)


def _active_prescriptions(patient):
    return Prescription.objects.active().filter(patient=patient).select_related("medication")


def _acknowledge_reviewed(request: HttpRequest, visit) -> None:
    # Reviewing a report with the patient in a visit is acknowledging it.
    for report in visit.side_effects_reviewed.filter(acknowledged_at__isnull=True):
        side_effects.acknowledge(report, actor=request.user, request=request)


def _appointment_for_note(request: HttpRequest, patient):
    """The appointment a note is written for (``?appointment=<id>``), if booking allows it."""
    appointment_id = request.GET.get("appointment") or request.POST.get("appointment")
    if not appointment_id or not str(appointment_id).isdigit():
        return None
    return booking.visit_to_note(patient, int(appointment_id))


@psychiatrist_only
def visit_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    appointment = _appointment_for_note(request, patient)
    initial = {}
    if appointment is not None:
        initial = {
            "visit_at": timezone.localtime(appointment.start),
            # The two lists share their values (in person, video, phone).
            "modality": VisitNote.Modality(appointment.appointment_type.modality),
        }
    # The interval history starts with what the patient reported between visits (their check-ins
    # since the last note), for the psychiatrist to keep, edit or delete.
    if request.method != "POST":
        last_visit = patient.visit_notes.order_by("-visit_at").values_list("visit_at", flat=True).first()
        if reported := adherence.since_text(patient, last_visit):
            initial["interval_history"] = reported
    form = VisitNoteForm(request.POST or None, patient=patient, initial=initial)
    if request.method == "POST" and form.is_valid():
        visit = form.save(commit=False)
        visit.patient = patient
        with transaction.atomic():
            notes.save_draft(visit, actor=request.user, request=request)
            if appointment is not None:
                booking.link_visit_note(appointment, visit)
        form.save_m2m()
        _acknowledge_reviewed(request, visit)
        messages.success(request, "Visit note saved as a draft. Record medication changes below, then sign.")
        if "sign" in request.POST:
            return after_note_save(request, visit, "appointments:visit_detail")
        return redirect("appointments:visit_edit", patient.pk, visit.pk)
    audit.page(request, patient, "visit_form")
    return render(
        request,
        "appointments/visit_form.html",
        {
            "patient": patient,
            "form": form,
            "prescriptions": _active_prescriptions(patient),
            "outside_medications": patient.outside_medications.active().select_related("medication"),
            "appointment": appointment,
        },
    )


@psychiatrist_only
def visit_edit(request: HttpRequest, pk: int, visit_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    visit = get_object_or_404(patient.visit_notes, pk=visit_id)
    if visit.is_signed:
        messages.error(request, "This visit note is signed and locked. Add an addendum to correct it.")
        return redirect("appointments:visit_detail", patient.pk, visit.pk)
    if visit.author_id != request.user.pk:
        messages.error(request, "Only the author can edit a draft.")
        return redirect("appointments:visit_detail", patient.pk, visit.pk)
    form = VisitNoteForm(request.POST or None, instance=visit, patient=patient)
    if request.method == "POST" and form.is_valid():
        notes.save_draft(form.save(commit=False), actor=request.user, request=request)
        form.save_m2m()
        _acknowledge_reviewed(request, visit)
        messages.success(request, "Draft saved.")
        return after_note_save(request, visit, "appointments:visit_detail")
    audit.page(request, patient, "visit_form", obj=visit)
    return render(
        request,
        "appointments/visit_form.html",
        {
            "patient": patient,
            "form": form,
            "visit": visit,
            "prescriptions": _active_prescriptions(patient),
            "outside_medications": patient.outside_medications.active().select_related("medication"),
            "changes": visit.medication_events.select_related("prescription__medication"),
        },
    )


@psychiatrist_only
def visit_detail(request: HttpRequest, pk: int, visit_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    visit = get_object_or_404(patient.visit_notes.select_related("author", "signed_by"), pk=visit_id)
    audit.record(AuditEvent.Action.VIEW, request=request, patient=patient, obj=visit)
    return render(
        request,
        "appointments/visit_detail.html",
        {
            "patient": patient,
            "note": visit,
            "fields": notes.readable_fields(visit, VisitNoteForm.Meta.fields),
            "changes": visit.medication_events.select_related("prescription__medication"),
            "reviewed": visit.side_effects_reviewed.select_related("prescription__medication"),
            "addenda": visit.addenda.select_related("author"),
            "addendum_form": AddendumForm(),
            "missing": notes.missing_for_signature(visit),
            "sign_url": "appointments:visit_sign",
            "addendum_url": "appointments:visit_addendum",
            "edit_url": "appointments:visit_edit",
        },
    )


@require_POST
@psychiatrist_only
def visit_sign(request: HttpRequest, pk: int, visit_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    sign_from_post(request, get_object_or_404(patient.visit_notes, pk=visit_id))
    return redirect("appointments:visit_detail", patient.pk, visit_id)


@require_POST
@psychiatrist_only
def visit_addendum(request: HttpRequest, pk: int, visit_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    add_addendum_from_post(request, get_object_or_404(patient.visit_notes, pk=visit_id))
    return redirect("appointments:visit_detail", patient.pk, visit_id)
