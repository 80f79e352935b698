"""Questionnaire panels for pages other areas own: the chart (``measures`` slot), the
psychiatrist's home (``reviews-due``) and the patient's home (``patient-questionnaires``,
``patient-progress``). Each panel costs a fixed number of queries, whatever the history."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language

from clinic import dates
from clinic.access import patients_for
from clinic.links import href
from medications import reassessment
from medications.models import PrescriptionEvent, SideEffectReport
from patients import instruments, measure_charts, questionnaires
from patients.measure_forms import AssignForm
from patients.models import QuestionnaireResponse

register = template.Library()

CHART_EVENT_KINDS = ("started", "dose_changed", "discontinued")


def _events(patient):
    return list(
        PrescriptionEvent.objects.filter(prescription__patient=patient, kind__in=CHART_EVENT_KINDS)
        .select_related("prescription__medication")
        .order_by("effective_date", "created_at", "id")
    )


@register.inclusion_tag("patients/measures/_panel.html", takes_context=True)
def measures_panel(context, patient, responses=None, events=None, reports=None, open_requests=None):
    """The chart's questionnaire panel. Queries: responses, prescription events, side-effect
    reports, open requests (4) — none for the lists the chart passes in, loaded as here (responses
    and open requests in model order; any events with prescription__medication; reports)."""
    today = timezone.localdate()
    responses = list(patient.questionnaire_responses.all()) if responses is None else responses
    if events is None:
        events = _events(patient)
    else:
        events = sorted(
            (e for e in events if e.kind in CHART_EVENT_KINDS), key=lambda e: (e.effective_date, e.created_at, e.pk)
        )
    if reports is None:
        reports = list(SideEffectReport.objects.filter(patient=patient).select_related("prescription__medication"))
    if open_requests is None:
        open_requests = list(patient.questionnaire_assignments.open())
    scores = {
        code: [r for r in responses if r.instrument == code]  # newest first (model ordering)
        for code in (instruments.PHQ9, instruments.GAD7)
    }
    latest = [rs[0] for rs in scores.values() if rs]
    changes = [e.effective_date for e in events if e.effective_date <= today]
    on_medication = any(e.prescription.status == "active" for e in events)
    return {
        "patient": patient,
        "csrf_token": context.get("csrf_token"),
        "data": measure_charts.chart_data(responses=responses, events=events, reports=reports, today=today),
        "tables": measure_charts.table_rows(responses=responses, events=events, reports=reports, today=today),
        "latest": latest,
        "worsened": [r for r in latest if r.worsened],
        "other_scores": [r for r in responses if not r.definition.charted][:5],
        "open_requests": open_requests,
        "suggestion": reassessment.suggest_visit_interval(
            today=today, last_change=max(changes, default=None), scores=scores, on_medication=on_medication
        ),
        "assign_form": AssignForm(),
        "fillable": questionnaires.available(),
    }


@register.inclusion_tag("patients/measures/_reviews_due.html", takes_context=True)
def reviews_due_panel(context, panels=None, worsened=None):
    """Psychiatrist home. With ``panels`` (medications.due.HomePanels) and ``worsened`` read by
    the view: no query of its own; without them, computed live (2 queries)."""
    if panels is not None:
        worsened = list(worsened or [])
        reviews, count = panels.reviews, panels.review_count
    else:
        scope = patients_for(context["user"]).active()
        reviews = reassessment.prescriptions_due_for_review(patients=scope)
        worsened = reassessment.worsened_responses(scope)
        count = len(reviews)
    # Rows formatted here, links from one reverse() each (not a {% url %} per row).
    chart = href("patients:chart")
    detail = href("patients:questionnaire_detail", 2)
    worsened_rows = [
        {
            "href": detail(response.patient_id, response.pk),
            "title": f"{response.patient.display_name} — {response.definition.name} {response.total}",
            "detail": f"{response.worsening_reason} · {dates.day(response.submitted_at)}",
        }
        for response in worsened
    ]
    review_rows = [
        {
            "overdue": review.overdue,
            "href": chart(review.prescription.patient_id),
            "title": f"{review.prescription.patient.display_name} — {review.prescription.medication.generic_name}",
            "detail": f"due {dates.day(review.due_on)}: {review.why}",
        }
        for review in reviews[:20]
    ]
    return {
        "reviews": review_rows,
        "more": max(count - 20, 0),
        "total": count + len(worsened),
        "worsened": worsened_rows,
        "review_weeks": settings.TITRATE_RX_REVIEW_WEEKS,
    }


@register.inclusion_tag("patients/measures/_patient_questionnaires.html")
def patient_questionnaires(patient, assignments=None):
    """Patient home: what is waiting to be filled in (1 query, none if the page passes them in)."""
    if patient is None:
        return {"assignments": []}
    return {"assignments": list(patient.questionnaire_assignments.open()) if assignments is None else assignments}


@register.inclusion_tag("patients/measures/_patient_progress.html")
def patient_progress(patient, responses=None, events=None):
    """Patient home, simplified chart: scores and doses, no side-effect points (responses, and
    prescription events when there are scores: at most 2 queries; none for what the page passes
    in: PHQ-9 and GAD-7 responses newest first, any events with prescription__medication)."""
    if patient is None:
        return {"data": None}
    if responses is None:
        responses = list(patient.questionnaire_responses.filter(instrument__in=(instruments.PHQ9, instruments.GAD7)))
    if not responses:
        return {"data": None}
    if events is None:
        events = _events(patient)
    else:
        events = sorted(
            (e for e in events if e.kind in CHART_EVENT_KINDS), key=lambda e: (e.effective_date, e.created_at, e.pk)
        )
    today = timezone.localdate()
    return {
        "data": measure_charts.chart_data(responses=responses, events=events, today=today),
        "tables": measure_charts.table_rows(responses=responses, events=events, today=today),
        "patient_view": True,
    }


@register.filter
def band_label(response: QuestionnaireResponse) -> str:
    """The score's band in the page's language (the Spanish label where the instrument has a
    validated Spanish version; the stored band code is the same in every language)."""
    band = instruments.localised(response.instrument, get_language()).band(response.band)
    return band.label if band else response.band_label


@register.filter
def band_class(response: QuestionnaireResponse) -> str:
    """A Bootstrap badge class for a score's band (the band is always written out as well)."""
    definition = response.definition
    band = definition.band(response.band)
    top = max(b.rank for b in definition.bands) or 1
    rank = band.rank if band else 0
    if rank == 0:
        return "text-bg-success"
    if rank / top >= 0.75:
        return "text-bg-danger"
    if rank / top >= 0.5:
        return "text-bg-warning"
    return "text-bg-info"


@register.simple_tag
def questionnaire_title(code: str) -> str:
    """The questionnaire's title in the page's language (its validated translation's, else English)."""
    return instruments.localised(code, get_language()).title
