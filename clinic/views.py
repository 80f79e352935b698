from __future__ import annotations

import datetime
from types import SimpleNamespace

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from appointments.models import Appointment
from clinic import audit, dashboard, health, languages
from clinic.access import logged_in, not_found_page, patients_for, public, role_required
from clinic.links import href
from clinic.models import AuditEvent, User
from medications import adherence, due, monitoring, reassessment
from medications.models import Prescription
from patients import alerts
from patients.models import Patient, QuestionnaireAssignment, QuestionnaireResponse, VisitNote
from patients.rows import attach, instances

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


def _day(value) -> str:
    """As the ``date:"M j"`` filter prints it (datetimes in the current time zone)."""
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value)
    return date_format(value, "M j")


def _name(preferred: str, first: str, last: str) -> str:
    return f"{preferred or first} {last}"  # Patient.display_name


_Row = SimpleNamespace  # one printed row, its values formatted


class _Caseload(dict):
    """{patient id: Patient with its name fields}, each built from the caseload's row on first use
    (the due panels name at most a few dozen of its hundreds of patients)."""

    def __init__(self, rows):
        super().__init__()
        self.rows = {pk: (preferred, first, last) for pk, _, preferred, first, last, _ in rows}

    def __missing__(self, pk):
        preferred, first, last = self.rows[pk]
        patient = self[pk] = Patient(pk=pk, preferred_name=preferred, legal_first_name=first, legal_last_name=last)
        return patient


@role_required(User.Role.PSYCHIATRIST)
def psychiatrist_home(request: HttpRequest) -> HttpResponse:
    """Today's work. Every list is bounded or index-served: the due lists are precomputed per
    patient (medications.due), "note missing" is a partial index (appt_unnoted). Rows are read as
    plain values and formatted here, links from one reverse() per kind (the template engine's
    per-row cost was most of the page's time)."""
    user = request.user
    today = timezone.localdate()
    day_start = timezone.make_aware(datetime.datetime.combine(today, datetime.time.min))
    day_end = day_start + datetime.timedelta(days=1)
    chart_url = href("patients:chart")
    visit_url = href("appointments:visit_detail", 2)
    write_url = href("appointments:visit_create")
    # The caseload, one narrow query: the ids the other lists filter on, as constants (PostgreSQL
    # then probes each patient's few rows by index instead of hashing every patient's rows in the
    # network), the names they print, and the "My patients" page.
    caseload = dashboard.caseload(patients_for(user))
    names = {pk: _name(preferred, first, last) for pk, _, preferred, first, last, _ in caseload}
    active_ids = [row[0] for row in caseload if row[1]]

    # Their visit notes still in draft, today's visits without an appointment and their draft
    # evaluations: one query.
    notes, evaluations = dashboard.drafts(user, day_start, day_end)
    todays_visits, unsigned_visits = [], []
    for pk, patient_id, appointment_id, visit_at, status, modality, *name in notes:
        if appointment_id is None and day_start <= visit_at < day_end:
            todays_visits.append(
                _Row(
                    patient_id=patient_id,
                    at=visit_at,
                    time=timezone.localtime(visit_at).strftime("%H:%M"),
                    href=chart_url(patient_id),
                    name=_name(*name),
                    kind=f"{VisitNote.Modality(modality).label} · {VisitNote.Status(status).label}",
                )
            )
        if status == VisitNote.Status.DRAFT:
            unsigned_visits.append(
                _Row(
                    patient_id=patient_id,
                    href=visit_url(patient_id, pk),
                    name=_name(*name),
                    day=_day(visit_at),
                )
            )
    todays_visits.sort(key=lambda row: row.at)

    todays_appointments = []
    rows = dashboard.todays_appointments(user, day_start, day_end)
    for pk, patient_id, start, status, kind, note_id, note_status, *name in rows:
        if note_id is not None:
            note = (visit_url(patient_id, note_id), f"Visit note ({VisitNote.Status(note_status).label.lower()})")
        elif status != Appointment.Status.NO_SHOW:
            note = (f"{write_url(patient_id)}?appointment={pk}", "Write note")
        else:
            note = None
        todays_appointments.append(
            _Row(
                patient_id=patient_id,
                time=timezone.localtime(start).strftime("%H:%M"),
                href=chart_url(patient_id),
                name=_name(*name),
                kind=f"{kind} · {Appointment.Status(status).label}",
                note=note,
            )
        )

    unnoted = [
        _Row(
            pk=pk,
            patient_id=patient_id,
            href=f"{write_url(patient_id)}?appointment={pk}",
            name=_name(*name),
            day=_day(start),
        )
        for pk, patient_id, start, *name in dashboard.unnoted_visits(user)
    ]
    report_url = href("medications:report_detail", 2)
    reports = [
        _Row(
            pk=report.pk,
            patient_id=report.patient_id,
            level=report.triage,
            severity=f"{report.severity.capitalize()} side effect",
            href=report_url(report.patient_id, report.pk),
            name=names[report.patient_id],
            created=report.created_at,
        )
        for report in dashboard.open_reports(list(names))
    ]
    evaluation_url = href("patients:evaluation_detail", 2)
    unsigned_evaluations = [
        _Row(patient_id=patient_id, href=evaluation_url(patient_id, pk), name=_name(*name), day=_day(on))
        for pk, patient_id, on, *name in evaluations
    ]
    # Patient-reported adherence: the last two check-ins both missed too many doses (one query).
    non_adherent = [
        _Row(
            patient_id=found.patient_id,
            href=f"{chart_url(found.patient_id)}#adherence",
            name=names[found.patient_id],
            detail=f"missed up to {found.worst_missed} of {found.days} days",
            day=_day(found.last_at),
        )
        for found in adherence.persistent_among(active_ids)
    ]
    # Alerts are loaded here rather than by the {% safety_alerts %} tag so the audit row names them.
    people = _Caseload(caseload)
    open_alerts = dashboard.open_alerts([row[0] for row in caseload], people)
    for alert in open_alerts:
        alert.link = alerts.source_url(alert)
        alert.link_label = alerts.source_label(alert)
    panels = due.home_panels(active_ids, today, people=people)
    worsened = reassessment.worsened_responses(active_ids, people=people)
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    offset = (page - 1) * HOME_PATIENTS_PER_PAGE
    active = [row for row in caseload if row[1]][offset : offset + HOME_PATIENTS_PER_PAGE + 1]
    patients = [_Row(pk=row[0], href=chart_url(row[0]), name=names[row[0]], mrn=row[5]) for row in active]
    patients, more = patients[:HOME_PATIENTS_PER_PAGE], len(patients) > HOME_PATIENTS_PER_PAGE
    # One audit row naming exactly the patients this page shows.
    listed = (todays_visits, todays_appointments, unnoted, reports, unsigned_evaluations, unsigned_visits, non_adherent)
    shown = {row.patient_id for rows in listed for row in rows}
    shown |= {alert.patient_id for alert in open_alerts} | {response.patient_id for response in worsened}
    shown |= panels.patient_ids | {row.pk for row in patients}
    audit.record_list(request, "psychiatrist_home", shown)
    context = {
        "todays_visits": todays_visits,
        "todays_appointments": todays_appointments,
        "unnoted": unnoted,
        "reports": reports,
        "unsigned_evaluations": unsigned_evaluations,
        "unsigned_visits": unsigned_visits,
        "non_adherent": non_adherent,
        "open_alerts": open_alerts,
        "worsened": worsened,
        "patients": patients,
        "due_panels": panels,
        "page": page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if more else None,
    }
    return render(request, "clinic/psychiatrist_home.html", context)


@role_required(User.Role.PATIENT)
def patient_home(request: HttpRequest) -> HttpResponse:
    """At most 15 queries on PostgreSQL (tests/patients/test_chart.py): session, user,
    the patient with their open questionnaires, scores and outside medications (JSON columns), next appointment,
    prescriptions, active plans, their steps, prescription events, lab results, reports, the audit
    row (transaction, chain head, insert). The monitoring and progress panels share these rows."""
    patient = dashboard.own_record(patients_for(request.user))
    prescriptions, reports, next_steps, next_appointment, outside = [], [], [], None, []
    panels = {}
    if patient is not None:
        outside = dashboard.outside_medications(patient)
        next_appointment = dashboard.next_appointment(patient, timezone.now())
        # Stopped ones too: the monitoring panel looks at recently stopped interacting drugs.
        every = dashboard.prescriptions(patient)
        prescriptions = [rx for rx in every if rx.status == Prescription.Status.ACTIVE]
        for rx in prescriptions:
            for plan in rx.active_plans:
                step, due_on = plan.next_step, plan.next_step_due
                # A step at the dose the patient already takes is no change to announce.
                if step is not None and due_on is not None and step.dose_mg != rx.dose_mg:
                    next_steps.append({"rx": rx, "step": step, "due": due_on, "plan": plan})
        next_steps.sort(key=lambda item: item["due"])
        events = dashboard.prescription_events(patient)
        results = dashboard.lab_results(patient)
        reports = dashboard.recent_reports(patient)
        attach([*events, *reports], "prescription", every)  # loaded above, with their medicine
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
            "outside_medications": outside,
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


@public("the footer's language switch: anyone may choose English or Spanish")
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the portal's language: kept on a patient's account and record (clinic.languages)
    and in the language cookie, so the sign-in page speaks it on the next visit too."""
    code = languages.normalise(request.POST.get("language"))
    if request.user.is_authenticated and request.user.role == User.Role.PATIENT:
        code = languages.set_preference(request.user, code)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = "/"
    response = redirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


def error_400(request, exception=None):
    return render(request, "400.html", status=400)


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def csrf_failure(request, reason=""):
    # Almost always a form left open past its session, or a page from an old tab.
    return render(request, "403_csrf.html", status=403)


def error_404(request, exception=None):
    return not_found_page(request, exception)


def error_500(request):
    # No context processors: the failure may be in one of them.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)
