"""A prescriber's federal identifiers, checked the way pharmacies and payers check them.

- NPI (National Provider Identifier, CMS): ten digits whose last is a Luhn check digit computed
  over the card-issuer prefix 80840 and the first nine digits (45 CFR 162.406; CMS "NPI check
  digit"). Adding the prefix's constant (24) to the usual Luhn sum gives the same result.
- DEA registration number: two letters and seven digits. The first letter is the registrant type
  (A, B, F, G for practitioners; M for mid-level practitioners such as NPs; the others for
  distributors, researchers and the like); the second is the first letter of the registrant's last
  name (or 9 for a business). The check digit is the last digit of (d1 + d3 + d5) + 2 × (d2 + d4 + d6).

A typo caught here is a prescription the pharmacy does not reject at the counter.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

NPI_RE = re.compile(r"\d{10}")
DEA_RE = re.compile(r"([A-Z])([A-Z9])(\d{7})")
# Registrant types of the DEA number's first letter (21 CFR 1301; DEA Diversion's registrant codes).
DEA_REGISTRANT_TYPES = set("ABCDEFGHJKLMPRSTUX")


def npi_check_digit(first_nine: str) -> int:
    total = 24  # the Luhn contribution of the prefix 80840
    for position, char in enumerate(reversed(first_nine)):
        digit = int(char)
        if position % 2 == 0:  # every other digit from the right, starting next to the check digit
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def npi_is_valid(npi: str) -> bool:
    return bool(NPI_RE.fullmatch(npi)) and npi_check_digit(npi[:9]) == int(npi[9])


def validate_npi(value: str) -> None:
    if not NPI_RE.fullmatch(value):
        raise ValidationError("An NPI is 10 digits.", code="npi_format")
    if not npi_is_valid(value):
        raise ValidationError("This NPI's check digit does not match: check for a typo.", code="npi_check")


def dea_check_digit(six: str) -> int:
    d = [int(c) for c in six]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10


def validate_dea(value: str) -> None:
    match = DEA_RE.fullmatch(value)
    if not match:
        raise ValidationError("A DEA number is 2 letters and 7 digits, e.g. AB1234563.", code="dea_format")
    if match.group(1) not in DEA_REGISTRANT_TYPES:
        raise ValidationError(f"“{match.group(1)}” is not a DEA registrant type.", code="dea_type")
    digits = match.group(3)
    if dea_check_digit(digits[:6]) != int(digits[6]):
        raise ValidationError("This DEA number's check digit does not match: check for a typo.", code="dea_check")


def dea_matches_last_name(dea: str, last_name: str) -> bool:
    """The second letter is the registrant's last-name initial (9 for a business registration)."""
    initial = last_name.strip()[:1].upper()
    return not initial or dea[1] in (initial, "9")
