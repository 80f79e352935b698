"""The patient's medicine check-in (medications.adherence): one question per active medicine."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from clinic import audit
from clinic.access import own_record_required
from medications import adherence
from medications.forms import AdherenceCheckInForm
from medications.models import Prescription
from patients.models import Patient
from patients.views import add_errors


@own_record_required
def my_adherence(request: HttpRequest, patient: Patient) -> HttpResponse:
    """At most 9 queries (tests/medications/test_adherence.py)."""
    active = Prescription.objects.active().filter(patient=patient).select_related("medication")
    form = AdherenceCheckInForm(request.POST or None, prescriptions=active, days=adherence.window_days())
    opens = adherence.next_open(patient)
    if request.method == "POST" and form.is_valid():
        try:
            adherence.submit(patient, form.answers(), by=request.user, request=request)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Thank you — your check-in was sent to your care team."))
            return redirect("patient_home")
    audit.page(request, patient, "my_adherence")
    return render(request, "medications/my_adherence.html", {"patient": patient, "form": form, "opens": opens})
