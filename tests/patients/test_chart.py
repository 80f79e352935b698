"""The chart, the homes and the inbox: what they show, what they audit, what they cost."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent
from medications import prescribing, side_effects
from medications.models import ChangeReason
from patients import questionnaires
from tests import factories
from tests.helpers import log_in, warm_clinic_profile

pytestmark = pytest.mark.django_db


def add_history(patient, psychiatrist, size: int) -> None:
    """About `size` timeline events: prescriptions with dose changes, visits, reports."""
    drugs = ["sertraline", "bupropion", "lamotrigine", "quetiapine", "buspirone", "trazodone", "mirtazapine"]
    taken = set(patient.prescriptions.values_list("medication__generic_name", flat=True))
    made = 0
    for drug in [d for d in drugs if d not in taken]:
        if made >= size:
            break
        rx = factories.start(patient, psychiatrist, drug=drug, dose="25", strength="25", frequency="qd")
        made += 1
        for step in range(2):
            if made >= size:
                break
            prescribing.change_dose(
                rx, actor=psychiatrist, dose_mg=Decimal(50 + 25 * step), reason=ChangeReason.INEFFECTIVE
            )
            made += 1
        if made < size:
            factories.visit(patient, psychiatrist, signed=True)
            made += 1
        if made < size:
            factories.report(patient, prescription=rx)
            made += 1
    while made < size:
        factories.evaluation(patient, psychiatrist)
        made += 1


def query_count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    ("who", "url_for"),
    [
        ("psychiatrist", lambda p: reverse("patients:chart", args=[p.pk])),
        ("psychiatrist", lambda p: reverse("psychiatrist_home")),
        ("psychiatrist", lambda p: reverse("medications:inbox")),
        ("patient", lambda p: reverse("patient_home")),
    ],
    ids=["chart", "psychiatrist_home", "inbox", "patient_home"],
)
def test_page_costs_the_same_for_3_and_30_events(client, patient, psychiatrist, who, url_for):
    # A stopped clock: on a slow machine a minute can pass between the two requests, and the
    # session's once-a-minute "last seen" write would be counted against the second page.
    warm_clinic_profile()
    with time_machine.travel(timezone.now(), tick=False):
        add_history(patient, psychiatrist, 3)
        log_in(client, psychiatrist if who == "psychiatrist" else patient.user)
        few = query_count(client, url_for(patient))

        add_history(patient, psychiatrist, 27)
        many = query_count(client, url_for(patient))

    assert many == few


def test_chart_query_budget(client, patient, psychiatrist, django_assert_max_num_queries):
    add_history(patient, psychiatrist, 12)
    log_in(client, psychiatrist)
    # session, user; the patient with care team, evaluations, visits, diagnoses, contacts, open
    # questionnaires, scores, prescriptions, active plans, prescription events, side-effect
    # reports, lab results and allergies (one row, JSON columns); the audit row (break-glass
    # check, chain head, insert). PostgreSQL adds the audit transaction's BEGIN and COMMIT: 8,
    # within issue 7's budget of 15.
    with django_assert_max_num_queries(6):
        response = client.get(reverse("patients:chart", args=[patient.pk]))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("url_name", "budget"),
    # psychiatrist_home: 14 (tests/clinic/test_roles.py lists them; the due lists are one query,
    # persistent non-adherence one more).
    # inbox: session, user, the 100 reports with their patients' and drugs' names, audit (chain
    # head, insert).
    # patient_home: session, user, the patient with open questionnaires and scores (JSON columns),
    # next appointment, prescriptions, active plans (+ steps), prescription events, lab results,
    # reports, audit (chain head, insert); PostgreSQL adds BEGIN and COMMIT.
    [("psychiatrist_home", 14), ("medications:inbox", 5), ("patient_home", 11)],
)
def test_home_and_inbox_query_budgets(client, patient, psychiatrist, url_name, budget, django_assert_max_num_queries):
    add_history(patient, psychiatrist, 10)
    log_in(client, patient.user if url_name == "patient_home" else psychiatrist)
    warm_clinic_profile()
    with django_assert_max_num_queries(budget):
        assert client.get(reverse(url_name)).status_code == 200


def test_chart_shows_header_and_timeline_in_order_with_who_and_why(client, patient, psychiatrist):
    factories.evaluation(patient, psychiatrist, signed=True, evaluation_date=datetime.date(2026, 1, 2))
    rx = factories.start(patient, psychiatrist, start_date=datetime.date(2026, 1, 3))
    prescribing.change_dose(
        rx, actor=psychiatrist, dose_mg=Decimal(50), reason=ChangeReason.INEFFECTIVE,
        effective_date=datetime.date(2026, 2, 1), note="Partial response",
    )  # fmt: skip
    log_in(client, psychiatrist)

    response = client.get(reverse("patients:chart", args=[patient.pk]))

    titles = [entry.title for entry in response.context["entries"]]
    assert titles == [
        "sertraline: 25 mg → 50 mg",
        "Started sertraline 25 mg once daily in the morning",
        "Initial psychiatric evaluation",
    ]
    change = response.context["entries"][0]
    assert change.detail == "Not effective enough — Partial response"
    assert change.who == "Maya Okafor, MD"
    content = response.content.decode()
    assert "sertraline</a> 50 mg once daily in the morning" in content


def test_chart_view_is_audited(client, patient, psychiatrist):
    log_in(client, psychiatrist)

    client.get(reverse("patients:chart", args=[patient.pk]))

    event = AuditEvent.objects.get(action=AuditEvent.Action.VIEW)
    assert (event.actor, event.patient, event.detail) == (psychiatrist, patient, {"page": "chart"})


def test_refused_chart_view_leaves_no_view_audit(client, patient, psychiatrist2):
    log_in(client, psychiatrist2)

    assert client.get(reverse("patients:chart", args=[patient.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.VIEW).exists()


def test_front_desk_sees_demographics_but_no_clinical_content(client, patient, psychiatrist, clinic_admin):
    factories.start(patient, psychiatrist)
    factories.evaluation(patient, psychiatrist, presenting_symptoms="Secret clinical text")
    log_in(client, clinic_admin)

    registry = client.get(reverse("patients:registry")).content.decode()
    edit = client.get(reverse("patients:edit_demographics", args=[patient.pk])).content.decode()

    assert patient.legal_last_name in registry
    for page in (registry, edit):
        assert "sertraline" not in page
        assert "Secret clinical text" not in page


def test_patient_home_shows_plain_instructions_and_education(client, patient, psychiatrist):
    factories.start(patient, psychiatrist, dose="50", strength="50")
    log_in(client, patient.user)

    content = client.get(reverse("patient_home")).content.decode()

    assert "Take 1 tablet (50 mg) by mouth once daily in the morning." in content
    assert "When it starts to help" in content
    assert "2–6 weeks" in content


def test_patient_never_sees_staff_notes(client, patient, psychiatrist):
    factories.visit(patient, psychiatrist, signed=True, assessment="Internal assessment text")
    log_in(client, patient.user)

    content = client.get(reverse("patient_home")).content.decode()

    assert "Internal assessment text" not in content


def test_report_reply_reaches_the_patient(client, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)
    report = factories.report(patient, prescription=rx)
    side_effects.reply(report, actor=psychiatrist, text="Take it with breakfast.")
    log_in(client, patient.user)

    content = client.get(reverse("patient_home")).content.decode()

    assert "Reply from your care team:" in content
    assert "Take it with breakfast." in content


def _whole_record(patient, psychiatrist, other_psychiatrist, n: int) -> None:
    """Every list the chart shows, n rows of each where the model allows more than one."""
    from medications import monitoring
    from medications.models import Allergy
    from medications.prescribing import PlanStepInput
    from patients.models import CareContact, Diagnosis

    if not patient.prescriptions.exists():
        steps = [PlanStepInput(Decimal(300), 7), PlanStepInput(Decimal(600), None)]
        factories.start(patient, psychiatrist, drug="lithium", dose="300", strength="300", titration_steps=steps)
        patient.care_team.add(other_psychiatrist)
        questionnaires.assign(patient=patient, instrument="gad7", assigned_by=psychiatrist)
    codes = ["F32.1", "F41.1", "F43.1", "F90.0", "G47.00", "F40.10"]
    for i in range(n):
        Allergy.objects.create(
            patient=patient, substance=f"Substance {i} Qzphi", severity="mild", recorded_by=psychiatrist
        )
        Diagnosis.objects.create(
            patient=patient, icd10_code=codes[i % len(codes)], description="Qzphi", status="resolved",
            recorded_by=psychiatrist,
        )  # fmt: skip
        CareContact.objects.create(patient=patient, kind="therapist", name=f"Therapist {i} Qzphi")
        monitoring.record_result(
            patient=patient, test_code="LITHIUM", value="0.8", unit="mmol/L",
            collected_on=timezone.localdate() - datetime.timedelta(days=i), entered_by=psychiatrist,
        )  # fmt: skip


def test_chart_with_every_panel_filled_costs_the_same_for_1_and_4_of_each(client, patient, psychiatrist):
    other = factories.PsychiatristFactory(first_name="Shared", last_name="Carer")
    log_in(client, psychiatrist)
    url = reverse("patients:chart", args=[patient.pk])
    with time_machine.travel(timezone.now(), tick=False):
        _whole_record(patient, psychiatrist, other, 1)
        add_history(patient, psychiatrist, 3)
        few = query_count(client, url)
        _whole_record(patient, psychiatrist, other, 3)
        questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist)
        add_history(patient, psychiatrist, 20)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)

    assert len(captured.captured_queries) == few
    # 6 + the active plan's steps (test_chart_query_budget); PostgreSQL adds BEGIN and COMMIT: 9.
    assert few <= 7
    page = response.content.decode()
    # What the JSON-read lists show: care team, allergies, diagnoses, contacts, open questionnaires.
    assert "Shared care: Shared Carer" in page
    assert "Substance 2 Qzphi" in page and "Therapist 2 Qzphi" in page
    assert "Confirm step now" in page  # the titration plan's next step
    assert page.count("GAD-7") >= 1
