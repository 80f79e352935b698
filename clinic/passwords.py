"""Password rules by role (ASVS 5.0 V6.2): length and a common-password check, no composition rules.

Staff see every patient they treat and sign in with a second factor; patients see only their own
record. Staff need 12 characters (the issue's floor), patients ASVS 6.2.1's minimum of 8. Both
are checked against Django's list of 20,000 common passwords and the user's own details, and
both may be up to 128 characters (ASVS 6.2.9 asks for at least 64 to be allowed; the cap keeps a
hash of a huge input from becoming a denial of service).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

MAX_LENGTH = 128


def _is_staff(user) -> bool:
    # No user yet (a bare set-password form) gets the stricter rule.
    if user is None:
        return True
    return user.role != user.Role.PATIENT or user.is_staff or user.is_superuser


class RoleLengthValidator:
    def __init__(self, staff_min: int | None = None, patient_min: int | None = None) -> None:
        self.staff_min = staff_min or settings.TITRATE_PASSWORD_MIN_STAFF
        self.patient_min = patient_min or settings.TITRATE_PASSWORD_MIN_PATIENT

    def minimum(self, user) -> int:
        return self.staff_min if _is_staff(user) else self.patient_min

    def validate(self, password: str, user=None) -> None:
        minimum = self.minimum(user)
        if len(password) < minimum:
            raise ValidationError(
                ngettext(
                    "This password is too short. It must contain at least %(min_length)d character.",
                    "This password is too short. It must contain at least %(min_length)d characters.",
                    minimum,
                ),
                code="password_too_short",
                params={"min_length": minimum},
            )
        if len(password) > MAX_LENGTH:
            raise ValidationError(
                "This password is too long. It can be at most %(max_length)d characters.",
                code="password_too_long",
                params={"max_length": MAX_LENGTH},
            )

    def get_help_text(self) -> str:
        return (
            f"Use at least {self.patient_min} characters ({self.staff_min} for clinic staff). "
            "A few unrelated words make a strong password that is easy to remember; "
            "no special characters are required."
        )
