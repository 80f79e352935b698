"""Clinic set-up, for clinic admins: the clinic's profile and the overview of its appointment types
(their own pages are appointments/type_views.py). Nothing here is about a patient, so the pages
write no view rows; every change writes one audit row (clinic.profile, appointments.appointment_types)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from appointments.models import AppointmentType
from appointments.reminders import offsets_sentence
from clinic import profile
from clinic.access import role_required
from clinic.models import User
from clinic.setup_forms import ClinicProfileForm

front_desk_only = role_required(User.Role.CLINIC_ADMIN)


@require_GET
@front_desk_only
def setup(request: HttpRequest) -> HttpResponse:
    types = list(AppointmentType.objects.order_by("-is_active", "name"))
    for appointment_type in types:
        appointment_type.reminder_sentence = offsets_sentence(appointment_type.reminder_offsets_hours)
    clinic = profile.current()
    return render(
        request,
        "clinic/setup/overview.html",
        {"clinic": clinic, "saved": clinic.pk is not None, "types": types},
    )


@require_http_methods(["GET", "POST"])
@front_desk_only
def clinic_profile(request: HttpRequest) -> HttpResponse:
    form = ClinicProfileForm(request.POST or None, instance=profile.current())
    if request.method == "POST" and form.is_valid():
        if form.has_changed() or form.instance.pk is None:
            profile.save_profile(form.save(commit=False), fields=form.changed_data, request=request)
            messages.success(request, "Saved. Patients see the new details at once.")
        else:
            messages.info(request, "Nothing changed.")
        return redirect("clinic_setup")
    return render(request, "clinic/setup/profile_form.html", {"form": form})
