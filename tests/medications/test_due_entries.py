"""The psychiatrist home's precomputed due lists (medications.DueEntry): the same items as the live
rules (monitoring.due_for_psychiatrist, reassessment.prescriptions_due_for_review) on every day,
kept current on commit of each input, and read in one query whatever the caseload."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clinic.access import patients_for
from clinic.models import AuditEvent
from medications import due, monitoring, prescribing, reassessment
from medications.models import ChangeReason, DueEntry
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def start(patient, psychiatrist, drug, dose, strength, frequency="qd", form="tablet", days_ago=0):
    return factories.start(
        patient, psychiatrist, drug, dose, strength, frequency, form=form,
        start_date=timezone.localdate() - days_ago * DAY,
    )  # fmt: skip


def lithium(patient, psychiatrist, days_ago=10):
    return start(patient, psychiatrist, "lithium", "300", "300", "bid", form="capsule (carbonate)", days_ago=days_ago)


def caseload(psychiatrist, count):
    """Patients with monitoring and reviews at different stages."""
    patients = []
    for n in range(count):
        patient = factories.PatientFactory(primary_psychiatrist=psychiatrist)
        lithium(patient, psychiatrist, days_ago=[3, 10, 40, 120, 400][n % 5])
        if n % 3 == 0:
            start(patient, psychiatrist, "sertraline", "50", "50", days_ago=[5, 35, 100][n % 9 // 3])
        if n % 4 == 1:
            monitoring.record_result(
                patient=patient, test_code="LITHIUM", value="0.7", unit="mmol/L",
                collected_on=timezone.localdate() - 2 * DAY, entered_by=psychiatrist,
            )  # fmt: skip
        if n % 5 == 2:
            factories.visit(patient, psychiatrist, signed=True, visit_at=timezone.now() - 20 * DAY)
        patients.append(patient)
    return patients


def stored(psychiatrist, today):
    return due.home_panels(patients_for(psychiatrist).active(), today)


def assert_same_as_live(psychiatrist, today):
    """Every item, on ``today``, as the live rules list it (the page limits lifted)."""
    scope = patients_for(psychiatrist).active()
    panels = due.home_panels(scope, today)
    live_labs = monitoring.due_for_psychiatrist(psychiatrist, today)
    live_reviews = reassessment.prescriptions_due_for_review(today, patients=scope)
    assert panels.lab_count == len(live_labs) == len(panels.labs)
    assert panels.review_count == len(live_reviews) == len(panels.reviews)
    assert {(e.patient_id, e.code, e.due_on, e.status, e.label) for e in panels.labs} == {
        (d.patient.pk, d.test.code, d.due_on, d.status, d.label) for d in live_labs
    }
    # Labs overdue first, then by due date, as the live list (ties may differ in order).
    assert [(e.status, e.due_on) for e in panels.labs] == [(d.status, d.due_on) for d in live_labs]
    assert [(r.prescription.pk, r.due_on, r.why, r.overdue) for r in panels.reviews] == [
        (r.prescription.pk, r.due_on, r.why, r.overdue) for r in live_reviews
    ]
    assert [r.prescription.medication.generic_name for r in panels.reviews] == [
        r.prescription.medication.generic_name for r in live_reviews
    ]
    return panels


def test_stored_lab_order_is_overdue_first_then_by_due_date(psychiatrist):
    caseload(psychiatrist, 10)
    due.rebuild()

    labs = stored(psychiatrist, timezone.localdate()).labs
    keys = [(e.status != "overdue", e.due_on) for e in labs]
    assert labs and keys == sorted(keys)
    assert {e.status for e in labs} <= {"overdue", "due"}


def test_entries_follow_each_write_on_commit(psychiatrist, django_capture_on_commit_callbacks):
    patient = factories.PatientFactory(primary_psychiatrist=psychiatrist)
    with django_capture_on_commit_callbacks(execute=True):
        rx = lithium(patient, psychiatrist, days_ago=10)
    codes = set(DueEntry.objects.filter(patient=patient, kind="lab").values_list("code", flat=True))
    assert "LITHIUM" in codes
    lithium_due = DueEntry.objects.get(patient=patient, kind="lab", code="LITHIUM")
    assert lithium_due.due_on <= timezone.localdate()

    # A level entered: the lithium item moves to its next date, computed as the rules say.
    with django_capture_on_commit_callbacks(execute=True):
        monitoring.record_result(
            patient=patient, test_code="LITHIUM", value="0.7", unit="mmol/L",
            collected_on=timezone.localdate(), entered_by=psychiatrist,
        )  # fmt: skip
    moved = DueEntry.objects.get(patient=patient, kind="lab", code="LITHIUM")
    live = {d.test.code: d for d in monitoring.due_items(patient)}
    assert moved.due_on == live["LITHIUM"].due_on > timezone.localdate()

    # Stopped: nothing left to monitor or review for that course.
    with django_capture_on_commit_callbacks(execute=True):
        prescribing.discontinue(
            rx, actor=psychiatrist, reason=ChangeReason.SIDE_EFFECT, abrupt_stop_justification="Toxicity"
        )
    assert not DueEntry.objects.filter(patient=patient).exists()


def test_a_rolled_back_write_leaves_the_entries_alone(psychiatrist, django_capture_on_commit_callbacks):
    from django.db import transaction

    patient = factories.PatientFactory(primary_psychiatrist=psychiatrist)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        lithium(patient, psychiatrist)
        raise RuntimeError
    assert callbacks == [] and not DueEntry.objects.exists()


def test_rebuild_command_and_hourly_planner_fill_the_table(psychiatrist):
    from medications import tasks

    caseload(psychiatrist, 3)
    assert not DueEntry.objects.exists()  # factory writes commit nothing inside a test transaction

    out = io.StringIO()
    call_command("rebuild_due_entries", stdout=out)
    assert "due entries for all patients" in out.getvalue()
    after_command = sorted(DueEntry.objects.values_list("patient_id", "kind", "code", "due_on"))
    DueEntry.objects.all().delete()
    tasks.plan_lab_reminders()
    assert after_command and sorted(DueEntry.objects.values_list("patient_id", "kind", "code", "due_on")) == (
        after_command
    )


@pytest.mark.parametrize("size", [3, 30])
def test_home_query_count_is_the_same_for_3_and_30_patients(client, psychiatrist, size, django_assert_max_num_queries):
    caseload(psychiatrist, size)
    due.rebuild()
    log_in(client, psychiatrist)
    client.get(reverse("psychiatrist_home"))  # the session's last-seen stamp is written once

    # The 13 of tests/clinic/test_roles.py (PostgreSQL: +1, the audit chain head is a function call).
    with django_assert_max_num_queries(13 + (connection.vendor == "postgresql")) as captured:
        response = client.get(reverse("psychiatrist_home"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Labs and checks due" in content and "Overdue" in content
    assert response.context["due_panels"].lab_count >= size
    assert len(response.context["patients"]) == min(size, 25)
    pytest.home_counts = getattr(pytest, "home_counts", {}) | {size: len(captured.captured_queries)}
    if len(pytest.home_counts) == 2:
        assert pytest.home_counts[3] == pytest.home_counts[30]


def test_caseload_is_paged_and_the_audit_row_names_only_the_patients_shown(client, psychiatrist):
    patients = [factories.PatientFactory(primary_psychiatrist=psychiatrist) for _ in range(30)]
    log_in(client, psychiatrist)

    first = client.get(reverse("psychiatrist_home"))
    second = client.get(reverse("psychiatrist_home") + "?page=2")
    beyond = client.get(reverse("psychiatrist_home") + "?page=9")

    assert len(first.context["patients"]) == 25 and first.context["next_page"] == 2
    assert len(second.context["patients"]) == 5 and second.context["next_page"] is None
    assert {p.pk for p in first.context["patients"]} | {p.pk for p in second.context["patients"]} == {
        p.pk for p in patients
    }
    assert beyond.status_code == 200 and beyond.context["patients"] == []
    assert 'href="?page=2"' in first.content.decode()
    rows = AuditEvent.objects.filter(detail__page="psychiatrist_home").order_by("id")
    assert [len(row.detail["patient_ids"]) for row in rows] == [25, 5, 0]
    assert client.get(reverse("psychiatrist_home") + "?page=x").status_code == 200


@pytest.mark.parametrize("days_later", [0, 30, 200])
def test_raw_sql_listing_of_a_caseloads_ids_matches_the_queryset(psychiatrist, days_later):
    if connection.vendor != "postgresql":
        pytest.skip("due.listed_among is PostgreSQL's (= ANY of an array)")
    caseload(psychiatrist, 12)
    due.rebuild()
    today = timezone.localdate() + days_later * DAY
    scope = patients_for(psychiatrist).active()

    by_sql = due.home_panels(list(scope.values_list("pk", flat=True)), today)  # due.listed_among
    by_orm = due.home_panels(scope, today)

    def labs(panels):
        return [(e.patient_id, e.code, e.due_on, e.overdue_from, e.rank, e.total, e.status) for e in panels.labs]

    def reviews(panels):
        return [(r.prescription.pk, r.prescription.patient.pk, r.due_on, r.why, r.overdue) for r in panels.reviews]

    assert (by_sql.lab_count, by_sql.review_count) == (by_orm.lab_count, by_orm.review_count)
    assert labs(by_sql) == labs(by_orm)
    assert reviews(by_sql) == reviews(by_orm)
    assert by_orm.labs or by_orm.reviews, "the fixture lists something"
    assert due.listed_among([], today) == []
