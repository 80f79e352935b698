"""How a patient reaches the clinic. ``clinic()`` is the clinic's name, phone, hours and on-call
contact: the saved ``ClinicProfile`` (set in the portal or by ``bootstrap_clinic``), else the
TITRATE_CLINIC_* settings. ``call_the_clinic()`` is one wording for "call the clinic", always with
the number, for messages written in Python; templates use ``{% call_the_clinic %}``
(clinic/templatetags/titrate.py), which links the number for a phone to dial."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext

from clinic.envconf import tel_link
from clinic.models import CLINIC_PROFILE_CACHE_KEY, ClinicProfile

_CACHE_SECONDS = 300


@dataclass(frozen=True)
class Clinic:
    name: str
    phone: str
    hours: str = ""
    after_hours: str = ""
    time_zone: str = ""
    on_call_email: str = ""
    response_business_days: int = 2

    @property
    def phone_link(self) -> str:
        return tel_link(self.phone, settings.PHONENUMBER_DEFAULT_REGION)


def _from_settings() -> Clinic:
    return Clinic(
        name=settings.TITRATE_CLINIC_NAME,
        phone=settings.TITRATE_CLINIC_PHONE,
        time_zone=settings.TITRATE_DEFAULT_TIME_ZONE,
        on_call_email=settings.TITRATE_ON_CALL_EMAIL,
    )


def clinic() -> Clinic:
    """The clinic as patients and staff should see it now. Cached in the shared cache for a few
    minutes and dropped whenever the profile is saved; ``None`` is cached too (no profile yet), so
    a clinic still on its settings costs no query per page."""
    cached = cache.get(CLINIC_PROFILE_CACHE_KEY)
    if cached is None:
        row = ClinicProfile.objects.select_related("on_call").filter(pk=1).first()
        if row is None:
            cached = {}
        else:
            cached = {
                "name": row.name,
                "phone": row.phone,
                "hours": row.hours,
                "after_hours": row.after_hours,
                "time_zone": row.time_zone,
                "on_call_email": row.on_call.email if row.on_call_id and row.on_call.is_active else "",
                "response_business_days": row.response_business_days,
            }
        cache.set(CLINIC_PROFILE_CACHE_KEY, cached, _CACHE_SECONDS)
    return Clinic(**cached) if cached else _from_settings()


def call_the_clinic() -> str:
    """'call the clinic on (617) 555-0100', to end a sentence: f"Please {call_the_clinic()}." """
    return gettext("call the clinic on %(phone)s") % {"phone": clinic().phone}
