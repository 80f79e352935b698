"""The facts the clinic metrics read, filled for what was written before they were recorded
(medications/migrations/0025, patients/migrations/0017, issue 24): each report's first response (the
earlier of its acknowledgement and its thread's first care-team message), each conversation's,
each patient's last PHQ-9/GAD-7 and first overdue days. Runs on PostgreSQL, as production does;
ends at the newest migrations."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import PatientFactory, PatientUserFactory
from tests.helpers import caseload_facts_against_the_records, first_responses_against_the_messages, require_service

BEFORE = [("medications", "0025_i23rx_reload_formulary"), ("patients", "0016_i22i18n_preferred_language")]
AFTER = [("medications", "0026_i24mx_first_response")]


@pytest.mark.services
def test_the_facts_are_filled_from_the_rows_written_before(migrator):
    require_service("PostgreSQL", connection.vendor == "postgresql")
    patient = PatientFactory(user=PatientUserFactory())
    doctor = patient.primary_psychiatrist
    old = migrator(BEFORE)
    Report = old.get_model("medications", "SideEffectReport")
    Thread = old.get_model("medications", "MessageThread")
    Message = old.get_model("medications", "Message")
    Response = old.get_model("patients", "QuestionnaireResponse")
    DueEntry = old.get_model("medications", "DueEntry")
    t0 = timezone.now() - datetime.timedelta(days=10)

    def at(hours):
        return t0 + datetime.timedelta(hours=hours)

    def report(acknowledged=None):
        return Report.objects.create(
            patient_id=patient.pk, symptoms=["nausea"], severity="mild", onset_date=t0.date(),
            reported_by_id=patient.user_id, created_at=t0, acknowledged_at=acknowledged,
        )  # fmt: skip

    def thread(report=None):
        return Thread.objects.create(
            patient_id=patient.pk, kind="patient", category="medication", subject="Q", created_by_id=patient.user_id,
            created_at=t0, last_message_at=t0, side_effect_report=report,
        )  # fmt: skip

    def message(thread, hours, staff=True):
        Message.objects.create(
            thread=thread, author_id=doctor.pk if staff else patient.user_id, from_patient=not staff, text="x",
            created_at=at(hours),
        )  # fmt: skip

    acknowledged_first = report(acknowledged=at(2))
    message(thread(acknowledged_first), 5)
    replied_first = report(acknowledged=at(9))
    replied = thread(replied_first)
    message(replied, 1, staff=False)
    message(replied, 3)
    report()  # never answered
    conversation = thread()
    message(conversation, 0, staff=False)
    message(conversation, 7)
    message(conversation, 8)
    for hours, instrument in ((0, "phq9"), (30, "gad7"), (60, "phq2")):
        Response.objects.create(
            patient_id=patient.pk, instrument=instrument, answers={}, total=0, band="none", completed_by_id=doctor.pk,
            context="visit", submitted_at=at(hours),
        )  # fmt: skip
    DueEntry.objects.create(
        patient_id=patient.pk, kind="lab", code="X", label="Item", due_on=t0.date(), show_from=t0.date(),
        overdue_from=t0.date(),
    )  # fmt: skip

    new = migrator(AFTER)
    reports = dict(new.get_model("medications", "SideEffectReport").objects.values_list("pk", "first_response_at"))
    assert reports == {acknowledged_first.pk: at(2), replied_first.pk: at(3), replied_first.pk + 1: None}
    threads = new.get_model("medications", "MessageThread").objects
    assert threads.get(pk=conversation.pk).first_response_at == at(7)
    stored = new.get_model("patients", "Patient").objects.get(pk=patient.pk)
    assert (stored.last_measured_at, stored.lab_overdue_from, stored.review_overdue_from) == (at(30), t0.date(), None)
    # The same as the rule applied to the rows by the tests' own reading of docs/metrics.md.
    assert first_responses_against_the_messages() == ({}, {})
    assert caseload_facts_against_the_records() == {}
