"""Telehealth pages: the patient's "join" page and camera test, the clinic's video settings."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from appointments import telehealth
from appointments.models import Appointment
from clinic import audit, contact
from clinic.access import own_record_required, role_required
from clinic.models import AuditEvent, ClinicProfile, User


@require_GET
@own_record_required
def my_join(request: HttpRequest, patient, appointment_id: int) -> HttpResponse:
    """The video link of one of the patient's own visits, only inside its join window."""
    appointment = get_object_or_404(
        Appointment.objects.filter(patient=patient).select_related("psychiatrist", "appointment_type"),
        pk=appointment_id,
    )
    now = timezone.now()
    is_open = telehealth.join_open(appointment, now)
    audit.page(request, patient, "video_join" if is_open else "video_join_closed", obj=appointment)
    return render(
        request,
        "appointments/my_join.html",
        {
            "appointment": appointment,
            "is_open": is_open,
            "opens_at": telehealth.join_opens_at(appointment),
            "ended": appointment.end <= now or appointment.status not in Appointment.ACTIVE_STATUSES,
            "is_video": telehealth.is_video(appointment.appointment_type) or bool(appointment.telehealth_url),
        },
    )


# Only this page may use the camera and microphone: every other page denies them
# (settings.PERMISSIONS_POLICY, clinic.middleware.PermissionsPolicyMiddleware keeps a view's own header).
CAMERA_POLICY = ", ".join(
    f"{feature}={'(self)' if feature in ('camera', 'microphone') else allow}"
    for feature, allow in settings.PERMISSIONS_POLICY.items()
)


@require_GET
@role_required(User.Role.PATIENT)
def camera_test(request: HttpRequest) -> HttpResponse:
    """A preview of the patient's own camera (getUserMedia, in static/js/camera_test.js): nothing
    is recorded or sent anywhere. No patient data is shown."""
    response = render(request, "appointments/camera_test.html")
    response.headers["Permissions-Policy"] = CAMERA_POLICY
    return response


class TelehealthSettingsForm(forms.Form):
    video_provider = forms.ChoiceField(
        label="How video visits get their link", choices=ClinicProfile.VideoProvider.choices, widget=forms.RadioSelect
    )
    video_url_template = forms.CharField(
        label=ClinicProfile._meta.get_field("video_url_template").verbose_name.capitalize(),
        help_text=ClinicProfile._meta.get_field("video_url_template").help_text,
        max_length=ClinicProfile._meta.get_field("video_url_template").max_length,
        required=False,
    )

    def __init__(self, *args, psychiatrists=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.psychiatrists = list(psychiatrists)
        for person in self.psychiatrists:
            self.fields[f"room_{person.pk}"] = forms.URLField(
                label=f"Personal room of {person.display_name}",
                required=False,
                max_length=User._meta.get_field("video_room_url").max_length,
                initial=person.video_room_url,
                assume_scheme="https",
            )

    def clean_video_url_template(self):
        try:
            return telehealth.check_template(self.cleaned_data["video_url_template"])
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None

    def clean(self):
        cleaned = super().clean()
        for person in self.psychiatrists:
            name = f"room_{person.pk}"
            if cleaned.get(name):
                try:
                    telehealth.check_link(cleaned[name])
                except ValidationError as error:
                    self.add_error(name, error.messages)
        provider = cleaned.get("video_provider")
        if provider == ClinicProfile.VideoProvider.TEMPLATE and not cleaned.get("video_url_template"):
            self.add_error("video_url_template", "Give the address template for a room per visit.")
        rooms = [cleaned.get(f"room_{person.pk}") for person in self.psychiatrists]
        if provider == ClinicProfile.VideoProvider.PERSONAL and self.psychiatrists and not any(rooms):
            self.add_error(None, "Give at least one psychiatrist's personal room.")
        return cleaned


def _profile() -> ClinicProfile:
    """The saved clinic profile, or a new one from what the clinic shows today (clinic.contact)."""
    profile = ClinicProfile.objects.filter(pk=1).first()
    if profile is not None:
        return profile
    current = contact.clinic()
    return ClinicProfile(name=current.name, phone=current.phone, hours=current.hours, after_hours=current.after_hours,
                         time_zone=current.time_zone)  # fmt: skip


@role_required(User.Role.CLINIC_ADMIN)
def telehealth_settings(request: HttpRequest) -> HttpResponse:
    """The clinic's video provider: a room per visit from a template, or personal rooms."""
    profile = _profile()
    psychiatrists = User.objects.filter(role=User.Role.PSYCHIATRIST, is_active=True).order_by("last_name", "first_name")
    form = TelehealthSettingsForm(
        request.POST or None,
        psychiatrists=psychiatrists,
        initial={"video_provider": profile.video_provider, "video_url_template": profile.video_url_template},
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            profile.video_provider = form.cleaned_data["video_provider"]
            profile.video_url_template = form.cleaned_data["video_url_template"]
            profile.save()
            changed = []
            for person in form.psychiatrists:
                room = form.cleaned_data.get(f"room_{person.pk}") or ""
                if room != person.video_room_url:
                    person.video_room_url = room
                    person.save(update_fields=["video_room_url"])
                    changed.append(person.pk)
            audit.record(AuditEvent.Action.UPDATE, request=request, obj=profile,
                         detail={"change": "telehealth_settings", "rooms_changed": changed})  # fmt: skip
        messages.success(request, "Telehealth settings saved. New video visits get their link this way.")
        return redirect("appointments:telehealth_settings")
    return render(request, "appointments/telehealth_settings.html", {"form": form})
