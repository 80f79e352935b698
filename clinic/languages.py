"""The language a person reads Titrate in (issue 22): English or Spanish for patients, English
for staff (staff pages are not translated yet).

A patient's choice is stored twice, on purpose: on their User (``language``), which every request
already holds, so choosing the language costs no query; and on their clinical record
(``Patient.preferred_language``), which the front desk sees and edits. ``set_preference`` keeps the
two together; the language cookie carries the choice to the sign-in page on the next visit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from clinic.models import User
from patients.models import Patient

ENGLISH, SPANISH = "en", "es"
CODES = frozenset(code for code, _ in settings.LANGUAGES)


def for_user(user) -> str:
    """The language to show ``user`` pages and send them messages in."""
    if getattr(user, "role", None) == User.Role.PATIENT and user.language in CODES:
        return user.language
    return ENGLISH


def normalise(code: str | None) -> str:
    """'es-MX' -> 'es'; anything we do not offer -> English."""
    base = (code or "").split("-")[0].lower()
    return base if base in CODES else ENGLISH


@transaction.atomic
def set_preference(user: User, code: str) -> str:
    """Store a patient's choice on their account and their record; returns the code stored."""
    code = normalise(code)
    if user.language != code:
        user.language = code
        User.objects.filter(pk=user.pk).update(language=code)
    Patient.objects.filter(user_id=user.pk).exclude(preferred_language=code).update(preferred_language=code)
    return code


def record_changed(patient: Patient) -> None:
    """The front desk changed a record's preferred language: the linked account follows."""
    if patient.user_id:
        User.objects.filter(pk=patient.user_id).exclude(language=patient.preferred_language).update(
            language=patient.preferred_language
        )
