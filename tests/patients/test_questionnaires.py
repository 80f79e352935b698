"""patients.questionnaires: submitting (scored, stored whole or not at all, triaged), assigning
and withdrawing requests, and the PHI-free reminder."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.models import Alert, AuditEvent, Notification
from notifications import messages as outbox_messages
from notifications import preferences as notification_prefs
from patients import questionnaires
from patients.models import QuestionnaireAssignment, QuestionnaireResponse
from tests import factories

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


def phq9(item9=0, each=1) -> dict:
    return {str(n): each for n in range(1, 9)} | {"9": item9}


def submit(patient, answers, instrument="phq9", **extra):
    defaults = {"completed_by": patient.user, "context": "portal"}
    return questionnaires.submit(patient=patient, instrument=instrument, answers=answers, **(defaults | extra))


def test_submit_scores_and_stores_answers_and_completes_the_request(patient, psychiatrist):
    assignment = questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist)

    response = submit(patient, phq9(each=2) | {"difficulty": 1}, assignment=assignment)

    response.refresh_from_db()
    assert (response.total, response.band, response.triage_level) == (16, "moderately_severe", "routine")
    assert response.answers == phq9(each=2) | {"difficulty": 1}
    assert (response.context, response.completed_by, response.assignment) == ("portal", patient.user, assignment)
    assignment.refresh_from_db()
    assert assignment.status == "completed" and assignment.closed_at is not None
    assert AuditEvent.objects.filter(object_type="patients.QuestionnaireResponse", object_id=str(response.pk)).exists()
    assert not Alert.objects.exists()


def test_incomplete_answers_store_nothing(patient, psychiatrist):
    assignment = questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist)
    answers = phq9(item9=2)
    del answers["4"]

    with pytest.raises(ValidationError) as error:
        submit(patient, answers, assignment=assignment)

    assert "item_4" in error.value.message_dict
    assert "Answer every question" in error.value.message_dict["__all__"][0]
    assert QuestionnaireResponse.objects.count() == 0
    assert not Alert.objects.exists()  # item 9 was answered, but nothing was scored
    assignment.refresh_from_db()
    assert assignment.status == "open"


def test_item_9_raises_an_emergency_alert_about_the_response(patient, psychiatrist):
    response = submit(patient, phq9(item9=1))

    alert = Alert.objects.get()
    assert (alert.patient, alert.level, alert.source) == (patient, "emergency", response)
    assert "PHQ-9 item 9" in alert.reasons[0]
    assert response.triage_level == "emergency" and response.is_emergency
    assert Notification.objects.filter(kind=Kind.SAFETY_ALERT, recipient=psychiatrist).exists()


def test_item_9_filled_in_a_visit_also_raises_the_alert(patient, psychiatrist):
    response = submit(patient, phq9(item9=3), completed_by=psychiatrist, context="visit")

    assert Alert.objects.get().source == response


def test_a_double_submit_of_one_request_is_refused(patient, psychiatrist):
    assignment = questionnaires.assign(patient=patient, instrument="gad7", assigned_by=psychiatrist)
    answers = {str(n): 0 for n in range(1, 8)}
    submit(patient, answers, instrument="gad7", assignment=assignment)

    with pytest.raises(ValidationError, match="already been completed"):
        submit(patient, answers, instrument="gad7", assignment=assignment)
    assert QuestionnaireResponse.objects.count() == 1


def test_a_request_of_another_patient_is_refused(patient, patient2, psychiatrist2):
    theirs = questionnaires.assign(patient=patient2, instrument="phq9", assigned_by=psychiatrist2)

    with pytest.raises(ValidationError):
        submit(patient, phq9(), assignment=theirs)
    assert QuestionnaireResponse.objects.count() == 0


def test_the_portal_refuses_a_clinician_rated_scale(patient):
    answers = {str(n): 0 for n in range(1, 11)} | {"11": "no", "12": "no"}

    with pytest.raises(ValidationError, match="filled in by a clinician"):
        submit(patient, answers, instrument="aims")


def test_filling_in_a_visit_completes_the_open_request_for_it(patient, psychiatrist):
    assignment = questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist)
    visit = factories.visit(patient, psychiatrist)

    response = submit(patient, phq9(), completed_by=psychiatrist, context="visit", visit_note=visit)

    assert (response.assignment, response.visit_note) == (assignment, visit)
    assignment.refresh_from_db()
    assert assignment.status == "completed"


def test_a_visit_note_of_another_patient_is_refused(patient, patient2, psychiatrist, psychiatrist2):
    theirs = factories.visit(patient2, psychiatrist2)

    with pytest.raises(ValidationError):
        submit(patient, phq9(), completed_by=psychiatrist, context="visit", visit_note=theirs)


def test_worsening_is_stored_with_the_score(patient):
    first = submit(patient, phq9(each=1))  # 8, mild
    second = submit(patient, phq9(each=2))  # 16, moderately severe
    third = submit(patient, phq9(each=2) | {"1": 1})  # 15: better

    assert (first.worsened, first.previous_total) == (False, None)
    assert second.worsened and second.previous_total == 8
    assert second.worsening_reason == "up 8 points (8 → 16); up from mild to moderately severe"
    assert not third.worsened


def test_responses_are_append_only(patient):
    response = submit(patient, phq9())
    response.total = 0
    with pytest.raises(PermissionError):
        response.save()
    with pytest.raises(PermissionError):
        response.delete()


# -- Short screens --------------------------------------------------------------------------------


def test_a_positive_phq2_asks_for_the_full_phq9(patient):
    submit(patient, {"1": 2, "2": 1}, instrument="phq2")

    follow_up = QuestionnaireAssignment.objects.get()
    assert (follow_up.instrument, follow_up.reason, follow_up.status) == ("phq9", "screen", "open")


def test_a_negative_gad2_asks_for_nothing(patient):
    submit(patient, {"1": 1, "2": 1}, instrument="gad2")

    assert not QuestionnaireAssignment.objects.exists()


def test_a_positive_screen_does_not_duplicate_an_open_request(patient, psychiatrist):
    questionnaires.assign(patient=patient, instrument="gad7", assigned_by=psychiatrist)

    submit(patient, {"1": 3, "2": 3}, instrument="gad2")

    assert QuestionnaireAssignment.objects.filter(instrument="gad7").count() == 1


# -- Requests and reminders ----------------------------------------------------------------------


def test_assign_sends_a_phi_free_reminder_on_each_enabled_channel(patient, psychiatrist):
    prefs = notification_prefs.preferences(patient.user)
    prefs.sms_enabled, prefs.sms_phone = True, "+16175550123"
    prefs.save()

    assignment = questionnaires.assign(
        patient=patient, instrument="phq9", assigned_by=psychiatrist, due_on=timezone.localdate()
    )

    rows = Notification.objects.filter(kind=Kind.QUESTIONNAIRE_DUE)
    assert {r.channel for r in rows} == {"in_app", "email", "sms"}
    assert all(r.recipient == patient.user and r.idempotency_key.startswith(f"questionnaire-due:{assignment.pk}:")
               for r in rows)  # fmt: skip
    for row in rows:
        message = outbox_messages.render_message(row)
        text = f"{message.subject} {message.text} {message.html}"
        for word in ("PHQ", "depress", patient.legal_first_name, patient.legal_last_name, "sertraline"):
            assert word.lower() not in text.lower()
        if row.channel != "in_app":  # the in-app list shows the link beside the text
            assert "/patients/me/questionnaires/" in text
    assert outbox_messages.in_app_text(rows.get(channel="in_app"))[1] == "/patients/me/questionnaires/"


@pytest.mark.parametrize(
    ("instrument", "due", "message"),
    [
        ("aims", 0, "rated by a clinician"),
        ("phq9", -1, "cannot be in the past"),
        ("cssrs", 0, "Choose a questionnaire the clinic offers"),
    ],
)
def test_assign_refuses_what_cannot_be_asked(patient, psychiatrist, instrument, due, message):
    with pytest.raises(ValidationError, match=message):
        questionnaires.assign(
            patient=patient,
            instrument=instrument,
            assigned_by=psychiatrist,
            due_on=timezone.localdate() + datetime.timedelta(days=due),
        )
    assert not QuestionnaireAssignment.objects.exists()
    assert not Notification.objects.filter(kind=Kind.QUESTIONNAIRE_DUE).exists()


def test_one_open_request_per_questionnaire(patient, psychiatrist):
    questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist)

    with pytest.raises(ValidationError, match="already waiting"):
        questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist)
    assert QuestionnaireAssignment.objects.count() == 1


def test_disabled_instruments_are_not_offered(patient, psychiatrist, settings):
    settings.TITRATE_DISABLED_INSTRUMENTS = ["asrs_a", "mdq"]

    assert {i.code for i in questionnaires.available()} == {"phq9", "gad7", "phq2", "gad2", "aims"}
    with pytest.raises(ValidationError):
        questionnaires.assign(patient=patient, instrument="mdq", assigned_by=psychiatrist)


def test_withdrawing_a_request_cancels_its_unsent_reminders(patient, psychiatrist):
    assignment = questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist)

    assert questionnaires.cancel(assignment, actor=psychiatrist) is True
    assert questionnaires.cancel(assignment, actor=psychiatrist) is False

    assignment.refresh_from_db()
    assert assignment.status == "cancelled"
    assert set(Notification.objects.filter(kind=Kind.QUESTIONNAIRE_DUE).values_list("status", flat=True)) == {
        "cancelled"
    }
