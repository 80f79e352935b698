from decimal import Decimal

from django import template
from django.conf import settings
from django.utils.html import format_html

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
