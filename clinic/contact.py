"""How a patient reaches the clinic: one wording for "call the clinic", always with the number
(TITRATE_CLINIC_PHONE), for messages written in Python. Templates use ``{% call_the_clinic %}``
(clinic/templatetags/titrate.py), which links the number for a phone to dial."""

from __future__ import annotations

from django.conf import settings


def call_the_clinic() -> str:
    """'call the clinic on (617) 555-0100', to end a sentence: f"Please {call_the_clinic()}." """
    return f"call the clinic on {settings.TITRATE_CLINIC_PHONE}"
