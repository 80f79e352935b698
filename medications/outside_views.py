"""A patient's outside medications on the chart: recording one (coded to the formulary only when
its name is exactly a formulary drug, or when the psychiatrist picks the drug it is) and stopping one.
The writes are medications.outside's."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from clinic import audit
from clinic.access import get_patient_for, role_required
from clinic.models import User
from medications import outside
from medications.forms import OutsideMedicationForm

psychiatrist_only = role_required(User.Role.PSYCHIATRIST)


@psychiatrist_only
def outside_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    form = OutsideMedicationForm(request.POST or None, patient=patient)
    if request.method == "POST" and form.is_valid():
        row = outside.record(patient, form.outside_medication(), by=request.user, request=request)
        if row.is_coded:
            messages.success(
                request,
                f"Recorded {row.display_name} from elsewhere: the prescribing checks include it "
                "(its dose is not checked: it is free text).",
            )
        else:
            messages.warning(
                request, f"Recorded {row.name} from elsewhere: not in the formulary, so not checked for interactions."
            )
        if form.match is not None and form.match.lasa_warning:
            messages.warning(request, form.match.lasa_warning)
        return redirect("patients:chart", patient.pk)
    audit.page(request, patient, "outside_medication_form")
    return render(request, "medications/outside_form.html", {"patient": patient, "form": form})


@require_POST
@psychiatrist_only
def outside_stop(request: HttpRequest, pk: int, outside_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    row = get_object_or_404(patient.outside_medications.active(), pk=outside_id)
    outside.stop(row, by=request.user, request=request)
    messages.success(request, f"{row.name} marked as stopped (kept in the record, no longer checked against).")
    return redirect("patients:chart", patient.pk)
