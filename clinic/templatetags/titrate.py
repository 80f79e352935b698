from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.translation import get_language, gettext

from clinic import contact, dates
from medications.checklists import education_es
from medications.models import dose_change_text, dose_text, planned_change_text
from medications.prescribing import FREQUENCY_ES, prescription_spanish_sig

register = template.Library()


@register.filter
def mg(value) -> str:
    """50.000 -> '50', 12.500 -> '12.5' (Decimal.normalize alone would print 5E+1)."""
    if value is None or value == "":
        return ""
    return f"{Decimal(value).normalize():f}"


@register.simple_tag
def call_the_clinic() -> str:
    """'call the clinic on <the number, linked for a phone to dial>': clinic.contact's wording, with
    the phone hours when the clinic gave them ("(Mon–Fri 9 am–5 pm)")."""
    clinic = contact.clinic()
    if clinic.hours:
        return format_html(
            gettext('call the clinic on <a href="{}">{}</a> ({})'), clinic.phone_link, clinic.phone, clinic.hours
        )
    return format_html(gettext('call the clinic on <a href="{}">{}</a>'), clinic.phone_link, clinic.phone)


@register.simple_tag
def clinic_hours() -> contact.Clinic:
    """{% clinic_hours as clinic %}: the clinic (its ``hours`` and ``after_hours``) for a sentence of one's own."""
    return contact.clinic()


@register.inclusion_tag("includes/clinic_contact.html")
def clinic_contact() -> dict:
    """The clinic's phone, phone hours and after-hours instruction, for every patient page that
    says to call (issue 20 item 5): a patient reading "call the clinic" at night learns what to do."""
    return {"clinic": contact.clinic()}


# Dates and times as a person reads them (clinic/dates.py). This library is a template builtin
# (settings.TEMPLATES), so every template has these without a {% load %}.


@register.filter
def day(value, style: str = "") -> str:
    """{{ value|day }}: "Mar 4", "Mar 4, 2027"; {{ value|day:"year" }} always with the year (printed
    documents, kept for years)."""
    return dates.day(value, year=style == "year")


@register.filter
def weekday(value, style: str = "") -> str:
    """{{ value|weekday }}: "Monday, March 4"; {{ value|weekday:"short" }}: "Mon, Mar 4"."""
    return dates.weekday(value, short=style == "short")


@register.filter
def moment(value, style: str = "") -> str:
    """{{ value|moment }}: "Mar 4, 14:30"; {{ value|moment:"seconds" }}: "Mar 4, 14:30:05"."""
    return dates.moment(value, seconds=style == "seconds")


@register.filter
def percent(value) -> str:
    """A rate of clinic.metrics: 12.5 -> '12.5 %'; None (nothing to divide) -> '–'."""
    return "–" if value is None else f"{value} %"


@register.filter
def clock(value) -> str:
    """{{ value|clock }}: "14:30"."""
    return dates.clock(value)


# The one label and colour of each triage level (side-effect reports, questionnaires, lab results
# and the safety alerts they raise): every page shows a level through {% triage_badge %}.
TRIAGE_BADGES = {"emergency": ("Emergency", "text-bg-danger"), "urgent": ("Urgent", "text-bg-warning")}


@register.simple_tag
def triage_badge(level: str) -> str:
    """A badge for an emergency or urgent level; nothing for routine. A simple tag, not an included
    template: inboxes draw one per row, and an inclusion tag renders a template each time."""
    label, colour = TRIAGE_BADGES.get(level, ("", ""))
    return format_html('<span class="badge {}">{}</span>', colour, label) if label else ""


# Doses and plan steps are worded by medications.models' helpers everywhere, so a step to 0 mg
# reads as a stop on every page (never "change to 0 mg" or "12.5 → 0 mg").
@register.filter
def dose(value) -> str:
    """50 -> '50 mg'; 0 -> 'stop'."""
    return dose_text(None if value in (None, "") else Decimal(value))


@register.filter
def dose_change(event) -> str:
    """A prescription event's from → to: '25 → 50 mg', '12.5 mg → stop', '25 mg' for a start."""
    if event.kind == "discontinued":
        return dose_change_text(event.from_dose_mg, Decimal(0))
    return dose_change_text(event.from_dose_mg, event.to_dose_mg)


@register.simple_tag
def planned_change(prescription, step) -> str:
    """'stop trazodone' or 'change sertraline to 100 mg once daily' (in Spanish for a Spanish page)."""
    drug = prescription.medication.generic_name
    if get_language() == "es":
        if step.dose_mg == 0:
            return f"suspender {drug}"
        return f"cambiar {drug} a {mg(step.dose_mg)} mg {FREQUENCY_ES.get(prescription.frequency, '')}".rstrip()
    return planned_change_text(drug, step.dose_mg, prescription.get_frequency_display())


@register.simple_tag
def patient_sig(prescription) -> str:
    """How to take it, as the patient reads it: the stored (English) sig, or on a Spanish page the
    same instructions in Spanish with the prescriber's extra words after them, marked English."""
    if get_language() != "es":
        return prescription.sig
    text = prescription_spanish_sig(prescription)
    if prescription.extra_instructions:
        return format_html('{} <span lang="en">({})</span>', text, prescription.extra_instructions)
    return text


@register.simple_tag
def medication_education(medication) -> dict | None:
    """The medicine's patient education in the page's language: the Spanish text written from
    MedlinePlus en español (medications/data/education_es.json, cited per drug) where there is
    one, else the English text marked as English (lang="en") with a note on the page."""
    if not medication.education_purpose:
        return None
    spanish_page = get_language() == "es"
    if spanish_page:
        spanish = education_es(medication.generic_name)
        if spanish is not None:
            return {**spanish, "fallback": False}
    return {
        "fallback": spanish_page,
        "purpose": medication.education_purpose,
        "onset": medication.education_onset,
        "common_side_effects": medication.education_common_side_effects,
        "report_at_once": medication.education_report_at_once,
        "stopping": medication.education_stopping,
    }
