"""A manual dose change over an open plan reconciles it (issue 16, item 2), and a step to 0 mg is
worded as a stop everywhere (item 3)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from medications import prescribing
from medications.models import ChangeReason, DosePlan
from medications.prescribing import PlanStepInput
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = datetime.date(2026, 3, 6)


def titrating(patient, psychiatrist):
    return factories.start(
        patient,
        psychiatrist,
        dose="50",
        strength="50",
        start_date=datetime.date(2026, 3, 1),
        titration_steps=[PlanStepInput(D(50), 7), PlanStepInput(D(100), 14), PlanStepInput(D(150), None)],
    )


def change_form(dose: str) -> dict:
    return {"dose_mg": dose, "frequency": "qam", "reason": ChangeReason.INEFFECTIVE, "effective_date": "2026-03-06"}


@time_machine.travel(datetime.datetime(2026, 3, 6, 15, 0, tzinfo=datetime.UTC))
def test_a_manual_change_to_the_next_steps_dose_is_that_step(client, patient, psychiatrist):
    rx = titrating(patient, psychiatrist)
    log_in(client, psychiatrist)

    form = client.get(reverse("medications:prescription_change", args=[patient.pk, rx.pk])).content.decode()
    response = client.post(reverse("medications:prescription_change", args=[patient.pk, rx.pk]), change_form("100"))

    assert "Changing to 100 mg counts as that step" in form
    assert response.status_code == 302
    plan = rx.plans.get()
    assert plan.status == DosePlan.Status.ACTIVE
    assert [(s.dose_mg, s.started_on) for s in plan.ordered_steps] == [
        (D(50), datetime.date(2026, 3, 1)),
        (D(100), TODAY),
        (D(150), None),
    ]
    assert (plan.next_step.dose_mg, plan.next_step_due) == (D(150), datetime.date(2026, 3, 20))
    chart = client.get(reverse("patients:chart", args=[patient.pk])).content.decode()
    assert "next 100 mg" not in chart and "next 150 mg due Mar 20" in chart


@time_machine.travel(datetime.datetime(2026, 3, 6, 15, 0, tzinfo=datetime.UTC))
def test_a_manual_change_off_the_plan_ends_it_with_the_reason(client, patient, psychiatrist):
    rx = titrating(patient, psychiatrist)
    log_in(client, psychiatrist)

    response = client.post(reverse("medications:prescription_change", args=[patient.pk, rx.pk]), change_form("75"))

    assert response.status_code == 302
    plan = rx.plans.get()
    assert plan.status == DosePlan.Status.CANCELLED
    assert plan.ended_note == (
        "Ended 2026-03-06: the dose was changed by hand to 75 mg, off the plan; the next step was 100 mg."
    )
    detail = client.get(reverse("medications:prescription_detail", args=[patient.pk, rx.pk])).content.decode()
    assert plan.ended_note in detail and "Confirm next step" not in detail
    chart = client.get(reverse("patients:chart", args=[patient.pk])).content.decode()
    assert "Confirm step now" not in chart


def test_the_last_step_reached_by_hand_completes_the_plan(patient, psychiatrist):
    rx = titrating(patient, psychiatrist)
    prescribing.confirm_next_step(rx.plans.get(), actor=psychiatrist)

    prescribing.change_dose(rx, actor=psychiatrist, dose_mg=D(150), reason=ChangeReason.TITRATION_STEP)

    assert rx.plans.get().status == DosePlan.Status.COMPLETED


@time_machine.travel(datetime.datetime(2026, 3, 9, 15, 0, tzinfo=datetime.UTC))
def test_patient_home_never_announces_the_dose_they_already_take(client, patient, psychiatrist):
    rx = titrating(patient, psychiatrist)
    prescribing.change_dose(rx, actor=psychiatrist, dose_mg=D(100), reason=ChangeReason.INEFFECTIVE)
    log_in(client, patient.user)

    home = client.get(reverse("patient_home")).content.decode()

    assert "Take 2 tablets (100 mg)" in home
    assert "to 100 mg" not in home
    # One instruction: the plan's next step, from the dose they are on now.
    assert home.count("plans to change") == 1 and "plans to change sertraline to 150 mg" in home


# -- Item 3: a step to zero is a stop --------------------------------------------------------------


@time_machine.travel(datetime.datetime(2026, 3, 20, 15, 0, tzinfo=datetime.UTC))
def test_a_tapers_last_step_reads_as_a_stop_everywhere(client, patient, psychiatrist):
    rx = factories.start(
        patient, psychiatrist, drug="trazodone", dose="25", strength="25", frequency="qhs",
        start_date=datetime.date(2026, 3, 1),
    )  # fmt: skip
    plan = prescribing.start_taper(
        rx,
        actor=psychiatrist,
        steps=[PlanStepInput(D("12.5"), 7), PlanStepInput(D(0), None)],
        stop_reason=ChangeReason.NO_LONGER_NEEDED,
        start_date=datetime.date(2026, 3, 10),
    )

    log_in(client, patient.user)
    home = client.get(reverse("patient_home")).content.decode()
    assert "plans to stop trazodone" in home and "0 mg" not in home

    client.logout()
    log_in(client, psychiatrist)
    chart = client.get(reverse("patients:chart", args=[patient.pk])).content.decode()
    detail = client.get(reverse("medications:prescription_detail", args=[patient.pk, rx.pk])).content.decode()
    assert "Taper: next stop due Mar 17" in chart
    assert "Confirm next step: stop" in detail
    assert "Taper plan: 12.5 mg × 7 d → stop" in detail
    assert " 0 mg" not in chart + detail

    prescribing.confirm_next_step(plan, actor=psychiatrist)
    detail = client.get(reverse("medications:prescription_detail", args=[patient.pk, rx.pk])).content.decode()
    assert "12.5 mg → stop" in detail and "→ 0" not in detail
