"""Prescriptions worded for the people who read them: the patient ("Take 1 tablet (50 mg) each
morning") and the pharmacy (quantity in words and figures, the controlled-substance notice).

Doses are worded with medications.models.dose_text, as on every other page.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import format_html
from django.utils.translation import get_language

from medications.models import Frequency, Route, dose_text
from medications.prescribing import spanish_sig

# How often, as a patient says it.
WHEN = {
    Frequency.DAILY: "once a day",
    Frequency.MORNING: "each morning",
    Frequency.BEDTIME: "at bedtime",
    Frequency.TWICE: "twice a day",
    Frequency.THREE: "three times a day",
    Frequency.FOUR: "four times a day",
    Frequency.ALTERNATE: "every other day",
    Frequency.WEEKLY: "once a week",
    Frequency.TWO_WEEKLY: "every 2 weeks",
    Frequency.FOUR_WEEKLY: "every 4 weeks",
}
# (verb, where) for each route: "Take 1 tablet (50 mg) each morning".
ACTION = {
    Route.ORAL: ("Take", ""),
    Route.SUBLINGUAL: ("Let", " dissolve under the tongue"),
    Route.TRANSDERMAL: ("Apply", " to the skin"),
    Route.INTRAMUSCULAR: ("Have", " by injection"),
    Route.SUBCUTANEOUS: ("Have", " by injection"),
    Route.INTRANASAL: ("Use", " in the nose"),
}
# Forms counted in whole (or half) units; anything else (solutions, injections, sprays) is a dose in mg.
COUNTED = ("tablet", "capsule", "patch", "film")
FRACTIONS = {Decimal("0.5"): "½", Decimal("0.25"): "¼", Decimal("0.75"): "¾"}
# The DEA schedules (21 CFR 1308) as the formulary stores them: II–V need the notice on a print.
CONTROLLED_SCHEDULES = {"CII", "CIII", "CIV", "CV"}

ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def unit_name(form: str) -> str | None:
    """'tablet' for 'extended-release tablet (24-hour, XL)'; None for a liquid or an injection."""
    head = form.split("(")[0].lower()
    return next((unit for unit in COUNTED if unit in head), None)


def _count_text(units: Decimal, unit: str) -> str | None:
    whole, part = divmod(units, 1)
    if part and part not in FRACTIONS:
        return None
    number = (str(int(whole)) if whole else "") + FRACTIONS.get(part, "")
    plural = "es" if unit == "patch" else "s"
    return f"{number} {unit}{plural if units > 1 else ''}"


def patient_instructions(*, dose_mg, strength_mg, form: str, frequency: str, route: str, extra: str = "") -> str:
    """'Take 1 tablet (50 mg) each morning'; 'Take ½ tablet (12.5 mg) at bedtime, with food';
    a liquid or an uneven split: 'Take 7.5 mg twice a day'."""
    verb, where = ACTION.get(Route(route), ("Take", "")) if route in Route.values else ("Take", "")
    unit = unit_name(form)
    amount = dose_text(dose_mg)
    if unit and strength_mg:
        counted = _count_text(Decimal(dose_mg) / Decimal(strength_mg), unit)
        if counted:
            amount = f"{counted} ({amount})"
    text = f"{verb} {amount}{where} {WHEN.get(Frequency(frequency), '')}".rstrip()
    return f"{text}, {extra.strip()}" if extra.strip() else text


def in_language(*, dose_mg, strength_mg, form: str, frequency: str, route: str, extra: str = "") -> str:
    """patient_instructions, or on a Spanish page the same instructions built in Spanish
    (prescribing.spanish_sig) with the prescriber's free text after them as written, marked English."""
    if get_language() != "es":
        return patient_instructions(
            dose_mg=dose_mg, strength_mg=strength_mg, form=form, frequency=frequency, route=route, extra=extra
        )
    text = spanish_sig(
        form=form, strength_mg=Decimal(strength_mg), dose_mg=Decimal(dose_mg), frequency=frequency, route=route
    )
    if extra.strip():
        return format_html('{} <span lang="en">({})</span>', text, extra.strip())
    return text


def for_prescription(prescription) -> str:
    return in_language(
        dose_mg=prescription.dose_mg,
        strength_mg=prescription.strength_mg,
        form=prescription.form,
        frequency=prescription.frequency,
        route=prescription.route,
        extra=prescription.extra_instructions,
    )


def number_words(number: int) -> str:
    """1–9999 in words, as pharmacies ask for quantities: 'thirty', 'one hundred twenty'."""
    if not 0 <= number < 10000:
        raise ValueError(number)
    if number < 20:
        return ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return TENS[tens] + (f"-{ONES[ones]}" if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")
    thousands, rest = divmod(number, 1000)
    return f"{ONES[thousands]} thousand" + (f" {number_words(rest)}" if rest else "")


def quantity_text(quantity: int) -> str:
    """'Thirty (30)': words first, so a changed figure shows."""
    return f"{number_words(quantity).capitalize()} ({quantity})"


def is_controlled(schedule: str) -> bool:
    return schedule.strip().upper() in CONTROLLED_SCHEDULES
