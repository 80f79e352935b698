"""The safety and relapse-prevention plan: versioned by the psychiatrist, read and printed by the
patient from their menu, and shown beside the crisis resources when a report triggers them."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent
from patients import questionnaires, safety_plans
from patients.models import SafetyPlan
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

PLAN = {
    "warning_signs": "Staying in bed past noon; not answering texts.",
    "coping_strategies": "Walk the dog around the park.",
    "distractions": "The library on Main Street.",
    "people_to_ask": "My sister Jo.",
    "professionals": "The clinic; 988.",
    "safe_environment": "Jo keeps the spare pills.",
    "relapse_signs": "Sleeping under five hours for three nights.",
    "medication_plan": "Call the clinic before stopping or changing a dose.",
}


def test_each_save_is_a_new_version_and_history_shows_them(client, patient, psychiatrist):
    log_in(client, psychiatrist)
    url = reverse("patients:safety_plan", args=[patient.pk])

    assert client.post(url, PLAN).status_code == 302
    assert client.post(url, {**PLAN, "coping_strategies": "Walk the dog; call Jo."}).status_code == 302

    versions = list(SafetyPlan.objects.filter(patient=patient).order_by("version"))
    assert [(p.version, p.coping_strategies) for p in versions] == [
        (1, "Walk the dog around the park."),
        (2, "Walk the dog; call Jo."),
    ]
    created = AuditEvent.objects.filter(action="create", object_type="patients.SafetyPlan", patient=patient)
    assert sorted(row.detail["version"] for row in created) == [1, 2]
    old = client.get(url, {"version": 1}).content.decode()
    assert "Walk the dog around the park." in old and "Version 2" in old


def test_an_unchanged_plan_is_not_a_new_version_and_the_form_keeps_the_text(client, patient, psychiatrist):
    safety_plans.save_version(patient, author=psychiatrist, **PLAN)
    log_in(client, psychiatrist)

    response = client.post(reverse("patients:safety_plan", args=[patient.pk]), PLAN)

    assert response.status_code == 200
    assert "Nothing changed since version 1." in response.content.decode()
    assert "Jo keeps the spare pills." in response.content.decode()
    assert SafetyPlan.objects.count() == 1


def test_an_empty_plan_is_refused(patient, psychiatrist):
    with pytest.raises(ValidationError, match="at least one section"):
        safety_plans.save_version(patient, author=psychiatrist, warning_signs="   ")
    assert not SafetyPlan.objects.exists()


def test_a_version_is_never_changed(patient, psychiatrist):
    plan = safety_plans.save_version(patient, author=psychiatrist, **PLAN)
    plan.warning_signs = "rewritten"
    with pytest.raises(PermissionError):
        plan.save()
    assert SafetyPlan.objects.get().warning_signs == PLAN["warning_signs"]


def test_another_psychiatrist_gets_404(client, patient, psychiatrist2):
    log_in(client, psychiatrist2)
    assert client.get(reverse("patients:safety_plan", args=[patient.pk])).status_code == 404
    assert client.post(reverse("patients:safety_plan", args=[patient.pk]), PLAN).status_code == 404
    assert not SafetyPlan.objects.exists()


def test_the_patient_reads_the_newest_version_from_every_pages_menu(client, patient, patient2, psychiatrist):
    safety_plans.save_version(patient, author=psychiatrist, **PLAN)
    safety_plans.save_version(patient, author=psychiatrist, **{**PLAN, "people_to_ask": "My sister Jo; Sam."})
    safety_plans.save_version(patient2, author=psychiatrist, warning_signs="Another patient's signs")
    log_in(client, patient.user)
    link = reverse("patients:my_safety_plan")

    for page in ("patient_home", "appointments:my_appointments", "patients:my_questionnaires"):
        assert f'href="{link}"' in client.get(reverse(page)).content.decode(), page
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    page = client.get(link).content.decode()

    assert "My sister Jo; Sam." in page and "version 2" in page
    assert "Another patient's signs" not in page
    assert "data-print" in page and "js/print.js" in page
    row = AuditEvent.objects.get(id__gt=last)
    assert (row.action, row.patient_id, row.detail["page"]) == ("view", patient.pk, "my_safety_plan")


def test_the_plan_page_query_budget(client, patient, psychiatrist, django_assert_max_num_queries):
    for n in range(3):
        safety_plans.save_version(patient, author=psychiatrist, **{**PLAN, "warning_signs": f"Sign {n}"})
    log_in(client, psychiatrist)
    # session, user, patient (access), versions with authors, break-glass check, audit (3)
    with django_assert_max_num_queries(10):
        assert client.get(reverse("patients:safety_plan", args=[patient.pk])).status_code == 200


def _post_report(client, **fields):
    data = {
        "prescription": "not_sure",
        "severity": "moderate",
        "onset_date": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
        "ongoing": "yes",
        **fields,
    }
    return client.post(reverse("medications:my_report_create"), data)


def test_the_plan_shows_beside_the_crisis_resources_of_a_report(client, patient, psychiatrist):
    safety_plans.save_version(patient, author=psychiatrist, **PLAN)
    factories.start(patient, psychiatrist)
    log_in(client, patient.user)

    _post_report(client, other_symptoms="Honestly I don't want to be here anymore.")
    main = client.get(reverse("medications:my_report_sent")).content.decode().split('<main id="main"', 1)[1]

    crisis = main.index("Please get help now")
    plan = main.index("Your safety plan")
    assert crisis < main.index('href="tel:988"') < plan < main.index("Your report was sent")
    assert "Staying in bed past noon" in main and "My sister Jo." in main
    assert f'href="{reverse("patients:my_safety_plan")}"' in main


def test_the_plan_shows_beside_the_crisis_resources_of_a_phq9(client, patient, psychiatrist):
    safety_plans.save_version(patient, author=psychiatrist, **PLAN)
    assigned = questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist)
    log_in(client, patient.user)
    answers = {f"item_{n}": "1" for n in range(1, 9)} | {"item_9": "1"}

    page = client.post(reverse("patients:my_questionnaire_fill", args=[assigned.pk]), answers).content.decode()

    assert "Please get help now" in page and "Your safety plan" in page and "Walk the dog" in page


def test_without_a_plan_the_crisis_resources_are_as_before(client, patient, psychiatrist):
    factories.start(patient, psychiatrist)
    log_in(client, patient.user)
    _post_report(client, other_symptoms="I want to kill myself")
    page = client.get(reverse("medications:my_report_sent")).content.decode()
    assert "Please get help now" in page and "Your safety plan" not in page


def test_staff_never_see_a_patients_plan_in_crisis_blocks(patient, psychiatrist):
    """The include reads the viewer's own plan: a psychiatrist looking at a report gets none."""
    from django.template import Context, Template
    from django.test import RequestFactory

    safety_plans.save_version(patient, author=psychiatrist, **PLAN)
    request = RequestFactory().get("/")
    request.user = psychiatrist
    html = Template('{% include "includes/crisis_resources.html" %}').render(
        Context({"request": request, "patient": patient})
    )
    assert "Please get help now" in html and "Your safety plan" not in html
    other = Client()
    log_in(other, patient.user)
    assert other.get(reverse("patients:my_safety_plan")).status_code == 200
