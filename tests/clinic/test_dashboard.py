"""The home pages' selectors (clinic.dashboard) where they are raw SQL: the same rows as the
queryset they replace."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from clinic import dashboard
from medications.models import SideEffectReport
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
