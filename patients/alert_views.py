"""Safety alerts in the portal: the care team's list and acknowledgement, and the on-call
contact's list of escalated alerts. Logic lives in patients.alerts."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from clinic import audit
from clinic.access import role_required
from clinic.models import Alert, User
from patients import alerts

psychiatrist_only = role_required(User.Role.PSYCHIATRIST)
staff_only = role_required(User.Role.PSYCHIATRIST, User.Role.CLINIC_ADMIN)
RECENT = 50


@require_GET
@psychiatrist_only
def alert_list(request: HttpRequest) -> HttpResponse:
    """Open alerts of the user's care-team patients (emergency first, oldest first: the one
    waiting longest is closest to escalating), then the most recent acknowledged ones."""
    scoped = alerts.alerts_for(request.user).select_related("patient", "source_type", "acknowledged_by")
    open_alerts = list(scoped.open().order_by("level", "created_at", "pk"))
    done = list(scoped.filter(acknowledged_at__isnull=False).order_by("-acknowledged_at", "-pk")[:RECENT])
    for alert in open_alerts + done:
        alert.link = alerts.source_url(alert)
        alert.link_label = alerts.source_label(alert)
    audit.record_list(request, "alerts", [alert.patient_id for alert in open_alerts + done])
    return render(request, "clinic/alerts/list.html", {"open_alerts": open_alerts, "done_alerts": done})


@require_POST
@psychiatrist_only
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    """Care team only: anyone else gets 404 (the alert's existence does not leak)."""
    alert = get_object_or_404(alerts.alerts_for(request.user).select_related("patient"), pk=pk)
    if alerts.acknowledge(alert, actor=request.user, request=request):
        messages.success(request, "Alert acknowledged. It will not be escalated.")
    else:
        messages.info(request, "This alert had already been acknowledged.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = ""
    return redirect(target or "alerts")


@require_GET
@staff_only
def alerts_on_call(request: HttpRequest) -> HttpResponse:
    """What the on-call contact needs to act on an escalation: who, how to reach them and the
    care team, and whether someone has acknowledged since. Reasons only for a clinician."""
    escalated = Alert.objects.filter(escalated_at__isnull=False).select_related(
        "patient__primary_psychiatrist", "acknowledged_by", "escalated_to"
    )
    if request.user.is_clinic_admin:
        # Clinic admins are told when no on-call clinician is configured (escalated_to empty).
        escalated = escalated.filter(escalated_to__isnull=True) | escalated.filter(escalated_to=request.user)
    else:
        escalated = escalated.filter(escalated_to=request.user)
    rows = list(escalated.order_by("-escalated_at", "-pk")[:RECENT])
    audit.record_list(request, "on_call", [alert.patient_id for alert in rows])
    return render(
        request,
        "clinic/alerts/on_call.html",
        {"escalated": rows, "show_reasons": request.user.is_psychiatrist},
    )
