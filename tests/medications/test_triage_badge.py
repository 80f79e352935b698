"""One triage level, one label, one colour: the report's badge is the same on every page that shows it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

EMERGENCY = '<span class="badge text-bg-danger">Emergency</span>'


def badges(html: str) -> list[str]:
    return re.findall(r'<span class="badge [^"]*">(?:Emergency|Urgent)</span>', html)


def test_an_emergency_report_has_the_same_badge_everywhere(client, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="bupropion", dose="150", strength="150")
    report = factories.report(patient, symptoms=["seizure"], severity="severe")
    assert report.triage_level == "emergency"
    log_in(client, psychiatrist)

    home = client.get(reverse("psychiatrist_home"))
    inbox = client.get(reverse("medications:inbox"))
    detail = client.get(reverse("medications:report_detail", args=[patient.pk, report.pk]))

    assert [home.status_code, inbox.status_code, detail.status_code] == [200, 200, 200]
    # The home lists it twice (the safety alert and the report): both say Emergency, in red.
    assert badges(home.content.decode()) == [EMERGENCY, EMERGENCY]
    assert badges(inbox.content.decode()) == [EMERGENCY]
    assert badges(detail.content.decode()) == [EMERGENCY]


def test_an_urgent_report_is_urgent_in_amber_everywhere(client, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="lamotrigine", dose="25", strength="25")
    report = factories.report(patient, symptoms=[], severity="mild", other_symptoms="a rash but no fever or blisters")
    urgent = '<span class="badge text-bg-warning">Urgent</span>'
    log_in(client, psychiatrist)
    assert report.triage_level == "urgent"

    home = client.get(reverse("psychiatrist_home")).content.decode()
    inbox = client.get(reverse("medications:inbox")).content.decode()
    detail = client.get(reverse("medications:report_detail", args=[patient.pk, report.pk])).content.decode()

    assert badges(home) == [urgent, urgent]
    assert badges(inbox) == [urgent]
    assert badges(detail) == [urgent]
