"""Telehealth: the video link a visit gets when it is booked, and when the patient may see it.

The clinic chooses one video provider setting (clinic.models.ClinicProfile.video_provider): a new
room per visit from an address template, or each psychiatrist's personal room. ``booking.book``
asks ``new_link`` for every booking (staff-booked, self-booked, recurring, waitlist), so all get
one the same way; staff may replace it (``set_link``). The patient sees it only inside the join
window (``join_open``), through the portal: reminders link to the portal, never to the room.
"""

from __future__ import annotations

import datetime
import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from appointments.models import Appointment, AppointmentType
from clinic import audit
from clinic.models import AuditEvent, ClinicProfile, User

JOIN_OPENS_BEFORE = datetime.timedelta(minutes=15)
ROOM_SLOT = "{room}"


def is_video(appointment_type: AppointmentType) -> bool:
    return appointment_type.modality == AppointmentType.Modality.TELEHEALTH


def check_link(url: str) -> str:
    """A video link must be https (a patient's camera and microphone go through it)."""
    url = url.strip()
    if url and (urlsplit(url).scheme != "https" or not urlsplit(url).netloc):
        raise ValidationError("A video link must be an address starting with https://.")
    if len(url) > Appointment._meta.get_field("telehealth_url").max_length:
        raise ValidationError("That video link is too long.")
    return url


def check_template(template: str) -> str:
    template = check_link(template)
    if template and template.count(ROOM_SLOT) != 1:
        raise ValidationError(f"Put {ROOM_SLOT} once in the address, where the visit's room name goes.")
    return template


def new_link(appointment_type: AppointmentType, psychiatrist: User) -> str:
    """The link a new visit of this type with this psychiatrist gets ("" if none: not a video
    visit, or the clinic set no provider). A per-visit room name is random, so a room cannot be
    guessed from another visit's."""
    if not is_video(appointment_type):
        return ""
    profile = ClinicProfile.objects.filter(pk=1).only("video_provider", "video_url_template").first()
    if profile is None:
        return ""
    if profile.video_provider == ClinicProfile.VideoProvider.TEMPLATE and profile.video_url_template:
        return profile.video_url_template.replace(ROOM_SLOT, secrets.token_urlsafe(12))
    if profile.video_provider == ClinicProfile.VideoProvider.PERSONAL:
        return psychiatrist.video_room_url
    return ""


def join_opens_at(appointment: Appointment) -> datetime.datetime:
    return appointment.start - JOIN_OPENS_BEFORE


def join_open(appointment: Appointment, now: datetime.datetime | None = None) -> bool:
    """Whether the patient may see and use the link now: from 15 minutes before the start to the
    end, for a visit still on (not cancelled, not a no-show) that has a link."""
    now = now or timezone.now()
    return bool(
        appointment.telehealth_url
        and appointment.status in Appointment.ACTIVE_STATUSES
        and join_opens_at(appointment) <= now < appointment.end
    )


@transaction.atomic
def set_link(appointment: Appointment, url: str, *, by: User, request=None) -> Appointment:
    """Staff replace (or clear) a visit's video link."""
    url = check_link(url)
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.telehealth_url == url:
        return appointment
    appointment.telehealth_url = url
    appointment.save(update_fields=["telehealth_url"])
    audit.record(AuditEvent.Action.UPDATE, request=request, actor=by, patient=appointment.patient_id,
                 obj=appointment, detail={"change": "video_link"})  # fmt: skip
    return appointment
