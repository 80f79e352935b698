from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def mg(value) -> str:
    """50.000 -> '50', 12.500 -> '12.5' (Decimal.normalize alone would print 5E+1)."""
    if value is None or value == "":
        return ""
    return f"{Decimal(value).normalize():f}"


# The one label and colour of each triage level (side-effect reports, questionnaires, lab results
# and the safety alerts they raise): every page shows a level through {% triage_badge %}.
TRIAGE_BADGES = {"emergency": ("Emergency", "text-bg-danger"), "urgent": ("Urgent", "text-bg-warning")}


@register.inclusion_tag("includes/triage_badge.html")
def triage_badge(level: str) -> dict:
    """A badge for an emergency or urgent level; nothing for routine."""
    label, colour = TRIAGE_BADGES.get(level, ("", ""))
    return {"label": label, "colour": colour}
