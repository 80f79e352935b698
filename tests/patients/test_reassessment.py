"""The reassessment planner (with time-machine), prescription reviews due, worsened scores on
the psychiatrist home, and the visit-frequency suggestion."""

from __future__ import annotations

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.models import Notification
from medications import prescribing, reassessment, reviews
from medications.models import ChangeReason
from patients import questionnaires
from patients.models import Diagnosis, QuestionnaireAssignment
from tests import factories
from tests.helpers import log_in, manage, production_env

pytestmark = pytest.mark.django_db

DAY0 = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)


def at(days: int):
    return time_machine.travel(DAY0 + datetime.timedelta(days=days), tick=False)


def today_plus(days: int) -> datetime.date:
    return (DAY0 + datetime.timedelta(days=days)).date()


def diagnose(patient, psychiatrist, code="F33.1"):
    return Diagnosis.objects.create(patient=patient, icd10_code=code, description=code, recorded_by=psychiatrist)


def fill(patient, assignment, each=1):
    items = {"phq9": 9, "gad7": 7}[assignment.instrument]
    return questionnaires.submit(
        patient=patient,
        instrument=assignment.instrument,
        answers={str(n): each for n in range(1, items + 1)} | ({"9": 0} if items == 9 else {}),
        completed_by=patient.user,
        context="portal",
        assignment=assignment,
    )


def plan_and_fill(patient, day: int) -> list[QuestionnaireAssignment]:
    with at(day):
        created = reassessment.plan_reassessments()
        for assignment in created:
            fill(patient, assignment)
    return created


def days_planned(patient, psychiatrist, last_day: int) -> list[tuple[int, str]]:
    """Run the planner every day, filling in whatever it asks for that day."""
    planned = []
    for day in range(last_day + 1):
        for assignment in plan_and_fill(patient, day):
            planned.append((day, assignment.reason))
    return planned


# -- Which questionnaire --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (["F33.1"], ["phq9"]),
        (["F32.A"], ["phq9"]),
        (["F41.1"], ["gad7"]),
        (["F33.1", "F41.1"], ["phq9", "gad7"]),
        (["F90.0"], ["phq9"]),
        ([], ["phq9"]),
    ],
)
def test_questionnaire_follows_the_active_diagnoses(codes, expected):
    assert reassessment.instruments_for(codes) == expected


# -- The planner --------------------------------------------------------------------------------


def test_every_2_weeks_after_a_start(patient, psychiatrist):
    with at(0):
        diagnose(patient, psychiatrist)
        factories.start(patient, psychiatrist)

    planned = days_planned(patient, psychiatrist, 60)

    # A baseline at once, 2 weeks after the start, then every 2 weeks while the start is recent.
    assert planned == [(0, "schedule"), (14, "dose_change"), (28, "schedule"), (42, "schedule"), (56, "schedule")]
    after_start = QuestionnaireAssignment.objects.get(reason="dose_change")
    assert after_start.asked_after.event.kind == "started"


def test_every_8_weeks_when_stable_with_both_questionnaires(patient, psychiatrist):
    with at(0):
        diagnose(patient, psychiatrist, "F33.1")
        diagnose(patient, psychiatrist, "F41.1")
        factories.start(patient, psychiatrist, start_date=today_plus(-200))

    planned = days_planned(patient, psychiatrist, 120)

    assert planned == [(day, "schedule") for day in (0, 0, 56, 56, 112, 112)]
    asked = QuestionnaireAssignment.objects.filter(due_on=today_plus(56)).values_list("instrument", flat=True)
    assert sorted(asked) == ["gad7", "phq9"]


@pytest.mark.parametrize(
    ("after_change_weeks", "expected"),
    [
        (1, [(0, "schedule"), (10, "dose_change"), (24, "schedule")]),
        (3, [(0, "schedule"), (14, "schedule"), (24, "dose_change")]),
    ],
)
def test_n_weeks_after_a_dose_change(patient, psychiatrist, settings, after_change_weeks, expected):
    settings.TITRATE_REASSESS_AFTER_CHANGE_WEEKS = after_change_weeks
    with at(0):
        diagnose(patient, psychiatrist)
        rx = factories.start(patient, psychiatrist, dose="50", strength="50", start_date=today_plus(-200))
    plan_and_fill(patient, 0)
    with at(3):
        change = prescribing.change_dose(rx, actor=psychiatrist, dose_mg=Decimal(100), reason=ChangeReason.INEFFECTIVE)

    planned = [(0, "schedule")] + [(day, a.reason) for day in range(1, 25) for a in plan_and_fill(patient, day)]

    assert planned == expected
    assert QuestionnaireAssignment.objects.get(reason="dose_change").asked_after.event == change


def test_the_planner_is_idempotent(patient, psychiatrist):
    with at(0):
        diagnose(patient, psychiatrist)
        factories.start(patient, psychiatrist)
        first = reassessment.plan_reassessments()
        again = reassessment.plan_reassessments()

    assert len(first) == 1 and again == []
    assert QuestionnaireAssignment.objects.count() == 1
    rows = Notification.objects.filter(kind=Notification.Kind.QUESTIONNAIRE_DUE)
    assert {r.channel for r in rows} == {"in_app", "email"}
    with at(0):
        reassessment.plan_reassessments()
    assert Notification.objects.filter(kind=Notification.Kind.QUESTIONNAIRE_DUE).count() == rows.count()


def test_an_ignored_request_expires_and_is_not_resent_every_day(patient, psychiatrist):
    with at(0):
        diagnose(patient, psychiatrist)
        factories.start(patient, psychiatrist, start_date=today_plus(-200))
        (ignored,) = reassessment.plan_reassessments()

    for day in range(1, 56):
        with at(day):
            assert reassessment.plan_reassessments() == [], day
    ignored.refresh_from_db()
    assert ignored.status == "expired"
    with at(56):
        assert [a.reason for a in reassessment.plan_reassessments()] == ["schedule"]


def test_patients_without_medication_or_inactive_are_not_asked(patient, patient2, psychiatrist):
    with at(0):
        diagnose(patient, psychiatrist)
        patient2.is_active = False
        patient2.save()
        factories.start(patient2, patient2.primary_psychiatrist)

        assert reassessment.plan_reassessments() == []


def test_a_recent_stop_still_counts_as_a_change(patient, psychiatrist):
    with at(0):
        rx = factories.start(patient, psychiatrist, start_date=today_plus(-200))
    plan_and_fill(patient, 0)
    with at(5):
        prescribing.discontinue(
            rx, actor=psychiatrist, reason=ChangeReason.SIDE_EFFECT, abrupt_stop_justification="Hyponatraemia."
        )

    planned = [(day, a.reason) for day in range(1, 30) for a in plan_and_fill(patient, day)]

    assert planned == [(14, "schedule"), (28, "schedule")]


# -- Prescription reviews -------------------------------------------------------------------------


def due_reviews(day: int, **kwargs):
    with at(day):
        return reassessment.prescriptions_due_for_review(**kwargs)


def test_a_review_falls_due_4_weeks_after_a_start_and_is_overdue_after_6(patient, psychiatrist):
    with at(0):
        rx = factories.start(patient, psychiatrist)

    assert due_reviews(27) == []
    (due,) = due_reviews(28)
    assert (due.prescription, due.due_on, due.overdue) == (rx, today_plus(28), False)
    assert due_reviews(42)[0].overdue is False
    assert due_reviews(43)[0].overdue is True


def test_a_visit_near_the_review_closes_it_but_an_early_one_does_not(patient, psychiatrist):
    with at(0):
        factories.start(patient, psychiatrist)
    with at(10):
        factories.visit(patient, psychiatrist)
    assert len(due_reviews(30)) == 1
    with at(31):
        factories.visit(patient, psychiatrist)
    assert due_reviews(31) == []


def test_a_dose_change_restarts_the_review_clock(patient, psychiatrist):
    with at(0):
        rx = factories.start(patient, psychiatrist)
    with at(25):
        factories.visit(patient, psychiatrist)
        prescribing.change_dose(rx, actor=psychiatrist, dose_mg=Decimal(50), reason=ChangeReason.INEFFECTIVE)

    assert due_reviews(52) == []
    assert due_reviews(53)[0].due_on == today_plus(53)


def test_review_weeks_are_a_setting(patient, psychiatrist, settings):
    settings.TITRATE_RX_REVIEW_WEEKS = 6
    with at(0):
        factories.start(patient, psychiatrist)

    assert due_reviews(41) == []
    assert due_reviews(42)[0].due_on == today_plus(42)


def test_reviews_due_show_on_the_psychiatrists_home_only(
    client, patient, psychiatrist, psychiatrist2, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the stored list follows the write
        factories.start(patient, psychiatrist, start_date=timezone.localdate() - datetime.timedelta(days=30))

    other = Client()
    log_in(client, psychiatrist)
    log_in(other, psychiatrist2)

    page = home(client)
    assert "Prescription reviews" in page and "sertraline" in page and patient.display_name in page
    assert "Prescription reviews" not in home(other)


def test_review_nudge_goes_once_per_window(patient, psychiatrist):
    with at(0):
        rx = factories.start(patient, psychiatrist)
    with at(28):
        created = reviews.plan_prescription_reviews()
        assert reviews.plan_prescription_reviews() == []
    assert [(r.recipient, r.kind, r.channel) for r in created] == [(psychiatrist, "prescription_review_due", "in_app")]
    assert [n.prescription_id for n in created[0].subject.nudges.all()] == [rx.pk]


# -- Worsened scores on the psychiatrist home -----------------------------------------------------


def phq9(patient, each, **extra):
    return questionnaires.submit(
        patient=patient,
        instrument="phq9",
        answers={str(n): each for n in range(1, 9)} | {"9": 0},
        completed_by=patient.user,
        context="portal",
        **extra,
    )


def home(client) -> str:
    return client.get(reverse("psychiatrist_home")).content.decode()


def test_a_worsened_score_shows_until_a_newer_score_or_a_visit(client, patient, psychiatrist, psychiatrist2):
    other = Client()
    log_in(client, psychiatrist)
    log_in(other, psychiatrist2)
    phq9(patient, 1)
    worse = phq9(patient, 2)

    page = home(client)
    assert "Scores that got worse" in page
    assert reverse("patients:questionnaire_detail", args=[patient.pk, worse.pk]) in page
    assert "Scores that got worse" not in home(other)

    phq9(patient, 2)  # the same again: no longer worse than the last one
    assert "Scores that got worse" not in home(client)

    phq9(patient, 3)
    assert "Scores that got worse" in home(client)
    factories.visit(patient, psychiatrist)
    assert "Scores that got worse" not in home(client)


def test_raw_sql_worsened_scores_of_a_caseloads_ids_match_the_queryset(psychiatrist):
    if connection.vendor != "postgresql":
        pytest.skip("reassessment.worsened_among is PostgreSQL's (= ANY of an array)")
    user = factories.PatientUserFactory
    patients = [factories.PatientFactory(user=user(), primary_psychiatrist=psychiatrist) for _ in range(5)]
    for n, patient in enumerate(patients):
        for each in [1, 2, 3][: n % 3 + 1]:
            phq9(patient, each)
        if n == 4:
            factories.visit(patient, psychiatrist)
    ids = [patient.pk for patient in patients]
    people = {patient.pk: patient for patient in patients}

    by_sql = reassessment.worsened_responses(ids, people=people)  # reassessment.worsened_among
    by_orm = reassessment.worsened_responses(ids)

    assert [(r.pk, r.patient_id, r.total, r.worsening_reason) for r in by_sql] == [
        (r.pk, r.patient_id, r.total, r.worsening_reason) for r in by_orm
    ]
    assert len(by_orm) >= 2, "the fixture has worsened scores"
    assert [r.patient.display_name for r in by_sql] == [r.patient.display_name for r in by_orm]
    assert reassessment.worsened_among(ids, people, limit=1) == by_orm[:1]


# -- Visit-frequency suggestion -------------------------------------------------------------------


def score(total, worsened=False, instrument="phq9"):
    return SimpleNamespace(total=total, worsened=worsened, get_instrument_display=lambda: instrument.upper())


@pytest.mark.parametrize(
    ("last_change_days_ago", "phq9_scores", "interval"),
    [
        (20, [score(3), score(2)], "every 2–4 weeks"),  # changed within 12 weeks
        (200, [score(12, worsened=True), score(6)], "every 2–4 weeks"),  # worsening
        (200, [score(3), score(4)], "every 8–12 weeks"),  # stable, two scores in remission
        (200, [score(3)], "every 4–6 weeks"),  # only one score in remission
        (200, [score(3), score(7)], "every 4–6 weeks"),
        (None, [], None),
    ],
)
def test_visit_interval_suggestion_follows_stability(last_change_days_ago, phq9_scores, interval):
    today = datetime.date(2026, 6, 1)
    last_change = today - datetime.timedelta(days=last_change_days_ago) if last_change_days_ago else None

    suggestion = reassessment.suggest_visit_interval(
        today=today, last_change=last_change, scores={"phq9": phq9_scores, "gad7": []}, on_medication=bool(last_change)
    )

    assert (suggestion.interval if suggestion else None) == interval


def test_remission_needs_every_measured_questionnaire_in_remission():
    suggestion = reassessment.suggest_visit_interval(
        today=datetime.date(2026, 6, 1),
        last_change=datetime.date(2025, 1, 1),
        scores={"phq9": [score(2), score(1)], "gad7": [score(9), score(3)]},
        on_medication=True,
    )
    assert suggestion.interval == "every 4–6 weeks"


# -- Settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TITRATE_RX_REVIEW_WEEKS": "four"}, "TITRATE_RX_REVIEW_WEEKS='four' is not a whole number"),
        ({"TITRATE_REASSESS_STABLE_WEEKS": "0"}, "TITRATE_REASSESS_STABLE_WEEKS=0 must be at least 1"),
        ({"TITRATE_DISABLED_INSTRUMENTS": "cssrs"}, "TITRATE_DISABLED_INSTRUMENTS takes instrument codes"),
    ],
)
def test_reassessment_settings_are_checked_at_start(env, message):
    result = manage("check", env=production_env(**env))

    assert result.returncode == 2
    assert message in result.stderr
