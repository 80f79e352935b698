"""Evaluations and visit notes: draft, sign, lock, addenda — in the model and through the views."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent
from patients.models import Evaluation, NoteLockedError, VisitNote
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

THREE_DAYS_AGO = (timezone.localdate() - datetime.timedelta(days=3)).isoformat()


def test_signed_evaluation_cannot_be_saved_again(patient, psychiatrist):
    note = factories.evaluation(patient, psychiatrist, signed=True)
    note.treatment_plan = "changed after signing"

    with pytest.raises(NoteLockedError):
        note.save()
    assert Evaluation.objects.get(pk=note.pk).treatment_plan == ""


def test_notes_are_never_deleted(patient, psychiatrist):
    note = factories.visit(patient, psychiatrist)
    with pytest.raises(NoteLockedError):
        note.delete()


def test_signing_needs_the_risk_assessment(client, patient, psychiatrist):
    note = factories.evaluation(patient, psychiatrist, suicide_risk="", risk_rationale="")
    log_in(client, psychiatrist)

    response = client.post(reverse("patients:evaluation_sign", args=[patient.pk, note.pk]), follow=True)

    assert b"Complete before signing: suicide risk level, risk rationale." in response.content
    assert Evaluation.objects.get(pk=note.pk).status == "draft"


def test_psychiatrist_signs_an_evaluation_in_the_browser_flow(client, patient, psychiatrist):
    log_in(client, psychiatrist)
    data = {
        "evaluation_date": THREE_DAYS_AGO,
        "presenting_symptoms": "Low mood, poor sleep.",
        "mental_status_exam": "Calm; mood low.",
        "suicide_risk": "low",
        "violence_risk": "low",
        "risk_rationale": "No ideation.",
        "sign": "",
    }

    response = client.post(reverse("patients:evaluation_create", args=[patient.pk]), data, follow=True)

    note = Evaluation.objects.get(patient=patient)
    assert (note.status, note.author, note.signed_by) == ("signed", psychiatrist, psychiatrist)
    assert b"Signed. The note is now locked" in response.content
    actions = list(AuditEvent.objects.filter(object_type="patients.Evaluation").values_list("action", "detail__change"))
    assert ("create", None) in actions
    assert ("update", "signed") in actions


def test_editing_a_signed_note_is_refused_with_a_message_and_changes_nothing(client, patient, psychiatrist):
    note = factories.evaluation(patient, psychiatrist, signed=True)
    log_in(client, psychiatrist)

    response = client.post(
        reverse("patients:evaluation_edit", args=[patient.pk, note.pk]),
        {"presenting_symptoms": "rewritten", "evaluation_date": THREE_DAYS_AGO},
        follow=True,
    )

    assert b"This evaluation is signed and locked. Add an addendum to correct it." in response.content
    assert Evaluation.objects.get(pk=note.pk).presenting_symptoms == note.presenting_symptoms


def test_addendum_to_a_signed_visit_note_keeps_author_and_time(client, patient, psychiatrist):
    note = factories.visit(patient, psychiatrist, signed=True)
    log_in(client, psychiatrist)

    client.post(reverse("appointments:visit_addendum", args=[patient.pk, note.pk]), {"text": "Dose was 50 mg."})

    addendum = note.addenda.get()
    assert (addendum.author, addendum.text) == (psychiatrist, "Dose was 50 mg.")
    detail = client.get(reverse("appointments:visit_detail", args=[patient.pk, note.pk]))
    assert b"Dose was 50 mg." in detail.content


def test_only_the_author_edits_or_signs_a_draft(client, patient, psychiatrist, psychiatrist2):
    patient.care_team.add(psychiatrist2)
    note = factories.visit(patient, psychiatrist)
    log_in(client, psychiatrist2)

    client.post(reverse("appointments:visit_sign", args=[patient.pk, note.pk]))
    response = client.get(reverse("appointments:visit_edit", args=[patient.pk, note.pk]), follow=True)

    assert VisitNote.objects.get(pk=note.pk).status == "draft"
    assert b"Only the author can edit a draft." in response.content


def test_shared_care_psychiatrist_can_read_the_chart(client, patient, psychiatrist2):
    patient.care_team.add(psychiatrist2)
    log_in(client, psychiatrist2)

    assert client.get(reverse("patients:chart", args=[patient.pk])).status_code == 200


def test_reports_reviewed_in_a_visit_are_acknowledged(client, patient, psychiatrist):
    report = factories.report(patient)
    log_in(client, psychiatrist)

    client.post(
        reverse("appointments:visit_create", args=[patient.pk]),
        {
            "visit_at": f"{timezone.localdate():%Y-%m-%d}T10:00",
            "modality": "telehealth",
            "patient_location_state": "NY",
            "interval_history": "Nausea discussed.",
            "adherence": "as_prescribed",
            "side_effects_reviewed": [report.pk],
        },
    )

    visit = VisitNote.objects.get()
    assert list(visit.side_effects_reviewed.all()) == [report]
    report.refresh_from_db()
    assert report.acknowledged_by == psychiatrist


def test_outside_clinician_is_added_to_the_chart(client, patient, psychiatrist):
    log_in(client, psychiatrist)

    client.post(
        reverse("patients:care_contact_create", args=[patient.pk]),
        {"kind": "therapist", "name": "Robin Ashdown", "organisation": "Northside Counselling",
         "phone": "", "email": "", "consent_to_share": "on"},
    )  # fmt: skip

    chart = client.get(reverse("patients:chart", args=[patient.pk])).content.decode()
    assert "Therapist / counsellor: Robin Ashdown, Northside Counselling" in chart
