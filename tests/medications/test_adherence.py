"""Patient-reported adherence (issue 20, item 3): the weekly check-in, its trend on the chart, the
visit note's interval history, the reminder through the outbox and persistent non-adherence on
the psychiatrist home."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent, Notification
from medications import adherence
from medications.models import AdherenceAnswer, AdherenceCheckIn
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

CHECK_IN = reverse("medications:my_adherence")


@pytest.fixture
def two_rx(patient, psychiatrist):
    return (
        factories.start(patient, psychiatrist, drug="sertraline"),
        factories.start(patient, psychiatrist, drug="lithium", dose="300", strength="300", frequency="bid"),
    )


def answer(patient, rxs, missed=(0, 0), reasons=((), ())):
    return adherence.submit(
        patient, {rx.pk: (m, list(r)) for rx, m, r in zip(rxs, missed, reasons, strict=True)}, by=patient.user
    )


def test_a_patient_answers_per_medicine_with_reasons(client, patient, two_rx):
    sertraline, lithium = two_rx
    log_in(client, patient.user)
    page = client.get(CHECK_IN).content.decode()
    assert "how many days did you miss a dose of sertraline?" in page and "of lithium?" in page
    data = {f"missed_{sertraline.pk}": "2", f"reasons_{sertraline.pk}": ["forgot", "cost"], f"missed_{lithium.pk}": "0"}
    assert client.post(CHECK_IN, data).status_code == 302
    check_in = AdherenceCheckIn.objects.get()
    got = {a.prescription_id: (a.missed_days, a.reasons) for a in check_in.answers.all()}
    assert got == {sertraline.pk: (2, ["cost", "forgot"]), lithium.pk: (0, [])}
    assert AuditEvent.objects.filter(action="create", object_type="medications.AdherenceCheckIn").count() == 1


def test_reasons_with_no_missed_dose_are_refused_and_the_answers_kept(client, patient, two_rx):
    sertraline, lithium = two_rx
    log_in(client, patient.user)
    data = {f"missed_{sertraline.pk}": "0", f"reasons_{sertraline.pk}": ["forgot"], f"missed_{lithium.pk}": "3"}
    response = client.post(CHECK_IN, data)
    assert response.status_code == 200
    assert "You said you missed no doses" in response.content.decode()
    assert response.context["form"][f"missed_{lithium.pk}"].value() == "3"  # kept, shown checked
    assert AdherenceCheckIn.objects.count() == 0


def test_a_missing_answer_is_refused(client, patient, two_rx):
    sertraline, _ = two_rx
    log_in(client, patient.user)
    response = client.post(CHECK_IN, {f"missed_{sertraline.pk}": "1"})
    assert response.status_code == 200
    assert "Choose a number (0 if you missed none)." in response.content.decode()
    assert AdherenceCheckIn.objects.count() == 0


def test_one_check_in_per_window(client, patient, two_rx):
    answer(patient, two_rx)
    log_in(client, patient.user)
    assert "The next check-in opens on" in client.get(CHECK_IN).content.decode()
    with pytest.raises(Exception, match="already checked in"):
        answer(patient, two_rx)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=7, minutes=1)):
        answer(patient, two_rx)
    assert AdherenceCheckIn.objects.count() == 2


def test_the_check_in_is_a_trend_point_on_the_chart_with_the_cost_link(client, patient, psychiatrist, two_rx):
    sertraline, lithium = two_rx
    answer(patient, two_rx, missed=(2, 0), reasons=(("cost",), ()))
    log_in(client, psychiatrist)
    response = client.get(reverse("patients:chart", args=[patient.pk]))
    content = response.content.decode()
    assert content.count('class="adherence-point"') == 2  # one check-in, two medicines
    assert "2 of 7" in content and "Cost or coverage concern" in content
    assert f"/prescriptions/{sertraline.pk}/change/?reason=cost" in content


def test_the_chart_costs_the_same_with_many_check_ins(client, patient, psychiatrist, two_rx):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    answer(patient, two_rx)
    log_in(client, psychiatrist)
    url = reverse("patients:chart", args=[patient.pk])
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for week in range(1, 6):
        with time_machine.travel(timezone.now() + datetime.timedelta(days=7 * week, minutes=1)):
            answer(patient, two_rx, missed=(week % 3, 1))
    with CaptureQueriesContext(connection) as many:
        content = client.get(url).content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert content.count('class="adherence-point"') == 12


def test_the_visit_note_starts_with_the_check_ins_since_the_last_visit(client, patient, psychiatrist, two_rx):
    answer(patient, two_rx, missed=(3, 0), reasons=(("side_effects",), ()))
    log_in(client, psychiatrist)
    form = client.get(reverse("appointments:visit_create", args=[patient.pk])).content.decode()
    assert "Patient-reported adherence (1 check-in)" in form
    assert "sertraline missed 3 of 7 days (side effects)" in form


def backdated(patient, rxs, missed, days_ago):
    check_in = AdherenceCheckIn.objects.create(
        patient=patient, submitted_by=patient.user, submitted_at=timezone.now() - datetime.timedelta(days=days_ago)
    )
    for rx, m in zip(rxs, missed, strict=True):
        AdherenceAnswer.objects.create(check_in=check_in, prescription=rx, missed_days=m)


def test_persistent_non_adherence_shows_on_the_psychiatrist_home(client, patient, psychiatrist, two_rx):
    backdated(patient, two_rx, (3, 0), days_ago=8)
    log_in(client, psychiatrist)
    assert "Adherence — " not in client.get(reverse("psychiatrist_home")).content.decode()
    answer(patient, two_rx, missed=(0, 2))
    found = adherence.persistent_among([patient.pk])
    assert [(f.patient_id, f.worst_missed) for f in found] == [(patient.pk, 2)]
    home = client.get(reverse("psychiatrist_home")).content.decode()
    assert "Adherence — " in home and "missed up to 2 of 7 days" in home
    audit = AuditEvent.objects.filter(detail__page="psychiatrist_home").order_by("-pk").first()
    assert patient.pk in audit.detail["patient_ids"]


def test_one_bad_week_is_not_persistent(patient, two_rx):
    answer(patient, two_rx, missed=(0, 0))
    with time_machine.travel(timezone.now() + datetime.timedelta(days=7, minutes=1)):
        answer(patient, two_rx, missed=(5, 0))
        assert adherence.persistent_among([patient.pk]) == []


def test_the_reminder_goes_out_once_per_window_and_names_nothing(patient, two_rx):
    created = adherence.plan_reminders()
    assert created and {row.kind for row in created} == {Notification.Kind.ADHERENCE_DUE}
    assert adherence.plan_reminders() == []  # idempotent within the window
    answer(patient, two_rx)
    assert not Notification.objects.filter(kind="adherence_due", status__in=["pending", "enqueued"]).exists()
    with time_machine.travel(timezone.now() + datetime.timedelta(days=3)):
        assert adherence.plan_reminders() == []  # checked in this window
    with time_machine.travel(timezone.now() + datetime.timedelta(days=8)):
        assert len(adherence.plan_reminders()) >= 1


def test_no_reminder_without_a_medicine(patient):
    assert adherence.plan_reminders() == []


def test_a_patient_without_medicines_is_told_so(client, patient):
    log_in(client, patient.user)
    assert "nothing to check in about" in client.get(CHECK_IN).content.decode()


def test_query_budget(client, patient, two_rx, django_assert_max_num_queries):
    log_in(client, patient.user)
    # session, user, own record, last check-in, active prescriptions, audit (3)
    with django_assert_max_num_queries(9):
        assert client.get(CHECK_IN).status_code == 200
    assert AdherenceAnswer.objects.count() == 0
