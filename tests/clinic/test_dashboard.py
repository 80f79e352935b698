"""The home pages' selectors (clinic.dashboard) where they are raw SQL: the same rows as the
queryset they replace."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic import dashboard
from clinic.access import patients_for
from clinic.models import Alert
from medications.models import SideEffectReport
from patients import alerts
from patients.models import Patient
from tests import factories

pytestmark = pytest.mark.django_db


def test_raw_sql_open_reports_match_the_queryset(psychiatrist, patient):
    if connection.vendor != "postgresql":
        pytest.skip("the raw SQL of dashboard.open_reports is PostgreSQL's (= ANY of an array)")
    others = factories.PatientFactory.create_batch(3, primary_psychiatrist=psychiatrist)
    stranger = factories.PatientFactory()
    for n, someone in enumerate([patient, *others, stranger]):
        for severity in ["mild", "moderate", "severe"][: n % 3 + 1]:
            factories.report(someone, reporter=psychiatrist, severity=severity)
    # Some acknowledged, some urgent: every key of the inbox order is exercised.
    first = SideEffectReport.objects.filter(patient=patient).order_by("pk").first()
    SideEffectReport.objects.filter(pk=first.pk).update(acknowledged_at=timezone.now())
    SideEffectReport.objects.filter(patient=others[0]).update(is_urgent=True, triage_level="urgent")
    ids = [patient.pk, *(other.pk for other in others)]

    by_sql = dashboard.open_reports(ids)
    by_orm = SideEffectReport.objects.filter(patient_id__in=ids).unacknowledged().inbox_order()
    by_orm = list(by_orm[: dashboard.OPEN_REPORTS_LIMIT])

    fields = ("pk", "patient_id", "severity", "is_urgent", "triage_level", "acknowledged_at", "created_at")
    rows = [tuple(getattr(r, f) for f in fields) for r in by_sql]
    assert rows == [tuple(getattr(r, f) for f in fields) for r in by_orm]
    assert len(by_sql) >= 5
    assert stranger.pk not in {r.patient_id for r in by_sql}
    assert dashboard.open_reports([]) == []


def test_open_alerts_over_the_caseload_match_alerts_for(psychiatrist, patient):
    others = factories.PatientFactory.create_batch(2, primary_psychiatrist=psychiatrist)
    stranger = factories.PatientFactory()
    now = timezone.now()
    for n, someone in enumerate([patient, *others, stranger]):
        for level in ["urgent", "emergency"][: n % 2 + 1]:
            Alert.objects.create(
                patient=someone, level=level, reasons=["test"], created_at=now - timedelta(minutes=n),
                escalate_after=now + timedelta(hours=1),
            )  # fmt: skip
    Alert.objects.filter(patient=patient).update(acknowledged_at=now)
    caseload = dashboard.caseload(patients_for(psychiatrist))
    people = {pk: Patient(pk=pk, legal_first_name=first, legal_last_name=last) for pk, _, _, first, last, _ in caseload}

    with CaptureQueriesContext(connection) as captured:
        by_ids = dashboard.open_alerts([row[0] for row in caseload], people)
        names = [alert.patient.display_name for alert in by_ids]
    by_scope = list(alerts.alerts_for(psychiatrist).open().order_by("level", "created_at", "pk"))

    assert [a.pk for a in by_ids] == [a.pk for a in by_scope]
    assert len(by_ids) == 3 and stranger.pk not in {a.patient_id for a in by_ids}
    assert len(captured.captured_queries) == 1 and all(names)
