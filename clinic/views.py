from __future__ import annotations

import datetime

from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from appointments.models import Appointment, VisitNote
from clinic import audit, health
from clinic.access import logged_in, patients_for, public, role_required
from clinic.models import AuditEvent, User
from medications import monitoring
from medications.models import DosePlan, LabResult, Prescription, PrescriptionEvent, SideEffectReport
from patients import instruments
from patients.models import Evaluation, QuestionnaireAssignment, QuestionnaireResponse
from patients.rows import instances, json_rows

HOME_FOR_ROLE = {
    User.Role.PSYCHIATRIST: "psychiatrist_home",
    User.Role.PATIENT: "patient_home",
    User.Role.CLINIC_ADMIN: "front_desk_home",
}


@logged_in
def home(request: HttpRequest) -> HttpResponse:
    return redirect(HOME_FOR_ROLE[request.user.role])


# "My patients" on the home page, a page at a time (?page=N; a page number is not PHI).
HOME_PATIENTS_PER_PAGE = 25


@role_required(User.Role.PSYCHIATRIST)
def psychiatrist_home(request: HttpRequest) -> HttpResponse:
    """Today's work. Every list is bounded or index-served, so the cost does not grow with the
    caseload: the due lists are precomputed per patient (medications.due), the caseload is paged."""
    from django.db.models import Exists, OuterRef

    from clinic import alerts
    from medications import due
    from patients import reassessment

    user = request.user
    scope = patients_for(user)
    today = timezone.localdate()
    day_start = timezone.make_aware(datetime.datetime.combine(today, datetime.time.min))
    day_end = day_start + datetime.timedelta(days=1)
    # Their visit notes still in draft, and today's visits without an appointment: one query.
    todays = Q(visit_at__gte=day_start, visit_at__lt=day_end, appointment__isnull=True)
    notes = list(
        VisitNote.objects.filter(author=user)
        .filter(Q(status=VisitNote.Status.DRAFT) | todays)
        .select_related("patient")
        .order_by("-visit_at", "-id")
    )
    todays_visits = sorted(
        (n for n in notes if n.appointment_id is None and day_start <= n.visit_at < day_end), key=lambda n: n.visit_at
    )
    unsigned_visits = [n for n in notes if n.status == VisitNote.Status.DRAFT]
    todays_appointments = (
        Appointment.objects.filter(psychiatrist=user, start__gte=day_start, start__lt=day_end)
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("patient", "appointment_type", "visit_note")
        .order_by("start")
    )
    # Seen, but no signed note: the partial index appt_unnoted holds only those, newest first
    # (Appointment.note_signed). The anti-join stays as a guard, so a flag not yet set by a bulk
    # load costs a probe, never a wrong row.
    signed = VisitNote.objects.filter(appointment=OuterRef("pk"), status=VisitNote.Status.SIGNED)
    unnoted = (
        Appointment.objects.filter(psychiatrist=user, status=Appointment.Status.COMPLETED, note_signed=False)
        .filter(~Exists(signed))
        .select_related("patient")
        .order_by("-start")
    )
    reports = (
        SideEffectReport.objects.filter(patient__in=scope)
        .unacknowledged()
        .select_related("patient", "prescription__medication")
        .inbox_order()
    )
    unsigned_evaluations = Evaluation.objects.filter(author=user, status=Evaluation.Status.DRAFT).select_related(
        "patient"
    )
    # Alerts are loaded here rather than by the {% safety_alerts %} tag so the audit row names them.
    open_alerts = list(
        alerts.alerts_for(user).open().select_related("patient", "source_type").order_by("level", "created_at", "pk")
    )
    for alert in open_alerts:
        alert.link = alerts.source_url(alert)
        alert.link_label = alerts.source_label(alert)
    active = scope.active()
    panels = due.home_panels(active, today)
    worsened = reassessment.worsened_responses(active)
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    offset = (page - 1) * HOME_PATIENTS_PER_PAGE
    patients = list(
        active.only("id", "mrn", "legal_first_name", "legal_last_name", "preferred_name", "date_of_birth")[
            offset : offset + HOME_PATIENTS_PER_PAGE + 1
        ]
    )
    context = {
        "todays_visits": todays_visits,
        "todays_appointments": list(todays_appointments),
        "unnoted": list(unnoted[:20]),
        "reports": list(reports[:10]),
        "unsigned_evaluations": list(unsigned_evaluations),
        "unsigned_visits": unsigned_visits,
        "open_alerts": open_alerts,
        "worsened": worsened,
        "patients": patients[:HOME_PATIENTS_PER_PAGE],
    }
    # One audit row naming exactly the patients this page shows.
    shown = {row.patient_id for key, rows in context.items() if key != "patients" for row in rows}
    shown |= panels.patient_ids | {p.pk for p in context["patients"]}
    audit.record_list(request, "psychiatrist_home", shown)
    context.update(
        due_panels=panels,
        page=page,
        previous_page=page - 1 if page > 1 else None,
        next_page=page + 1 if len(patients) > HOME_PATIENTS_PER_PAGE else None,
    )
    return render(request, "clinic/psychiatrist_home.html", context)


@role_required(User.Role.PATIENT)
def patient_home(request: HttpRequest) -> HttpResponse:
    """At most 15 queries on PostgreSQL (tests/clinic/test_patient_home_queries.py): session, user,
    the patient with their open questionnaires and scores (JSON columns), next appointment,
    prescriptions, active plans, their steps, prescription events, lab results, reports, the audit
    row (transaction, chain head, insert). The monitoring and progress panels share these rows."""
    patient = (
        patients_for(request.user)
        .select_related("primary_psychiatrist")
        .annotate(
            request_rows=json_rows(
                "patient_home.requests",
                QuestionnaireAssignment.objects.open(),
                ["patient_id", "instrument", "due_on", "reason", "status"],
            ),
            response_rows=json_rows(
                "patient_home.responses",
                QuestionnaireResponse.objects.filter(instrument__in=(instruments.PHQ9, instruments.GAD7)),
                [
                    "patient_id",
                    "instrument",
                    "total",
                    "band",
                    "previous_total",
                    "worsened",
                    "worsening_reason",
                    "submitted_at",
                ],
            ),  # fmt: skip
        )
        .first()
    )
    prescriptions, reports, next_steps, next_appointment = [], [], [], None
    panels = {}
    if patient is not None:
        next_appointment = (
            Appointment.objects.active()
            .filter(patient=patient, end__gte=timezone.now())
            .select_related("psychiatrist", "appointment_type")
            .first()
        )
        active_plans = DosePlan.objects.filter(status=DosePlan.Status.ACTIVE).prefetch_related("steps")
        # Stopped ones too: the monitoring panel looks at recently stopped interacting drugs.
        every = list(
            Prescription.objects.filter(patient=patient)
            .select_related("medication")
            .prefetch_related(Prefetch("plans", queryset=active_plans, to_attr="active_plans"))
        )
        prescriptions = [rx for rx in every if rx.status == Prescription.Status.ACTIVE]
        for rx in prescriptions:
            for plan in rx.active_plans:
                step, due = plan.next_step, plan.next_step_due
                if step is not None and due is not None:
                    next_steps.append({"rx": rx, "step": step, "due": due, "plan": plan})
        next_steps.sort(key=lambda item: item["due"])
        events = list(
            PrescriptionEvent.objects.filter(prescription__patient=patient).select_related("prescription__medication")
        )
        results = list(LabResult.objects.filter(patient=patient))
        reports = list(SideEffectReport.objects.filter(patient=patient).select_related("prescription__medication")[:10])
        responses = sorted(
            instances(QuestionnaireResponse, patient.response_rows), key=lambda r: (r.submitted_at, r.pk)
        )
        panels = {
            "open_requests": sorted(
                instances(QuestionnaireAssignment, patient.request_rows), key=lambda a: (a.due_on, a.pk)
            ),
            "responses": responses[::-1],  # newest first, as the model orders them
            "events": events,
            "checks_due": monitoring.due_items_from(patient, every, events, results),
        }
        audit.record(
            AuditEvent.Action.VIEW, request=request, patient=patient, obj=patient, detail={"page": "patient_home"}
        )
    return render(
        request,
        "clinic/patient_home.html",
        {
            "patient": patient,
            "prescriptions": prescriptions,
            "reports": reports,
            "next_steps": next_steps,
            "next_appointment": next_appointment,
            **panels,
        },
    )


@role_required(User.Role.CLINIC_ADMIN)
def front_desk_home(request: HttpRequest) -> HttpResponse:
    psychiatrists = (
        User.objects.filter(role=User.Role.PSYCHIATRIST, is_active=True)
        .annotate(patient_count=Count("primary_patients"))
        .order_by("last_name", "first_name")
    )
    patient_count = patients_for(request.user).active().count()
    today = timezone.localdate()
    day_start = timezone.make_aware(datetime.datetime.combine(today, datetime.time.min))
    todays = (
        Appointment.objects.filter(start__gte=day_start, start__lt=day_start + datetime.timedelta(days=1))
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("patient", "psychiatrist", "appointment_type")
        .order_by("start")
    )
    todays = list(todays)
    audit.record_list(request, "front_desk_home", [appointment.patient_id for appointment in todays])
    return render(
        request,
        "clinic/front_desk_home.html",
        {"psychiatrists": psychiatrists, "patient_count": patient_count, "todays": todays},
    )


@public("load balancer probe; reports service states, no user data")
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = health.run_checks()
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


def error_400(request, exception=None):
    return render(request, "400.html", status=400)


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def csrf_failure(request, reason=""):
    # Almost always a form left open past its session, or a page from an old tab.
    return render(request, "403_csrf.html", status=403)


def error_404(request, exception=None):
    return render(request, "404.html", status=404)


def error_500(request):
    # No context processors: the failure may be in one of them.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)
