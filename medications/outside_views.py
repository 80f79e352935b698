"""A patient's outside medications on the chart: recording one (coded to the formulary only when
its name is exactly a formulary drug, or when the psychiatrist picks the drug it is) and stopping one.
The writes are medications.outside's."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clinic import audit
from clinic.access import get_patient_for, own_record_required, role_required
from clinic.models import User
from medications import outside
from medications.forms import OutsideMedicationForm, PatientOutsideMedicationForm
from medications.models import Prescription
from patients.models import Patient

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
def outside_confirm(request: HttpRequest, pk: int, outside_id: int) -> HttpResponse:
    return _on_chart(request, pk, outside_id, outside.confirm, "{} confirmed: no longer marked patient-reported.")


def _on_chart(request: HttpRequest, pk: int, outside_id: int, act, said: str) -> HttpResponse:
    """One of the chart's buttons on an active outside medication: act on it, say so, back to the chart."""
    patient = get_patient_for(request.user, pk)
    row = get_object_or_404(patient.outside_medications.active(), pk=outside_id)
    act(row, by=request.user, request=request)
    messages.success(request, said.format(row.name))
    return redirect("patients:chart", patient.pk)


@own_record_required
def my_medicines(request: HttpRequest, patient: Patient) -> HttpResponse:
    """The patient's medicine cabinet: this clinic's prescriptions and everything else they take,
    and "add something I take". At most 8 queries (tests/medications/test_cabinet.py)."""
    form = PatientOutsideMedicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        row = outside.record_from_patient(patient, form.save(commit=False), by=request.user, request=request)
        messages.success(
            request,
            _("Added %(name)s. It shows as added by you until your care team goes through it with you.")
            % {"name": row.name},
        )
        return redirect("medications:my_medicines")
    audit.page(request, patient, "my_medicines")
    prescriptions = Prescription.objects.active().filter(patient=patient).select_related("medication")
    others = patient.outside_medications.active().order_by("name", "pk")
    return render(
        request,
        "medications/my_medicines.html",
        {"patient": patient, "form": form, "prescriptions": prescriptions, "others": others},
    )


@require_POST
@psychiatrist_only
def outside_stop(request: HttpRequest, pk: int, outside_id: int) -> HttpResponse:
    return _on_chart(
        request, pk, outside_id, outside.stop, "{} marked as stopped (kept in the record, no longer checked against)."
    )
