"""Clinic metrics (issue 24, docs/metrics.md): every figure checked against a small data set whose
answers are worked out by hand below, the page and CSV for both personas, the range form's errors,
and the query count (the same for a small and a larger clinic).

The clock is frozen on Wednesday 10 June 2026, 12:00 New York; the range is Monday 1 June to
Sunday 7 June 2026 (clinic time, America/New_York); the clinic promises answers within 2 business
days; a late cancel is one less than 24 hours before the start (the default setting).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import zoneinfo

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from appointments.models import Appointment, WaitlistEntry
from clinic import contact, metrics, metrics_count
from clinic.models import Alert, AuditEvent, ClinicProfile, MetricsDay, Notification, PsychiatristMetricsDay
from medications import due as due_lists
from medications.models import DueEntry
from patients import questionnaires
from tests import factories
from tests.helpers import caseload_facts_against_the_records, first_responses_against_the_messages, log_in

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
NOW = datetime.datetime(2026, 6, 10, 12, 0, tzinfo=NY)
FIRST, LAST = datetime.date(2026, 6, 1), datetime.date(2026, 6, 7)
RANGE = {"first_day": "2026-06-01", "last_day": "2026-06-07"}
# Query budget of the page (docs/performance.md: every page at most 15).
BUDGET = 15


def at(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=NY)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def clinic(db):
    return ClinicProfile.objects.create(
        name="Metrics clinic", phone="+16175550100", time_zone="America/New_York", response_business_days=2
    )


def visit(patient, psychiatrist, kind, start, status="completed", **fields):
    return factories.AppointmentFactory(
        patient=patient,
        psychiatrist=psychiatrist,
        appointment_type=kind,
        start=start,
        status=status,
        booked_by=psychiatrist,
        **fields,
    )


def reminder(appointment, channel, status, n=0):
    return factories.visit_reminder(appointment, channel, status, hours_before=48 - n)


class World:
    """The hand-computed data set (see each builder's comments)."""


@pytest.fixture
def world(clock, clinic, psychiatrist, psychiatrist2):
    w = World()
    w.a, w.b = psychiatrist, psychiatrist2
    mk = factories.PatientFactory
    w.p1, w.p2, w.p3 = (mk(user=factories.PatientUserFactory(), primary_psychiatrist=w.a) for _ in range(3))
    w.p4 = mk(user=None, primary_psychiatrist=w.a, is_active=False)
    w.q1 = mk(user=factories.PatientUserFactory(), primary_psychiatrist=w.b)
    follow_up = factories.AppointmentTypeFactory(name="Follow-up")
    intake = factories.AppointmentTypeFactory(name="Intake")
    email, sms, in_app = Notification.Channel.EMAIL, Notification.Channel.SMS, Notification.Channel.IN_APP
    sent, failed = Notification.Status.SENT, Notification.Status.FAILED

    # Visits (psychiatrist A unless said), with their delivered or failed reminders:
    #  v1 Follow-up Mon 10:00 completed, confirmed   email sent, SMS sent
    #  v2 Follow-up Mon 11:00 completed              email sent, a second email failed
    #  v3 Follow-up Tue 10:00 no-show                email sent, SMS failed
    #  v4 Follow-up Tue 11:00 cancelled 3 h before   SMS sent                 (late cancel)
    #  v5 Follow-up Wed 10:00 cancelled 72 h before  email cancelled          (cancelled in time)
    #  v6 Intake    Wed 11:00 completed, confirmed   in-app sent
    #  v7 Intake    Thu 10:00 no-show                none
    #  v8 Intake    Thu 11:00 still "scheduled"      email skipped             (not marked)
    #  v9 Follow-up Fri 10:00 completed, confirmed   email sent               (psychiatrist B)
    #  outside the range: Sun 31 May no-show, Mon 8 June completed
    v1 = visit(w.p1, w.a, follow_up, at(1, 10), confirmed_at=at(1, 8))
    v2 = visit(w.p2, w.a, follow_up, at(1, 11))
    v3 = visit(w.p3, w.a, follow_up, at(2, 10), status="no_show")
    v4 = visit(w.p1, w.a, follow_up, at(2, 11), status="cancelled", cancelled_at=at(2, 8))
    v5 = visit(
        w.p2, w.a, follow_up, at(3, 10), status="cancelled", cancelled_at=at(3, 10) - datetime.timedelta(hours=72)
    )
    v6 = visit(w.p3, w.a, intake, at(3, 11), confirmed_at=at(2, 9))
    visit(w.p1, w.a, intake, at(4, 10), status="no_show")
    v8 = visit(w.p2, w.a, intake, at(4, 11), status="scheduled")
    v9 = visit(w.q1, w.b, follow_up, at(5, 10), confirmed_at=at(4, 9))
    visit(w.p3, w.a, follow_up, at(31, 10, month=5), status="no_show")
    visit(w.p3, w.a, follow_up, at(8, 10))
    reminder(v1, email, sent), reminder(v1, sms, sent)
    reminder(v2, email, sent), reminder(v2, email, failed, n=46)
    reminder(v3, email, sent), reminder(v3, sms, failed)
    reminder(v4, sms, sent)
    reminder(v5, email, Notification.Status.CANCELLED)
    reminder(v6, in_app, sent)
    reminder(v8, email, Notification.Status.SKIPPED)
    reminder(v9, email, sent)

    # Side-effect reports of A's patients (first response = acknowledgement or first staff reply):
    #  r1 Mon 09:00, acknowledged Mon 13:00                     4 h   deadline Wed 3  within
    #  r2 Fri 16:00, staff reply Tue 9 June 10:00              90 h   deadline Tue 9  within
    #  r3 Tue 10:00, reply Tue 12:00, acknowledged Fri 10:00    2 h   deadline Thu 4  within
    #  r4 Wed 10:00, never answered                             -     deadline Fri 5  missed (past)
    #  r5 Mon 08:00, acknowledged Thu 14:00                    78 h   deadline Wed 3  missed
    # and one of B's patient (Tue, answered in 1 h): the clinic's figures only.
    # Written through the paths that record the first response (side_effects.acknowledge, a staff
    # message through messaging.send) with the clock at each moment: r3's reply, written after its
    # later acknowledgement, moves its first response earlier.
    def report(patient, created, acknowledged=None, reply=None):
        row = factories.past_report(patient, created, acknowledged)
        if reply is not None:
            factories.past_message(factories.past_thread(patient, created, report=row), w.a, reply, "Seen.")
        return row

    report(w.p1, at(1, 9), acknowledged=at(1, 13))
    report(w.p2, at(5, 16), reply=at(9, 10))
    report(w.p3, at(2, 10), acknowledged=at(5, 10), reply=at(2, 12))
    report(w.p1, at(3, 10))
    report(w.p2, at(1, 8), acknowledged=at(4, 14))
    report(w.q1, at(2, 10), acknowledged=at(2, 11))

    # Conversations started by A's patients (first response = first staff message):
    #  m1 Tue 09:00, reply Tue 15:00                   6 h   deadline Thu 4   within
    #  m2 Sat 12:00, reply Tue 9 June 09:00           69 h   deadline Tue 9   within (from Friday)
    #  m3 Thu 10:00, no reply                          -     deadline Mon 8   missed (past)
    #  m4 Wed, started by the psychiatrist: not a patient's request, not counted
    def conversation(patient, created, reply=None, by=None):
        thread = factories.past_thread(patient, created, by=by)
        factories.past_message(thread, by or patient.user, created, "Hi")
        if reply is not None:
            factories.past_message(thread, w.a, reply)

    conversation(w.p1, at(2, 9), reply=at(2, 15))
    conversation(w.p2, at(6, 12), reply=at(9, 9))
    conversation(w.p3, at(4, 10))
    conversation(w.p1, at(3, 10), reply=at(3, 11), by=w.a)

    # Safety alerts of A's patients: emergency acknowledged after 12 and 90 minutes (the second
    # escalated first), urgent one open and one acknowledged after 30 minutes.
    def alert(patient, level, created, minutes=None, escalated=False):
        Alert.objects.create(
            patient=patient,
            level=level,
            created_at=created,
            escalate_after=created + datetime.timedelta(hours=1),
            acknowledged_at=created + datetime.timedelta(minutes=minutes) if minutes is not None else None,
            escalated_at=created + datetime.timedelta(hours=1) if escalated else None,
        )

    alert(w.p1, "emergency", at(1, 10), minutes=12)
    alert(w.p2, "emergency", at(2, 10), minutes=90, escalated=True)
    alert(w.p3, "urgent", at(3, 10))
    alert(w.p1, "urgent", at(4, 10), minutes=30)

    # Caseload of A (active: p1, p2, p3; p4 inactive). Coverage window: the 90 days before the
    # range's end (8 June 00:00), i.e. from 10 March.
    #  p1 PHQ-9 on 1 June (covered); p2 GAD-7 on 1 February (too old); p3 nothing; p4 PHQ-9 (inactive)
    #  overdue as of 10 June: p1 a lab (since 1 June), p2 a review (since 1 May), p2's lab is not
    #  overdue before 20 June; p4's overdue lab does not count (inactive)
    # Submitted with the clock at each moment, so Patient.last_measured_at is what submit records.
    with time_machine.travel(at(1, 9), tick=False):
        factories.submit_phq9(w.p1, 1)
        factories.submit_phq9(w.p4, 1, by=w.a)
    with time_machine.travel(at(1, 9, month=2), tick=False):
        questionnaires.submit(
            patient=w.p2,
            instrument="gad7",
            answers={str(n): 1 for n in range(1, 8)},
            completed_by=w.p2.user,
            context="portal",
        )

    def due(patient, kind, overdue_from):
        DueEntry.objects.create(
            patient=patient, kind=kind, code="X", label="Item", due_on=overdue_from, show_from=overdue_from,
            overdue_from=overdue_from,
        )  # fmt: skip

    DueEntry.objects.all().delete()  # what the questionnaires' commits computed: replaced by these
    due(w.p1, DueEntry.Kind.LAB, datetime.date(2026, 6, 1))
    due(w.p2, DueEntry.Kind.REVIEW, datetime.date(2026, 5, 1))
    due(w.p2, DueEntry.Kind.LAB, datetime.date(2026, 6, 20))
    due(w.p4, DueEntry.Kind.LAB, datetime.date(2026, 6, 1))
    due_lists.summarise([w.p1.pk, w.p2.pk, w.p3.pk, w.p4.pk, w.q1.pk])  # as medications.due.refresh does

    # Waitlist of A: one slot filled on Wed 3 June, one filled after the range, one waiting.
    def entry(patient, status, offer_start=None):
        offer_end = offer_start + datetime.timedelta(minutes=30) if offer_start else None
        WaitlistEntry.objects.create(
            patient=patient, psychiatrist=w.a, appointment_type=follow_up, wanted_before=at(30, 9),
            status=status, offer_start=offer_start, offer_end=offer_end,
        )  # fmt: skip

    entry(w.p1, WaitlistEntry.Status.BOOKED, at(3, 14))
    entry(w.p2, WaitlistEntry.Status.BOOKED, at(9, 14))
    entry(w.p3, WaitlistEntry.Status.WAITING)
    entry(w.p2, WaitlistEntry.Status.CANCELLED)
    return w


def figures(psychiatrist=None) -> metrics.Metrics:
    return metrics.compute(metrics.Scope(first_day=FIRST, last_day=LAST, psychiatrist=psychiatrist))


def test_visits_by_type_for_the_clinic(world):
    f = figures()
    by_type = {row.label: row for row in f.by_type}
    # Follow-up: v1 v2 v3 v4 v5 v9; booked = 6 - 1 cancelled in time (v5) = 5; completed v1 v2 v9 = 3;
    # no-show v3 = 1 -> 1/5 = 20.0 %; late cancel v4 = 1 -> 20.0 %.
    follow = by_type["Follow-up"]
    assert (follow.booked, follow.completed, follow.no_show, follow.late_cancel, follow.early_cancel) == (5, 3, 1, 1, 1)
    assert (follow.no_show_rate, follow.late_cancel_rate) == (20.0, 20.0)
    # Intake: v6 v7 v8; booked 3; completed v6; no-show v7 -> 1/3 = 33.3 %; v8 not marked; no late cancel.
    intake = by_type["Intake"]
    assert (intake.booked, intake.completed, intake.no_show, intake.late_cancel, intake.unmarked) == (3, 1, 1, 0, 1)
    assert (intake.no_show_rate, intake.late_cancel_rate) == (33.3, 0.0)
    # All: booked 5 + 3 = 8; completed 4; no-shows 2 -> 25.0 %; late cancels 1 -> 12.5 %.
    assert (f.visits.booked, f.visits.completed, f.visits.no_show, f.visits.late_cancel) == (8, 4, 2, 1)
    assert (f.visits.no_show_rate, f.visits.late_cancel_rate) == (25.0, 12.5)


def test_visits_by_reminder_channel_and_confirmation(world):
    by = {row.channel: row for row in figures().by_channel}
    # Email delivered: v1 v2 v3 v9 (v5 cancelled in time is not booked; v8's was skipped) = 4;
    # no-show v3 -> 25.0 %; confirmed v1 v9 -> 2/4 = 50.0 %.
    assert (by["email"].booked, by["email"].no_show, by["email"].late_cancel, by["email"].confirmed) == (4, 1, 0, 2)
    assert (by["email"].no_show_rate, by["email"].confirmation_rate) == (25.0, 50.0)
    # SMS delivered: v1 v4 (v3's failed) = 2; late cancel v4 -> 50.0 %; confirmed v1 -> 50.0 %.
    assert (by["sms"].booked, by["sms"].no_show, by["sms"].late_cancel, by["sms"].confirmed) == (2, 0, 1, 1)
    assert (by["sms"].late_cancel_rate, by["sms"].confirmation_rate) == (50.0, 50.0)
    # In-app: v6, confirmed -> 100.0 %.
    assert (by["in_app"].booked, by["in_app"].confirmed, by["in_app"].confirmation_rate) == (1, 1, 100.0)
    # Any channel: v1 v2 v3 v4 v6 v9 = 6; confirmed v1 v6 v9 = 3 -> 50.0 %.
    assert (by["any"].booked, by["any"].confirmed, by["any"].confirmation_rate) == (6, 3, 50.0)
    # None delivered: v7 v8 = 2; no-show v7 -> 50.0 %.
    assert (by["none"].booked, by["none"].no_show, by["none"].no_show_rate) == (2, 1, 50.0)


def test_reminder_delivery(world):
    f = figures()
    by = {row.channel: row for row in f.delivery}
    # Email: sent v1 v2 v3 v9 = 4, failed v2's second = 1, cancelled v5, skipped v8 -> 7 planned;
    # delivery = 4 / (4 + 1) = 80.0 %.
    email = by["email"]
    assert (email.planned, email.sent, email.failed, email.skipped, email.cancelled) == (7, 4, 1, 1, 1)
    assert email.delivery_rate == 80.0
    # SMS: sent v1 v4, failed v3 -> 2/3 = 66.7 %. In-app: v6 -> 100.0 %.
    assert (by["sms"].planned, by["sms"].sent, by["sms"].failed, by["sms"].delivery_rate) == (3, 2, 1, 66.7)
    assert (by["in_app"].planned, by["in_app"].delivery_rate) == (1, 100.0)
    # All: 11 planned, 7 sent, 2 failed -> 7/9 = 77.8 %.
    total = f.delivery_total
    assert (total.planned, total.sent, total.failed, total.delivery_rate) == (11, 7, 2, 77.8)


def test_a_psychiatrists_figures_leave_out_their_colleagues(world):
    f = figures(world.a)
    # v9 is B's: A's Follow-up is v1..v5, booked 4, completed 2, no-show 1 -> 25.0 %.
    follow = {row.label: row for row in f.by_type}["Follow-up"]
    assert (follow.booked, follow.completed, follow.no_show, follow.no_show_rate) == (4, 2, 1, 25.0)
    # The clinic has B's report too: 6 received; A's 5.
    assert figures().reports.received == 6
    assert f.reports.received == 5
    # B's email reminder of v9 is not A's: 6 emails.
    assert {row.channel: row.planned for row in f.delivery}["email"] == 6


def test_time_to_first_response(world):
    f = figures(world.a)
    reports = f.reports
    # Hours [4, 90, 2, 78] sorted [2, 4, 78, 90]: median (4 + 78) / 2 = 41.0;
    # 90th percentile at rank 3 x 0.9 = 2.7: 78 + 0.7 x (90 - 78) = 86.4.
    assert (reports.received, reports.answered, reports.waiting) == (5, 4, 1)
    assert (reports.median_hours, reports.p90_hours) == (41.0, 86.4)
    # Within 2 business days: r1 r2 r3 = 3 of 5 due (r4's day has passed) -> 60.0 %.
    assert (reports.within_promise, reports.promise_due, reports.within_promise_rate) == (3, 5, 60.0)
    messages = f.messages
    # Hours [6, 69]: median 37.5; 90th percentile 6 + 0.9 x 63 = 62.7; within: m1 m2 = 2 of 3 -> 66.7 %.
    assert (messages.received, messages.answered, messages.waiting) == (3, 2, 1)
    assert (messages.median_hours, messages.p90_hours) == (37.5, 62.7)
    assert (messages.within_promise, messages.promise_due, messages.within_promise_rate) == (2, 3, 66.7)
    # The whole clinic's conversations are found another way (not started by a staff user): m4,
    # which the psychiatrist started, is left out there too; B's patient started none.
    clinic = figures().messages
    assert (clinic.received, clinic.answered, clinic.median_hours) == (3, 2, 37.5)


def test_safety_alerts(world):
    by = {row.label: row for row in figures(world.a).alerts}
    # Emergency: 12 and 90 minutes -> median 51.0; 90th percentile 12 + 0.9 x 78 = 82.2; one escalated.
    emergency = by["Emergency"]
    assert (emergency.raised, emergency.acknowledged, emergency.escalated, emergency.open) == (2, 2, 1, 0)
    assert (emergency.median_minutes, emergency.p90_minutes) == (51.0, 82.2)
    # Urgent: one open, one acknowledged in 30 minutes.
    urgent = by["Urgent"]
    assert (urgent.raised, urgent.acknowledged, urgent.open, urgent.median_minutes, urgent.p90_minutes) == (
        2, 1, 1, 30.0, 30.0,
    )  # fmt: skip


def test_caseload_and_waitlist(world):
    f = figures(world.a)
    # Active p1 p2 p3 = 3; covered p1 -> 1/3 = 33.3 %; overdue lab p1 -> 33.3 %; overdue review p2 -> 33.3 %.
    load = f.caseload
    assert (load.active, load.measured, load.labs_overdue, load.reviews_overdue) == (3, 1, 1, 1)
    assert (load.coverage_rate, load.labs_overdue_rate, load.reviews_overdue_rate) == (33.3, 33.3, 33.3)
    # Filled: the slot of Wed 3 June (9 June is after the range); waiting now: p3.
    assert (f.waitlist.filled, f.waitlist.waiting_now) == (1, 1)


def test_the_world_was_recorded_as_its_records_say(world):
    """The facts the figures read (first responses, last measured, first overdue days) were
    recorded by the write paths the world went through, and agree with the rows themselves."""
    assert first_responses_against_the_messages() == ({}, {})
    assert caseload_facts_against_the_records() == {}


def test_coverage_of_a_range_ending_now_reads_the_recorded_date(world):
    # To today (10 June, the range ending now): the window starts 12 March; p1's PHQ-9 of 1 June
    # counts, p2's GAD-7 of 1 February does not -> 1 of 3; the same with the probe of each
    # patient's responses (a range that ended earlier).
    scope = metrics.Scope(first_day=FIRST, last_day=datetime.date(2026, 6, 10), psychiatrist=world.a)
    assert scope.end == scope.now
    load = metrics.caseload(scope)
    assert (load.active, load.measured, load.labs_overdue, load.reviews_overdue) == (3, 1, 1, 1)
    probed = metrics.Scope(first_day=FIRST, last_day=LAST, psychiatrist=world.a, now=NOW + datetime.timedelta(days=1))
    assert metrics.caseload(probed).measured == 1


def test_coverage_of_an_earlier_range_is_not_moved_by_a_later_questionnaire(world):
    # p3 fills in a PHQ-9 on 9 June, after the range (1-7 June): its last_measured_at is 9 June,
    # yet for the range p3 was not measured; today p3 is.
    with time_machine.travel(at(9, 9), tick=False):
        factories.submit_phq9(world.p3, 1)
    assert metrics.caseload(metrics.Scope(first_day=FIRST, last_day=LAST, psychiatrist=world.a)).measured == 1
    today = metrics.Scope(first_day=FIRST, last_day=datetime.date(2026, 6, 10), psychiatrist=world.a)
    assert metrics.caseload(today).measured == 2
    assert caseload_facts_against_the_records() == {}


def test_promise_deadline_counts_business_days():
    # Mon + 2 = Wed; Thu + 2 = Mon; Fri + 2 = Tue; Sat and Sun count from Friday: Tue.
    assert metrics.promise_deadline(datetime.date(2026, 6, 1), 2) == datetime.date(2026, 6, 3)
    assert metrics.promise_deadline(datetime.date(2026, 6, 4), 2) == datetime.date(2026, 6, 8)
    assert metrics.promise_deadline(datetime.date(2026, 6, 5), 2) == datetime.date(2026, 6, 9)
    assert metrics.promise_deadline(datetime.date(2026, 6, 6), 2) == datetime.date(2026, 6, 9)
    assert metrics.promise_deadline(datetime.date(2026, 6, 7), 2) == datetime.date(2026, 6, 9)


def test_late_cancel_hours_is_a_setting(world, settings):
    # With 2 hours, v4 (cancelled 3 h before) is cancelled in time: Follow-up booked 4, no late cancel.
    settings.TITRATE_LATE_CANCEL_HOURS = 2
    follow = {row.label: row for row in figures().by_type}["Follow-up"]
    assert (follow.booked, follow.late_cancel, follow.early_cancel) == (4, 0, 2)


# -- The pages --------------------------------------------------------------------------------


def test_admin_page_shows_the_figures_and_audits_the_range(client, world, clinic_admin):
    log_in(client, clinic_admin)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = client.get(reverse("clinic_metrics"), RANGE)

    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-metric="completed">4<' in body
    assert 'data-metric="no_show_rate">25.0 %<' in body
    assert "metrics-chart-data" in body and "chartjs-4.6.1/chart.umd.min.js" in body
    row = AuditEvent.objects.get(id__gt=last)
    assert (row.action, row.patient, row.actor) == ("view", None, clinic_admin)
    assert row.detail == {"page": "clinic_metrics", "first_day": "2026-06-01", "last_day": "2026-06-07"}


def test_admin_picks_a_psychiatrist(client, world, clinic_admin):
    log_in(client, clinic_admin)
    response = client.get(reverse("clinic_metrics"), {**RANGE, "psychiatrist": world.a.pk})
    assert response.context["figures"].scope.psychiatrist == world.a
    assert response.context["figures"].visits.booked == 7  # 8 less B's v9
    assert AuditEvent.objects.order_by("-id").first().detail["psychiatrist"] == world.a.pk


def test_the_psychiatrist_choice_is_a_plain_select_with_every_name_escaped(client, world, clinic_admin):
    world.b.last_name = "<b>Ortiz</b>"
    world.b.save()
    log_in(client, clinic_admin)
    body = client.get(reverse("clinic_metrics"), {**RANGE, "psychiatrist": world.a.pk}).content.decode()
    assert '<select name="psychiatrist" class="optionsinpython form-select" id="id_psychiatrist">' in body
    assert '<option value="">The whole clinic</option>' in body
    assert f'<option value="{world.a.pk}" selected>{world.a.get_full_name()}</option>' in body
    assert "&lt;b&gt;Ortiz&lt;/b&gt;" in body and "<b>Ortiz" not in body


@pytest.mark.parametrize("chosen", ["patient", "nobody", "text"])
def test_a_choice_that_is_no_psychiatrist_is_refused(client, world, clinic_admin, chosen):
    value = {"patient": world.p1.user.pk, "nobody": 999_999, "text": "x"}[chosen]
    log_in(client, clinic_admin)
    response = client.get(reverse("clinic_metrics"), {**RANGE, "psychiatrist": value})
    assert response.status_code == 200
    assert response.context["figures"] is None
    assert list(response.context["form"].errors) == ["psychiatrist"]
    assert 'value="2026-06-01"' in response.content.decode()  # what was typed is kept


def test_psychiatrist_sees_only_their_own(client, world):
    log_in(client, world.b)
    response = client.get(reverse("my_metrics"), {**RANGE, "psychiatrist": world.a.pk})
    # The psychiatrist field is not on their form: the id is ignored, the figures are B's own.
    assert response.context["figures"].scope.psychiatrist == world.b
    assert response.context["figures"].visits.booked == 1
    assert client.get(reverse("clinic_metrics"), RANGE).status_code == 403


def test_a_bad_range_keeps_the_input_and_shows_the_errors(client, world, clinic_admin):
    log_in(client, clinic_admin)
    response = client.get(reverse("clinic_metrics"), {"first_day": "2026-06-07", "last_day": "2026-06-01"})
    assert response.status_code == 200
    assert response.context["figures"] is None
    assert response.context["form"].errors == {"last_day": ["The end date is before the start date."]}
    body = response.content.decode()
    assert 'value="2026-06-07"' in body and 'value="2026-06-01"' in body
    future = client.get(reverse("clinic_metrics"), {"first_day": "2026-06-01", "last_day": "2026-07-01"})
    assert "last_day" in future.context["form"].errors  # an event range: not after today
    long = client.get(reverse("clinic_metrics"), {"first_day": "2024-01-01", "last_day": "2026-06-01"})
    assert long.context["form"].errors == {"last_day": [f"Choose at most {metrics.MAX_RANGE_DAYS} days."]}


def test_csv_has_the_page_numbers_and_is_audited(client, world, clinic_admin):
    log_in(client, clinic_admin)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = client.get(reverse("clinic_metrics_csv"), RANGE)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="titrate-metrics-clinic-20260601-20260607.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["section", "group", "measure", "value"]
    values = {(section, group, measure): value for section, group, measure, value in rows[1:]}
    assert values[("visits_by_type", "All types", "no_show_rate_pct")] == "25.0"
    assert values[("reminder_delivery", "All channels", "delivery_rate_pct")] == "77.8"
    assert values[("first_response", "Side-effect reports", "received")] == "6"
    row = AuditEvent.objects.get(id__gt=last)
    assert (row.action, row.patient, row.detail["page"]) == ("export", None, "clinic_metrics_csv")


def test_csv_cells_cannot_start_a_formula(client, world, clinic_admin):
    world_type = Appointment.objects.filter(psychiatrist=world.a).first().appointment_type
    type(world_type).objects.filter(pk=world_type.pk).update(name="=HYPERLINK(1)")
    log_in(client, clinic_admin)
    body = b"".join(client.get(reverse("clinic_metrics_csv"), RANGE).streaming_content).decode()
    assert "'=HYPERLINK(1)" in body
    assert "\n=HYPERLINK" not in body and ",=HYPERLINK" not in body


def test_csv_with_a_bad_range_is_refused(client, world):
    log_in(client, world.a)
    response = client.get(reverse("my_metrics_csv"), {"first_day": "2026-06-07", "last_day": "2026-06-01"})
    assert response.status_code == 400


# -- Cost -------------------------------------------------------------------------------------


def page_queries(client, url, params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return len(captured.captured_queries)


def test_the_page_costs_the_same_for_a_small_and_a_larger_clinic(
    client, world, clinic_admin, django_assert_max_num_queries
):
    log_in(client, clinic_admin)
    url = reverse("clinic_metrics")
    client.get(url, RANGE)  # the process-wide caches (content types, the clinic profile) filled
    small = page_queries(client, url, RANGE)
    # Ten times the visits, reports and conversations, and more patients.
    kind = factories.AppointmentTypeFactory(name="Extra")
    for n in range(40):
        patient = factories.PatientFactory(user=factories.PatientUserFactory(), primary_psychiatrist=world.a)
        v = visit(patient, world.a, kind, at(1 + n % 6, 13) + datetime.timedelta(minutes=30 * (n // 6)))
        reminder(v, "email", "sent")
        factories.past_report(patient, at(2, 10), at(2, 11))
    larger = page_queries(client, url, RANGE)

    assert larger == small
    # The page's queries: session, user, MFA check, the privacy-officer check of the navigation,
    # the psychiatrists of the form's choice, the content type of Appointment (cached after its
    # first look-up), the seven of clinic.metrics.compute and the audit row (chain head, insert).
    with django_assert_max_num_queries(BUDGET):
        client.get(url, RANGE)


def test_compute_runs_seven_queries(world, django_assert_num_queries):
    ContentType.objects.get_for_model(Appointment)  # Django caches it per process
    contact.clinic()  # cached in the shared cache
    # The nightly count's days (none here), then the six live counts.
    with django_assert_num_queries(7):
        figures()


def test_a_confirmation_is_kept_after_the_visit_is_completed(patient, psychiatrist):
    from appointments import booking

    with time_machine.travel(NOW, tick=False):
        appointment = visit(patient, psychiatrist, factories.AppointmentTypeFactory(), at(11, 10), status="scheduled")
        booking.set_status(appointment, Appointment.Status.CONFIRMED, by=patient.user)
    appointment.refresh_from_db()
    assert (appointment.status, appointment.confirmed_at) == ("confirmed", NOW)
    with time_machine.travel(at(11, 10, 30), tick=False):
        booking.set_status(appointment, Appointment.Status.CHECKED_IN, by=psychiatrist)
        booking.set_status(appointment, Appointment.Status.COMPLETED, by=psychiatrist)
    appointment.refresh_from_db()
    assert (appointment.status, appointment.confirmed_at) == ("completed", NOW)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL path exists on PostgreSQL only")
@pytest.mark.parametrize("promise_days", [0, 1, 2, 5])
def test_the_database_and_python_paths_agree(clock, clinic, psychiatrist, monkeypatch, promise_days):
    """PostgreSQL computes the response and alert figures itself (percentile_cont, the business-day
    rule in SQL); SQLite gets the rows and computes them in Python. Both on the same data, over
    every weekday, hours near midnight (a clinic-local Friday 23:30 is a Saturday in UTC), answered
    and unanswered requests, for several promises."""
    clinic.response_business_days = promise_days
    clinic.save()  # drops the cached profile
    patient = factories.PatientFactory(user=factories.PatientUserFactory(), primary_psychiatrist=psychiatrist)
    hours = [0, 7, 13, 23]
    delays = [None, 0.5, 5, 26, 49, 75, 170]
    for day in range(1, 8):
        for n, hour in enumerate(hours):
            asked = at(day, hour, 30)
            delay = delays[(day + n) % len(delays)]
            answered = asked + datetime.timedelta(hours=delay) if delay is not None else None
            factories.past_report(patient, asked, answered)
            thread = factories.past_thread(patient, asked)
            factories.past_message(thread, patient.user, asked, "Hi")
            if answered is not None:
                factories.past_message(thread, psychiatrist, answered)
            Alert.objects.create(
                patient=patient, level="emergency" if n % 2 else "urgent", created_at=asked,
                escalate_after=asked + datetime.timedelta(hours=1),
                acknowledged_at=asked + datetime.timedelta(minutes=7 * day + n) if delay is not None else None,
            )  # fmt: skip
    for who in (None, psychiatrist):
        scope = metrics.Scope(first_day=FIRST, last_day=LAST, psychiatrist=who)
        in_sql = (metrics.responses(scope), metrics.alerts(scope))
        monkeypatch.setattr(metrics, "in_database", lambda: False)
        in_python = (metrics.responses(scope), metrics.alerts(scope))
        monkeypatch.undo()
        assert in_sql == in_python
        assert in_sql[0][0].promise_days == promise_days
        assert in_sql[0][0].received == 28 and in_sql[0][0].answered == 24
        # The per-day counts of the nightly count and of today's live part, both ways.
        for by_psychiatrist in (False, True):
            in_sql_days = day_rows(scope, by_psychiatrist)
            monkeypatch.setattr(metrics, "in_database", lambda: False)
            in_python_days = day_rows(scope, by_psychiatrist)
            monkeypatch.undo()
            assert in_sql_days == in_python_days
            assert sum(row[2] for row in in_sql_days) == 56  # 28 reports and 28 conversations


def day_rows(scope, by_psychiatrist):
    rows = [[*row[:6], sorted(row[6]), *row[7:]] for row in metrics._request_day_rows(scope, by_psychiatrist)]
    return sorted(rows, key=lambda row: (row[0], row[1]))


# -- The nightly count (clinic.metrics_count) -------------------------------------------------


def as_counted(scope: metrics.Scope) -> dict:
    """Every figure of ``compute``, without the two fields that say which days were counted."""
    found = dataclasses.asdict(metrics.compute(scope))
    found.pop("counted_through"), found.pop("counted_at")
    return found


def as_live(scope: metrics.Scope) -> dict:
    found = dataclasses.asdict(metrics._live(scope))
    found.pop("counted_through"), found.pop("counted_at")
    return found


RANGES = [(FIRST, LAST), (FIRST, datetime.date(2026, 6, 10)), (datetime.date(2026, 6, 3), datetime.date(2026, 6, 9))]


def test_counted_days_give_the_figures_of_counting_live(world):
    assert metrics_count.count(30) == 30  # 11 May to 9 June, each day's figures stored
    assert MetricsDay.objects.count() == 30
    for who in (None, world.a, world.b):
        for first, last in RANGES:
            scope = metrics.Scope(first_day=first, last_day=last, psychiatrist=who)
            assert as_counted(scope) == as_live(scope), (who, first, last)
            counted = metrics.compute(scope)
            assert counted.counted_through == min(last, datetime.date(2026, 6, 9))
            assert counted.counted_at == NOW
    # Today (10 June) is never counted: the range to today adds it live.
    today = metrics.compute(metrics.Scope(first_day=FIRST, last_day=datetime.date(2026, 6, 10)))
    assert (today.counted_through, today.live_from) == (datetime.date(2026, 6, 9), datetime.date(2026, 6, 10))


def test_a_psychiatrist_has_a_row_only_on_days_with_something_of_theirs(world):
    metrics_count.count(30)
    # B: a report of B's patient on Tue 2 June, v9 on Fri 5 June (with its reminder).
    days = PsychiatristMetricsDay.objects.filter(psychiatrist=world.b).values_list("day_id", flat=True)
    assert sorted(days) == [datetime.date(2026, 6, 2), datetime.date(2026, 6, 5)]
    b = metrics.compute(metrics.Scope(first_day=FIRST, last_day=LAST, psychiatrist=world.b))
    assert (b.counted_through, b.visits.booked, b.reports.received) == (LAST, 1, 1)


def test_counted_figures_are_those_of_the_count_until_the_next_one(world):
    metrics_count.count(30)
    scope = metrics.Scope(first_day=FIRST, last_day=LAST)
    assert metrics.compute(scope).visits.unmarked == 1  # v8, Thu 4 June, still "scheduled"
    Appointment.objects.filter(start=at(4, 11)).update(status=Appointment.Status.NO_SHOW)
    # The page says the days up to 7 June are as counted at noon today: v8 is still not marked there.
    assert metrics.compute(scope).visits.unmarked == 1
    assert metrics._live(scope).visits.unmarked == 0
    with time_machine.travel(NOW + datetime.timedelta(minutes=5), tick=False):
        metrics_count.count(30)
        later = metrics.compute(metrics.Scope(first_day=FIRST, last_day=LAST))
    assert (later.visits.unmarked, later.visits.no_show) == (0, 3)


def test_a_day_counted_too_long_ago_or_under_other_settings_is_counted_live(world, settings):
    metrics_count.count(30)
    scope = metrics.Scope(first_day=FIRST, last_day=LAST)
    assert metrics.compute(scope).counted_through == LAST
    # A gap (4 June not counted): the days before it are read, the rest counted live.
    MetricsDay.objects.filter(day=datetime.date(2026, 6, 4)).delete()
    gap = metrics.compute(scope)
    assert (gap.counted_through, gap.live_from) == (datetime.date(2026, 6, 3), datetime.date(2026, 6, 4))
    assert as_counted(scope) == as_live(scope)
    # Older than TITRATE_METRICS_COUNT_MAX_AGE_HOURS (a missed night): all live.
    later = NOW + datetime.timedelta(hours=settings.TITRATE_METRICS_COUNT_MAX_AGE_HOURS, minutes=1)
    assert metrics.compute(metrics.Scope(first_day=FIRST, last_day=LAST, now=later)).counted_through is None
    # Another late-cancel rule, promise or time zone than the count's: all live, and right.
    settings.TITRATE_LATE_CANCEL_HOURS = 2
    assert metrics.compute(scope).counted_through is None
    assert {row.label: row for row in metrics.compute(scope).by_type}["Follow-up"].late_cancel == 0
    settings.TITRATE_LATE_CANCEL_HOURS = 24
    profile = ClinicProfile.objects.get()
    profile.response_business_days = 3
    profile.save()
    assert metrics.compute(metrics.Scope(first_day=FIRST, last_day=LAST)).counted_through is None
    profile.response_business_days, profile.time_zone = 2, "America/Chicago"
    profile.save()
    assert metrics.compute(metrics.Scope(first_day=FIRST, last_day=LAST)).counted_through is None


def test_the_count_forgets_days_before_its_window_and_counts_yesterday_first(world, django_assert_max_num_queries):
    MetricsDay.objects.create(
        day=datetime.date(2025, 1, 1), counted_at=NOW, time_zone="America/New_York", late_cancel_hours=24,
        promise_days=2, clinic=metrics.EMPTY_TALLY,
    )  # fmt: skip
    counted = []
    real = metrics_count.count_day
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(metrics_count, "count_day", lambda day: counted.append(day) or real(day))
        metrics_count.count(3)
    assert counted == [datetime.date(2026, 6, 9), datetime.date(2026, 6, 8), datetime.date(2026, 6, 7)]
    assert sorted(MetricsDay.objects.values_list("day", flat=True)) == counted[::-1]
    # A day: five counting queries, then in one transaction (two savepoint statements in a test)
    # the day's row upserted, its psychiatrists' rows replaced.
    ContentType.objects.get_for_model(Appointment)
    with django_assert_max_num_queries(10):
        metrics_count.count_day(datetime.date(2026, 6, 1))


def test_the_page_says_which_days_were_counted_and_stays_in_budget(client, world, clinic_admin):
    metrics_count.count(30)
    log_in(client, clinic_admin)
    url = reverse("clinic_metrics")
    to_today = {"first_day": "2026-06-01", "last_day": "2026-06-10"}
    client.get(url, to_today)
    body = client.get(url, to_today).content.decode()
    assert "Days up to Jun 9: as counted at Jun 10, 12:00" in body
    assert "From Jun 10: counted now." in body
    assert 'data-metric="completed">5<' in body  # and the visit of Mon 8 June
    assert page_queries(client, url, to_today) <= BUDGET
    rows = list(
        csv.reader(
            io.StringIO(b"".join(client.get(reverse("clinic_metrics_csv"), to_today).streaming_content).decode())
        )
    )
    values = {(section, measure): value for section, _group, measure, value in rows[1:]}
    assert values[("range", "counted_through")] == "2026-06-09"
    assert datetime.datetime.fromisoformat(values[("range", "counted_at")]) == NOW


def test_the_nightly_task_and_the_command_count(world, capsys):
    from django.core.management import call_command

    from clinic import schedules, tasks

    assert schedules.PERIODIC_TASKS["Count clinic metrics"]["task"] == "clinic.tasks.count_metrics"
    tasks.count_metrics()
    assert MetricsDay.objects.count() == metrics.MAX_RANGE_DAYS
    call_command("count_metrics", "--days", "2")
    assert "Counted 2 days." in capsys.readouterr().out
    assert MetricsDay.objects.count() == 2
    with pytest.raises(SystemExit):
        call_command("count_metrics", "--days", "0")
