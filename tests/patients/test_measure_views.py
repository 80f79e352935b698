"""Questionnaire pages through the browser's eyes: the patient fills what was asked for (and sees
crisis resources at once on item 9), the psychiatrist fills, asks and withdraws, and the chart
shows PHQ-9 over time with the sertraline dose steps and a table alternative."""

from __future__ import annotations

import datetime
import json
import re
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.models import Alert, AuditEvent
from patients import questionnaires
from patients.models import QuestionnaireAssignment, QuestionnaireResponse
from tests import factories
from tests.helpers import log_in, warm_clinic_profile

pytestmark = pytest.mark.django_db


def phq9_post(item9=0, each=1, **extra) -> dict:
    return {f"item_{n}": str(each) for n in range(1, 9)} | {"item_9": str(item9)} | extra


@pytest.fixture
def assigned(patient, psychiatrist):
    return questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist)


@pytest.fixture
def patient_client(client, patient):
    log_in(client, patient.user)
    return client


@pytest.fixture
def staff_client(client, psychiatrist):
    log_in(client, psychiatrist)
    return client


def json_data(html: str, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no {element_id} json_script"
    return json.loads(match.group(1))


# -- The patient ----------------------------------------------------------------------------------


def test_patient_fills_an_assigned_phq9_in_the_portal(patient_client, patient, assigned):
    url = reverse("patients:my_questionnaire_fill", args=[assigned.pk])

    form = patient_client.get(url).content.decode()
    assert form.count("<fieldset") == 10 and form.count("<legend") == 10
    assert form.count('type="radio"') == 10 * 4
    assert "Over the last 2 weeks, how often have you been bothered by any of the following problems?" in form
    assert "No permission required to reproduce" in form

    response = patient_client.post(url, phq9_post(each=2) | {"item_difficulty": "1"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Thank you — your answers were sent" in page and "Please get help now" not in page
    stored = QuestionnaireResponse.objects.get()
    assert (stored.total, stored.band, stored.context, stored.assignment) == (
        16,
        "moderately_severe",
        "portal",
        assigned,
    )
    assert stored.answers["difficulty"] == 1
    assigned.refresh_from_db()
    assert assigned.status == "completed"


def test_an_incomplete_questionnaire_keeps_the_answers_and_stores_nothing(patient_client, assigned):
    url = reverse("patients:my_questionnaire_fill", args=[assigned.pk])

    response = patient_client.post(url, {"item_1": "2", "item_2": "3", "item_9": "1"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Answer every question to finish (6 still to answer). Nothing has been saved yet." in page
    assert re.search(r'id="id_item_1_2" value="2" checked', page)
    assert re.search(r'id="id_item_2_3" value="3" checked', page)
    assert 'aria-invalid="true"' in page and 'id="q-5-error"' in page
    assert QuestionnaireResponse.objects.count() == 0
    assert not Alert.objects.exists()
    assigned.refresh_from_db()
    assert assigned.status == "open"


def test_an_answer_that_is_not_an_option_is_refused(patient_client, assigned):
    url = reverse("patients:my_questionnaire_fill", args=[assigned.pk])

    response = patient_client.post(url, phq9_post(item_3="7"))

    assert "Select a valid choice" in response.content.decode()
    assert QuestionnaireResponse.objects.count() == 0


def test_item_9_shows_crisis_resources_at_once_and_alerts_the_psychiatrist(
    patient_client, patient, psychiatrist, assigned
):
    response = patient_client.post(reverse("patients:my_questionnaire_fill", args=[assigned.pk]), phq9_post(item9=1))

    assert response.status_code == 200  # this very response, not a redirect
    main = response.content.decode().split('<main id="main"', 1)[1]
    crisis = main.index("Please get help now")
    assert main.index('href="tel:988"') > crisis
    assert 'href="tel:911"' in main
    # Nothing of the page's own comes before the crisis resources.
    assert crisis < main.index("Your answers were sent") < main.index("Total")
    assert main[: main.index('aria-labelledby="crisis-heading"')].count("<h") == 0
    stored = QuestionnaireResponse.objects.get()
    alert = Alert.objects.get()
    assert (alert.level, alert.patient, alert.source) == ("emergency", patient, stored)

    staff = Client()
    log_in(staff, psychiatrist)
    home = staff.get(reverse("psychiatrist_home")).content.decode()
    assert reverse("patients:questionnaire_detail", args=[patient.pk, stored.pk]) in home


def test_the_result_page_can_be_opened_again_later(patient_client, patient):
    stored = factories.submit_phq9(patient, 1, item9=2)

    page = patient_client.get(reverse("patients:my_questionnaire_result", args=[stored.pk])).content.decode()

    assert "Please get help now" in page
    assert AuditEvent.objects.filter(object_type="patients.QuestionnaireResponse", action="view").exists()


def test_a_positive_phq2_leads_straight_to_the_phq9(patient_client, patient, psychiatrist):
    screen = questionnaires.assign(patient=patient, instrument="phq2", assigned_by=psychiatrist)

    page = patient_client.post(
        reverse("patients:my_questionnaire_fill", args=[screen.pk]), {"item_1": "2", "item_2": "2"}
    ).content.decode()

    follow_up = QuestionnaireAssignment.objects.get(instrument="phq9")
    assert reverse("patients:my_questionnaire_fill", args=[follow_up.pk]) in page


def test_a_completed_request_cannot_be_filled_twice(patient_client, patient, assigned):
    url = reverse("patients:my_questionnaire_fill", args=[assigned.pk])
    patient_client.post(url, phq9_post())

    response = patient_client.post(url, phq9_post(each=3))

    assert response.status_code == 302 and response["Location"] == reverse("patients:my_questionnaires")
    assert QuestionnaireResponse.objects.count() == 1


def test_another_patient_can_neither_see_nor_fill_a_request(client, patient2, assigned):
    log_in(client, patient2.user)
    url = reverse("patients:my_questionnaire_fill", args=[assigned.pk])

    assert client.get(url).status_code == 404
    assert client.post(url, phq9_post()).status_code == 404
    assert QuestionnaireResponse.objects.count() == 0


def test_patient_home_lists_what_to_fill_and_the_progress_chart(patient_client, patient, psychiatrist, assigned):
    with time_machine.travel(timezone.now() - datetime.timedelta(days=20)):
        factories.start(patient, psychiatrist, dose="50", strength="50")
        factories.submit_phq9(patient, 2)
    factories.submit_phq9(patient, 1)

    page = patient_client.get(reverse("patient_home")).content.decode()

    assert "Questionnaires to fill in" in page
    assert reverse("patients:my_questionnaire_fill", args=[assigned.pk]) in page
    assert "My progress" in page
    data = json_data(page, "progress-data")
    assert [p["y"] for p in data["series"][0]["points"]] == [16, 8]
    assert data["side_effects"] == []
    assert "<caption>My scores" in page and "<caption>My medicine doses over time" in page
    assert 'src="/static/js/measures.js"' in page


# -- The psychiatrist -----------------------------------------------------------------------------


def test_psychiatrist_fills_the_aims_in_a_visit(staff_client, patient, psychiatrist):
    visit = factories.visit(patient, psychiatrist)
    url = reverse("patients:questionnaire_fill", args=[patient.pk, "aims"]) + f"?visit={visit.pk}"
    form = staff_client.get(url).content.decode()
    assert f'<option value="{visit.pk}" selected>' in form
    answers = {f"item_{n}": "0" for n in range(1, 11)} | {
        "item_2": "2",
        "item_4": "2",
        "item_11": "no",
        "item_12": "no",
    }

    response = staff_client.post(url, answers | {"visit_note": str(visit.pk)})

    stored = QuestionnaireResponse.objects.get()
    assert response["Location"] == reverse("patients:questionnaire_detail", args=[patient.pk, stored.pk])
    assert (stored.instrument, stored.total, stored.band) == ("aims", 4, "criteria_met")
    assert (stored.context, stored.visit_note, stored.completed_by) == ("visit", visit, psychiatrist)
    detail = staff_client.get(response["Location"]).content.decode()
    assert "Schooler–Kane movement criteria for probable tardive dyskinesia met" in detail


def test_unknown_or_switched_off_questionnaires_are_not_found(staff_client, patient, settings):
    assert staff_client.get(reverse("patients:questionnaire_fill", args=[patient.pk, "cssrs"])).status_code == 404
    settings.TITRATE_DISABLED_INSTRUMENTS = ["mdq"]
    assert staff_client.get(reverse("patients:questionnaire_fill", args=[patient.pk, "mdq"])).status_code == 404


def test_psychiatrist_asks_the_patient_for_a_questionnaire(staff_client, patient):
    url = reverse("patients:questionnaire_list", args=[patient.pk])

    response = staff_client.post(url, {"instrument": "gad7", "due_on": timezone.localdate().isoformat()})

    assert response.status_code == 302
    assignment = QuestionnaireAssignment.objects.get()
    assert (assignment.instrument, assignment.reason, assignment.status) == ("gad7", "manual", "open")


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"instrument": "aims", "due_on": "2030-01-01"}, "Select a valid choice"),
        ({"instrument": "phq9", "due_on": "2001-01-01"}, "The due date cannot be in the past."),
        ({"instrument": "phq9", "due_on": "next week"}, "Enter a valid date."),
    ],
)
def test_a_bad_request_says_why_keeps_what_was_typed_and_creates_nothing(staff_client, patient, post, message):
    response = staff_client.post(reverse("patients:questionnaire_list", args=[patient.pk]), post)

    page = response.content.decode()
    assert response.status_code == 200
    assert message in page
    assert f'value="{post["due_on"]}"' in page
    assert not QuestionnaireAssignment.objects.exists()


def test_psychiatrist_withdraws_a_request(staff_client, patient, assigned):
    response = staff_client.post(reverse("patients:questionnaire_cancel", args=[patient.pk, assigned.pk]))

    assert response.status_code == 302
    assigned.refresh_from_db()
    assert assigned.status == "cancelled"


def test_another_psychiatrist_can_change_nothing(client, patient, psychiatrist2, assigned):
    log_in(client, psychiatrist2)

    assert (
        client.post(reverse("patients:questionnaire_list", args=[patient.pk]), {"instrument": "gad7"}).status_code
        == 404
    )
    assert client.post(reverse("patients:questionnaire_cancel", args=[patient.pk, assigned.pk])).status_code == 404
    assert (
        client.post(reverse("patients:questionnaire_fill", args=[patient.pk, "phq9"]), phq9_post()).status_code == 404
    )
    assert QuestionnaireAssignment.objects.get() == assigned and assigned.status == "open"
    assert QuestionnaireResponse.objects.count() == 0


def test_a_patient_cannot_use_the_clinician_form(patient_client, patient):
    response = patient_client.post(reverse("patients:questionnaire_fill", args=[patient.pk, "phq9"]), phq9_post())

    assert response.status_code == 403
    assert QuestionnaireResponse.objects.count() == 0


# -- The chart ------------------------------------------------------------------------------------


def test_chart_shows_phq9_over_time_with_the_sertraline_dose_steps(staff_client, patient, psychiatrist):
    factories.sertraline_history(patient, psychiatrist)

    page = staff_client.get(reverse("patients:chart", args=[patient.pk])).content.decode()

    data = json_data(page, "measures-data")
    (phq9,) = data["series"]
    assert phq9["label"] == "PHQ-9" and [p["y"] for p in phq9["points"]] == [16, 12, 6]
    assert [p["band"] for p in phq9["points"]] == ["Moderately severe", "Moderate", "Mild"]
    (sertraline,) = data["medications"]
    assert sertraline["drug"] == "sertraline"
    assert [s["label"] for s in sertraline["segments"]] == ["50 mg/day", "100 mg/day"]
    assert [s["ongoing"] for s in sertraline["segments"]] == [False, True]
    assert [c["label"] for c in data["changes"]] == ["sertraline 50 → 100 mg/day"]
    assert len(data["side_effects"]) == 1 and "sertraline" in data["side_effects"][0]["label"]
    assert [t["y"] for t in data["thresholds"]] == [5, 10, 15, 20]
    # The table alternative holds the same facts.
    tables = page.split("<details", 1)[1].split("</details>", 1)[0]
    assert "Show the chart&#x27;s data as tables" in tables or "Show the chart's data as tables" in tables
    assert "<caption>Scores (PHQ-9 0–27, GAD-7 0–21; higher is worse)</caption>" in tables
    assert "<caption>Medication doses over time</caption>" in tables
    doses = tables.split("<caption>Medication doses over time</caption>", 1)[1].split("</table>", 1)[0]
    assert doses.count("<td>sertraline</td>") == 2
    assert "<td>50 mg/day</td>" in tables and "<td>100 mg/day</td>" in tables
    assert "<td>sertraline 50 → 100 mg/day</td>" in tables
    assert "<caption>Side-effect reports (the triangles on the chart)</caption>" in tables
    assert 'role="img"' in page and 'src="/static/js/measures.js"' in page
    # Not worse, and a suggestion that follows the recent change.
    assert "Suggested visit interval:</strong> every 2–4 weeks" in page


def test_an_evening_score_is_on_the_viewers_day_and_inside_the_charts_range(staff_client, psychiatrist, patient):
    """The chart's moments are the viewer's wall clock, like its range: a score at 21:30 in New
    York (02:30 the next day in UTC) is drawn on its own day, before the axis ends (issue 16)."""
    psychiatrist.time_zone = "America/New_York"
    psychiatrist.save(update_fields=["time_zone"])
    zone = zoneinfo.ZoneInfo("America/New_York")
    yesterday = timezone.localtime(timezone.now(), zone).date() - datetime.timedelta(days=1)
    morning, evening = (
        datetime.datetime.combine(yesterday, t, tzinfo=zone) for t in (datetime.time(9), datetime.time(21, 30))
    )
    with time_machine.travel(morning, tick=False):
        factories.submit_phq9(patient, 1)
    with time_machine.travel(evening, tick=False):
        factories.submit_phq9(patient, 2)
        data = json_data(
            staff_client.get(reverse("patients:chart", args=[patient.pk])).content.decode(), "measures-data"
        )

    points = data["series"][0]["points"]
    assert [(p["t"], p["y"]) for p in points] == [(f"{yesterday}T09:00:00", 8), (f"{yesterday}T21:30:00", 16)]
    assert data["range"] == {"start": f"{yesterday}T00:00:00", "end": f"{yesterday}T23:59:59"}
    assert [(t["y"], t["label"]) for t in data["thresholds"]][:2] == [(5, "mild"), (10, "moderate")]
    assert data["band_instrument"] == "PHQ-9"


def test_chart_flags_a_worsened_score(staff_client, patient):
    factories.submit_phq9(patient, 1)
    factories.submit_phq9(patient, 2)

    page = staff_client.get(reverse("patients:chart", args=[patient.pk])).content.decode()

    assert "<strong>Worse:</strong> PHQ-9 up 8 points (8 → 16); up from mild to moderately severe" in page


def test_a_chart_without_scores_or_medicines_says_what_will_appear(staff_client, patient):
    page = staff_client.get(reverse("patients:chart", args=[patient.pk])).content.decode()

    assert "No scores or medications yet." in page
    assert "measures-data" not in page


# -- Query budgets: constant, whatever the history ------------------------------------------------


def count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_chart_costs_the_same_for_3_and_30_scores(staff_client, patient, psychiatrist):
    factories.sertraline_history(patient, psychiatrist)
    url = reverse("patients:chart", args=[patient.pk])
    few = count(staff_client, url)

    for n in range(27):
        factories.submit_phq9(patient, n % 4)
    questionnaires.assign(patient=patient, instrument="gad7", assigned_by=psychiatrist)

    assert count(staff_client, url) == few


def test_homes_cost_the_same_for_few_and_many_scores(client, patient, psychiatrist, assigned):
    # A stopped clock: the session's once-a-minute "last seen" write must not land in one count only.
    with time_machine.travel(timezone.now(), tick=False):
        staff = Client()
        log_in(staff, psychiatrist)
        log_in(client, patient.user)
        warm_clinic_profile()
        factories.start(patient, psychiatrist, start_date=timezone.localdate() - datetime.timedelta(days=40))
        factories.submit_phq9(patient, 1)
        factories.submit_phq9(patient, 2)
        home, mine = count(staff, reverse("psychiatrist_home")), count(client, reverse("patient_home"))

        for other in factories.PatientFactory.create_batch(4, primary_psychiatrist=psychiatrist):
            factories.start(other, psychiatrist, start_date=timezone.localdate() - datetime.timedelta(days=40))
            factories.submit_phq9(other, 1, by=psychiatrist)
            factories.submit_phq9(other, 3, by=psychiatrist)
        for n in range(10):
            factories.submit_phq9(patient, n % 4)

        assert count(staff, reverse("psychiatrist_home")) == home
        assert count(client, reverse("patient_home")) == mine
