"""The psychiatrist's home lists what they have left to write — draft evaluations, draft visit
notes and today's visits without an appointment — read in one query (clinic.dashboard.drafts, a
UNION ALL), newest first, never another psychiatrist's drafts nor a signed note."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from clinic import dashboard
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def test_drafts_of_both_kinds_are_listed_from_one_query(client, patient, psychiatrist, django_assert_num_queries):
    other = factories.PatientFactory(primary_psychiatrist=psychiatrist, preferred_name="Robin")
    evaluation = factories.evaluation(patient, psychiatrist)
    factories.evaluation(other, psychiatrist, signed=True)
    first = factories.visit(other, psychiatrist)
    second = factories.visit(patient, psychiatrist)
    signed_today = factories.visit(patient, psychiatrist, signed=True)  # a visit of today, no appointment
    colleague = factories.PsychiatristFactory()
    factories.visit(factories.PatientFactory(primary_psychiatrist=colleague), colleague)

    with django_assert_num_queries(1):
        notes, evaluations = dashboard.drafts(psychiatrist, *_today())
    # Newest first: the drafts, and the signed visit too (the page lists it under today's visits).
    assert [row[0] for row in notes] == [signed_today.pk, second.pk, first.pk]
    assert [(row[0], row[1]) for row in evaluations] == [(evaluation.pk, patient.pk)]
    assert evaluations[0][2] == evaluation.evaluation_date

    log_in(client, psychiatrist)
    page = client.get(reverse("psychiatrist_home")).content.decode()
    assert len(re.findall(r">Evaluation — ", page)) == 1
    assert len(re.findall(r">Visit note — ", page)) == 2
    assert reverse("patients:evaluation_detail", args=[patient.pk, evaluation.pk]) in page


def _today():
    import datetime

    from django.utils import timezone

    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + datetime.timedelta(days=1)
