"""Lab results and monitoring: enter a result, a patient's results by test, one result."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import capfirst

from clinic import audit
from clinic.access import get_patient_for, role_required
from clinic.models import AuditEvent, User
from medications import monitoring
from medications.lab_forms import LabResultForm
from medications.models import LabResult, Prescription
from patients.views import add_errors

psychiatrist_only = role_required(User.Role.PSYCHIATRIST)


def _entry_code(test_code: str) -> str:
    return monitoring.BP if test_code in monitoring.BP_PARTS else test_code


@psychiatrist_only
def lab_result_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    due = [d for d in monitoring.due_items(patient) if d.is_open]
    form = LabResultForm(
        request.POST or None,
        patient=patient,
        due_codes=[_entry_code(d.test.code) for d in due],
        initial={"collected_on": timezone.localdate()},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            results = monitoring.record_result(
                patient=patient,
                test_code=data["test"],
                value=data["value"],
                unit=data["unit"],
                collected_on=data["collected_on"],
                entered_by=request.user,
                note=data["note"],
                request=request,
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            due_now = monitoring.due_items(patient)
            for result in results:
                text = monitoring.describe(result)
                recheck = monitoring.recheck_for(result, due_now)
                then = f" {capfirst(recheck.reason)}." if recheck else ""
                if result.level != "routine":
                    messages.error(
                        request,
                        f"{text}: {result.get_flag_display()} — {result.flag_reason}. "
                        f"An {result.level} alert was raised for the care team.{then}",
                    )
                elif result.flag in (LabResult.Flag.LOW, LabResult.Flag.HIGH):
                    messages.warning(request, f"{text}: {result.get_flag_display()} — {result.flag_reason}.{then}")
                else:
                    messages.success(request, f"Saved: {text}.")
            return redirect("medications:lab_results", patient.pk)
    units = {code: monitoring.units_for(code) for code, _ in monitoring.entry_choices()}
    audit.page(request, patient, "lab_result_form")
    return render(
        request,
        "medications/labs/result_form.html",
        {"patient": patient, "form": form, "due": due, "units": units},
    )


@psychiatrist_only
def lab_results(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    results = list(LabResult.objects.filter(patient=patient).select_related("entered_by"))
    due = monitoring.due_items(patient, results=results)
    tests = monitoring.rules().tests
    by_test: dict[str, list[LabResult]] = defaultdict(list)
    for result in results:
        by_test[result.test_code].append(result)
    history = sorted(
        ((tests.get(code), rows) for code, rows in by_test.items()),
        key=lambda pair: pair[0].name.lower() if pair[0] else pair[1][0].test_code,
    )
    active = list(Prescription.objects.active().filter(patient=patient).select_related("medication"))
    audit.record(AuditEvent.Action.VIEW, request=request, patient=patient, obj=patient, detail={"page": "lab_results"})
    return render(
        request,
        "medications/labs/results.html",
        {
            "patient": patient,
            "due": due,
            "history": history,
            "guidance": monitoring.not_scheduled_for(active),
        },
    )


@psychiatrist_only
def lab_result_detail(request: HttpRequest, pk: int, result_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    result = get_object_or_404(LabResult.objects.filter(patient=patient).select_related("entered_by"), pk=result_id)
    audit.record(AuditEvent.Action.VIEW, request=request, patient=patient, obj=result)
    recheck = monitoring.recheck_for(result, monitoring.due_items(patient)) if result.flag != "normal" else None
    return render(
        request,
        "medications/labs/result_detail.html",
        {
            "patient": patient,
            "result": result,
            "test": monitoring.rules().tests.get(result.test_code),
            "recheck": recheck,
        },
    )
