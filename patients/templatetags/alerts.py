"""Template tags for safety alerts: the psychiatrist home panel and the crisis resources."""

from __future__ import annotations

from django import template

from clinic import contact
from patients import alerts

register = template.Library()


@register.simple_tag
def clinic_phone() -> str:
    return contact.clinic().phone or ""


@register.inclusion_tag("clinic/alerts/_home_panel.html", takes_context=True)
def safety_alerts(context) -> dict:
    """Unacknowledged alerts of the viewer's care-team patients, for the top of their home page.
    One query (alert + patient + source type); links are built without loading the sources."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None:
        return {"open_alerts": []}
    open_alerts = list(
        alerts.alerts_for(user).open().select_related("patient", "source_type").order_by("level", "created_at", "pk")
    )
    for alert in open_alerts:
        alert.link = alerts.source_url(alert)
        alert.link_label = alerts.source_label(alert)
    return {"open_alerts": open_alerts, "request": request, "csrf_token": context.get("csrf_token")}
