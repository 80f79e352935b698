"""The care team's first response, recorded at write time (issue 24, docs/metrics.md "Time to first
response"): every path that writes a care-team reply or an acknowledgement records it on the
report and the thread in the same transaction, the earliest one wins, and nothing else moves it.
The clinic metrics read only these columns, so a path that forgot would be a wrong figure: each
path here ends with the recorded facts checked against the messages themselves."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from medications import messaging, side_effects, threads
from medications.models import MessageThread, SideEffectReport
from tests import factories
from tests.helpers import first_responses_against_the_messages, log_in

pytestmark = pytest.mark.django_db

MONDAY = datetime.datetime(2026, 6, 1, 9, 0, tzinfo=datetime.UTC)


def later(hours: float) -> datetime.datetime:
    return MONDAY + datetime.timedelta(hours=hours)


@pytest.fixture
def report(patient):
    return factories.past_report(patient, MONDAY)


def recorded(report: SideEffectReport) -> tuple:
    report.refresh_from_db()
    thread = MessageThread.objects.filter(side_effect_report=report).first()
    return report.first_response_at, thread.first_response_at if thread else None


def test_acknowledging_records_the_first_response(report, psychiatrist):
    with time_machine.travel(later(2), tick=False):
        side_effects.acknowledge(report, actor=psychiatrist)
    with time_machine.travel(later(5), tick=False):
        side_effects.acknowledge(report, actor=psychiatrist)  # already acknowledged: nothing moves
    assert recorded(report) == (later(2), None)
    assert first_responses_against_the_messages() == ({}, {})


def test_a_reply_records_it_on_the_report_and_its_thread(report, psychiatrist):
    with time_machine.travel(later(3), tick=False):
        side_effects.reply(report, actor=psychiatrist, text="Take it with food.")
    with time_machine.travel(later(4), tick=False):
        side_effects.reply(report, actor=psychiatrist, text="And drink water.")
    assert recorded(report) == (later(3), later(3))
    assert report.acknowledged_at == later(3)
    assert first_responses_against_the_messages() == ({}, {})


def test_a_message_in_the_reports_thread_records_it_without_acknowledging(report, patient, psychiatrist):
    """The thread page (messaging.send) answers a report without acknowledging it; it is still
    the report's first response, and a later acknowledgement does not move it."""
    thread = threads.report_thread(report)
    factories.past_message(thread, patient.user, later(1), "It is worse today.")
    assert recorded(report) == (None, None)  # the patient's own message is no response
    factories.past_message(thread, psychiatrist, later(6), "Please call us.")
    with time_machine.travel(later(8), tick=False):
        side_effects.acknowledge(report, actor=psychiatrist)
    report.refresh_from_db()
    assert report.acknowledged_at == later(8)
    assert recorded(report) == (later(6), later(6))
    assert first_responses_against_the_messages() == ({}, {})


def test_an_earlier_acknowledgement_stays_the_first_response(patient, psychiatrist):
    report = factories.past_report(patient, MONDAY, later(1))
    factories.past_message(threads.report_thread(report), psychiatrist, later(30))
    assert recorded(report) == (later(1), later(30))
    assert first_responses_against_the_messages() == ({}, {})


def test_a_conversation_records_the_first_care_team_message_only(patient, psychiatrist, psychiatrist2):
    thread = factories.past_thread(patient, MONDAY)
    factories.past_message(thread, patient.user, MONDAY, "Can I take it at night?")
    factories.past_message(thread, patient.user, later(1), "Anyone?")
    thread.refresh_from_db()
    assert thread.first_response_at is None
    factories.past_message(thread, psychiatrist, later(7))
    factories.past_message(thread, psychiatrist2, later(9))
    thread.refresh_from_db()
    assert thread.first_response_at == later(7)
    assert first_responses_against_the_messages() == ({}, {})


def test_a_care_team_note_records_nothing(patient, psychiatrist):
    with time_machine.travel(MONDAY, tick=False):
        note = messaging.start_thread(
            patient=patient, author=psychiatrist, kind="staff", category="medication", subject="Plan", text="Plan"
        )
    note.thread.refresh_from_db()
    assert note.thread.first_response_at is None
    assert first_responses_against_the_messages() == ({}, {})


def test_replies_committing_out_of_order_leave_the_earlier_time(report, psychiatrist):
    """Two replies whose transactions commit in the other order than their clocks: the conditional
    UPDATE keeps the earlier moment."""
    thread = threads.report_thread(report)
    threads.record_first_response(thread, at=later(5))
    stale = MessageThread.objects.get(pk=thread.pk)
    stale.first_response_at = None  # as loaded by a request that began before the first commit
    threads.record_first_response(stale, at=later(4))
    threads.record_first_response(thread, at=later(6))
    assert recorded(report) == (later(4), later(4))


def test_a_rolled_back_reply_records_nothing(report, psychiatrist):
    with pytest.raises(RuntimeError), transaction.atomic():
        side_effects.reply(report, actor=psychiatrist, text="Take it with food.")
        raise RuntimeError("the request failed after the reply")
    assert recorded(report) == (None, None)


# -- The pages that write them ------------------------------------------------------------------


def test_the_pages_record_it(client, patient, psychiatrist):
    acknowledged, replied, answered = (factories.past_report(patient, MONDAY) for _ in range(3))
    conversation = factories.past_thread(patient, MONDAY)
    factories.past_message(conversation, patient.user, MONDAY, "Can I take it at night?")
    log_in(client, psychiatrist)

    client.post(reverse("medications:report_acknowledge", args=[patient.pk, acknowledged.pk]))
    client.post(reverse("medications:report_detail", args=[patient.pk, replied.pk]), {"reply": "Take it with food."})
    client.post(reverse("medications:thread_detail", args=[threads.report_thread(answered).pk]), {"text": "Call us."})
    client.post(reverse("medications:thread_detail", args=[conversation.pk]), {"text": "Yes, at night."})

    for report in (acknowledged, replied, answered):
        report.refresh_from_db()
        assert report.first_response_at is not None and report.first_response_at <= timezone.now()
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None
    assert first_responses_against_the_messages() == ({}, {})
