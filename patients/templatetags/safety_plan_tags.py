"""The patient's own safety plan beside the crisis resources (templates/includes/crisis_resources.html),
so every page that shows them — a side-effect report, a questionnaire result, a secure message —
shows the plan too."""

from __future__ import annotations

from django import template
from django.utils import translation

from clinic.models import User
from patients import safety_plans
from patients.models import Patient

register = template.Library()

# What fits beside the crisis lines: the steps to take now. The whole plan is one link away.
CRISIS_SECTIONS = ("warning_signs", "coping_strategies", "people_to_ask", "professionals", "safe_environment")


@register.inclusion_tag("includes/_crisis_safety_plan.html", takes_context=True)
def crisis_safety_plan(context, language: str = "en") -> dict:
    """The viewer's plan in force, if the viewer is a patient who has one (one query by their
    user id; the page's own audit row already names the patient)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    plan = None
    if user is not None and user.is_authenticated and user.role == User.Role.PATIENT:
        patient = context.get("patient")
        patient_id = patient.pk if isinstance(patient, Patient) and patient.user_id == user.pk else None
        if patient_id is None:
            patient_id = Patient.objects.filter(user=user).values_list("pk", flat=True).first()
        if patient_id is not None:
            plan = safety_plans.current(patient_id)
    sections = plan.sections() if plan else []
    # The headings in the language of the crisis box (the report's), which may not be the page's.
    with translation.override(language):
        steps = [(str(heading), text) for name, heading, text in sections if name in CRISIS_SECTIONS and text]
    return {"plan": plan, "steps": steps, "language": language}
