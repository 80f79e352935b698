"""A report's one stored reply became its first SideEffectReply row (medications/migrations/0017,
issue 16 item 8): forward it keeps the text, author and time; back, the newest reply returns to
the report's columns. Runs on PostgreSQL, as production does; ends at the newest migrations."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import PatientFactory, PatientUserFactory, report
from tests.helpers import require_service

BEFORE = [("medications", "0016_medication_hard_max")]
AFTER = [("medications", "0017_side_effect_reply_history")]


@pytest.mark.services
def test_the_stored_reply_becomes_the_first_history_row_and_back(migrator):
    require_service("PostgreSQL", connection.vendor == "postgresql")
    patient = PatientFactory(user=PatientUserFactory())
    doctor = patient.primary_psychiatrist
    answered, unanswered = report(patient).pk, report(patient).pk
    when = timezone.now() - datetime.timedelta(days=3)
    old = migrator(BEFORE)
    old.get_model("medications", "SideEffectReport").objects.filter(pk=answered).update(
        reply="Take it with food.", replied_at=when, replied_by_id=doctor.pk
    )

    new = migrator(AFTER)
    Reply = new.get_model("medications", "SideEffectReply")
    rows = list(Reply.objects.values_list("report_id", "text", "author_id", "created_at"))
    assert rows == [(answered, "Take it with food.", doctor.pk, when)]
    Reply.objects.create(report_id=answered, author_id=doctor.pk, text="And drink water.", created_at=timezone.now())

    back = migrator(BEFORE)
    stored = back.get_model("medications", "SideEffectReport").objects.order_by("pk")
    assert list(stored.values_list("pk", "reply", "replied_by_id")) == [
        (answered, "And drink water.", doctor.pk), (unanswered, "", None),
    ]  # fmt: skip
