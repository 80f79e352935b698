from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def mg(value) -> str:
    """50.000 -> '50', 12.500 -> '12.5' (Decimal.normalize alone would print 5E+1)."""
    if value is None or value == "":
        return ""
    return f"{Decimal(value).normalize():f}"
