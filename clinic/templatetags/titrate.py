from decimal import Decimal

from django import template
from django.conf import settings
from django.utils.html import format_html

from clinic import dates

register = template.Library()


@register.filter
def mg(value) -> str:
    """50.000 -> '50', 12.500 -> '12.5' (Decimal.normalize alone would print 5E+1)."""
    if value is None or value == "":
        return ""
    return f"{Decimal(value).normalize():f}"


@register.simple_tag
def call_the_clinic() -> str:
    """'call the clinic on <the number, linked for a phone to dial>': clinic.contact's wording."""
    return format_html(
        'call the clinic on <a href="{}">{}</a>', settings.TITRATE_CLINIC_PHONE_LINK, settings.TITRATE_CLINIC_PHONE
    )


# Dates and times as a person reads them (clinic/dates.py). This library is a template builtin
# (settings.TEMPLATES), so every template has these without a {% load %}.


@register.filter
def day(value) -> str:
    """{{ value|day }}: "Mar 4", "Mar 4, 2027"."""
    return dates.day(value)


@register.filter
def weekday(value, style: str = "") -> str:
    """{{ value|weekday }}: "Monday, March 4"; {{ value|weekday:"short" }}: "Mon, Mar 4"."""
    return dates.weekday(value, short=style == "short")


@register.filter
def moment(value, style: str = "") -> str:
    """{{ value|moment }}: "Mar 4, 14:30"; {{ value|moment:"seconds" }}: "Mar 4, 14:30:05"."""
    return dates.moment(value, seconds=style == "seconds")


@register.filter
def clock(value) -> str:
    """{{ value|clock }}: "14:30"."""
    return dates.clock(value)
