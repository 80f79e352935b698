"""Refill requests: the patient's page (ask, and read the answers), the psychiatrist's queue and the
request page where it is approved or declined. The writes are medications.refills'."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from clinic import audit
from clinic.access import get_patient_for, own_record_required, patients_for, role_required
from clinic.models import User
from medications import refills
from medications.forms import RefillApproveForm, RefillDeclineForm, RefillRequestForm
from medications.models import Prescription, RefillRequest
from patients.models import Patient
from patients.views import add_errors

psychiatrist_only = role_required(User.Role.PSYCHIATRIST)
# The patient's page lists at most this many past requests (newest first).
MY_REFILLS_SHOWN = 20


@own_record_required
def my_refills(request: HttpRequest, patient: Patient) -> HttpResponse:
    """At most 9 queries (tests/medications/test_refills.py)."""
    active = Prescription.objects.active().filter(patient=patient).select_related("medication")
    form = RefillRequestForm(request.POST or None, prescriptions=active)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            refills.request_refill(
                patient,
                data["prescription"],
                pharmacy=data["pharmacy"],
                days_left=data["days_left"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request, _("Your refill request was sent. You get a notice when your psychiatrist answers.")
            )
            return redirect("medications:my_refills")
    audit.page(request, patient, "my_refills")
    history = list(patient.refill_requests.select_related("prescription__medication")[:MY_REFILLS_SHOWN])
    return render(request, "medications/my_refills.html", {"patient": patient, "form": form, "history": history})


@psychiatrist_only
def refill_queue(request: HttpRequest) -> HttpResponse:
    """The pending requests of the psychiatrist's patients, oldest first. 5 queries whatever
    their number (tests/medications/test_refills.py)."""
    pending = list(
        RefillRequest.objects.pending()
        .filter(patient__in=patients_for(request.user))
        .select_related("patient", "prescription__medication")
        .order_by("requested_at", "pk")
    )
    audit.record_list(request, "refill_queue", [r.patient_id for r in pending])
    return render(request, "medications/refill_queue.html", {"pending": pending})


@psychiatrist_only
def refill_detail(request: HttpRequest, pk: int, refill_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    refill = get_object_or_404(
        RefillRequest.objects.filter(patient=patient).select_related(
            "prescription__medication", "prescription__patient", "requested_by", "decided_by", "event"
        ),
        pk=refill_id,
    )
    rx = refill.prescription
    action = request.POST.get("action") if request.method == "POST" else None
    approve_form = RefillApproveForm(
        request.POST if action == "approve" else None, initial={"quantity": rx.quantity, "refills": rx.refills}
    )
    decline_form = RefillDeclineForm(request.POST if action == "decline" else None)
    if action == "approve" and approve_form.is_valid():
        data = approve_form.cleaned_data
        try:
            refills.approve(
                refill,
                by=request.user,
                quantity=data["quantity"],
                refills=data["refills"],
                note=data["note"],
                request=request,
            )
        except ValidationError as error:
            add_errors(approve_form, error)
        else:
            messages.success(request, f"Refill of {rx.medication.generic_name} approved; the patient has been told.")
            return redirect("medications:refill_queue")
    elif action == "decline" and decline_form.is_valid():
        try:
            refills.decline(refill, by=request.user, reason=decline_form.cleaned_data["reason"], request=request)
        except ValidationError as error:
            add_errors(decline_form, error)
        else:
            messages.success(request, "Refill declined; the patient can read your reason.")
            return redirect("medications:refill_queue")
    audit.page(request, patient, "refill_detail", obj=refill)
    return render(
        request,
        "medications/refill_detail.html",
        {
            "patient": patient,
            "refill": refill,
            "rx": rx,
            "concerns": refills.concerns(rx) if refill.status == RefillRequest.Status.PENDING and rx.is_active else [],
            "approve_form": approve_form,
            "decline_form": decline_form,
        },
    )
