"""Clinic set-up's appointment types (the overview is clinic/setup_views.py): add, edit, stop or
start offering, and delete one nobody used. Writes go through appointments.appointment_types."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from appointments import appointment_types
from appointments.models import AppointmentType
from appointments.type_forms import AppointmentTypeForm
from clinic.access import role_required
from clinic.models import User

front_desk_only = role_required(User.Role.CLINIC_ADMIN)


@require_http_methods(["GET", "POST"])
@front_desk_only
def type_create(request: HttpRequest) -> HttpResponse:
    form = AppointmentTypeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        saved = appointment_types.save(form.save(commit=False), fields=form.changed_data, request=request)
        messages.success(request, f"Added {saved.name}.")
        return redirect("clinic_setup")
    return render(request, "appointments/type_form.html", {"form": form, "appointment_type": None})


@require_http_methods(["GET", "POST"])
@front_desk_only
def type_edit(request: HttpRequest, type_id: int) -> HttpResponse:
    appointment_type = get_object_or_404(AppointmentType, pk=type_id)
    saved_name = appointment_type.name  # the form writes what was typed onto the instance
    form = AppointmentTypeForm(request.POST or None, instance=appointment_type)
    if request.method == "POST" and form.is_valid():
        if form.has_changed():
            appointment_types.save(form.save(commit=False), fields=form.changed_data, request=request)
            messages.success(request, f"Saved {appointment_type.name}.")
        else:
            messages.info(request, "Nothing changed.")
        return redirect("clinic_setup")
    context = {
        "form": form,
        "appointment_type": appointment_type,
        "saved_name": saved_name,
        "in_use": appointment_types.in_use(appointment_type),
    }
    return render(request, "appointments/type_form.html", context)


@require_POST
@front_desk_only
def type_active(request: HttpRequest, type_id: int) -> HttpResponse:
    appointment_type = get_object_or_404(AppointmentType, pk=type_id)
    active = request.POST.get("active") == "true"
    if appointment_types.set_active(appointment_type, active, request=request):
        if active:
            messages.success(request, f"{appointment_type.name} can be booked again.")
        else:
            messages.success(request, f"{appointment_type.name} is no longer offered. Visits already booked keep it.")
    return redirect("clinic_setup")


@require_POST
@front_desk_only
def type_delete(request: HttpRequest, type_id: int) -> HttpResponse:
    appointment_type = get_object_or_404(AppointmentType, pk=type_id)
    try:
        appointment_types.delete_unused(appointment_type, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("appointments:type_edit", appointment_type.pk)
    messages.success(request, f"Deleted {appointment_type.name}.")
    return redirect("clinic_setup")
