"""A psychiatrist's prescriber details (credentials, NPI, DEA number): what their printed
prescriptions carry (medications/print_views.py). Their own account only; no patient data."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from clinic import audit
from clinic.access import role_required
from clinic.models import AuditEvent, User
from clinic.prescriber_forms import PrescriberDetailsForm


@role_required(User.Role.PSYCHIATRIST)
def prescriber_details(request: HttpRequest) -> HttpResponse:
    form = PrescriberDetailsForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        changed = form.changed_data
        if changed:
            form.save()
            audit.record(AuditEvent.Action.UPDATE, request=request, obj=request.user, detail={"fields": changed})
        messages.success(request, "Prescriber details saved.")
        return redirect("prescriber_details")
    return render(request, "clinic/prescriber_details.html", {"form": form})
