"""Every date and time a person reads is in their zone and in one format (clinic/dates.py).

The walk renders every page each role can open (tests/access_routes.py) over a clinic with a
signed evaluation, a signed visit note from an evening visit with a dose change made in it, and
scans the HTML people read for ISO-like timestamps: "2026-12-06 04:24:00+00:00" is what a raw
``str(datetime)`` prints, in UTC. Machine-readable places (``datetime=``/``value=``/``data-``
attributes, inputs, scripts) keep ISO on purpose and are not scanned.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.template import Context, Template
from django.urls import reverse

from medications import prescribing
from patients import notes
from tests import clinical_world, factories
from tests.access_routes import ROUTES, SERVED, expected, resolve
from tests.helpers import log_in

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# Dec 6, 04:24 UTC is the evening of Dec 5 in New York: the day a raw UTC print gets wrong.
VISIT_AT = datetime.datetime(2026, 12, 6, 4, 24, 0, 123456, tzinfo=datetime.UTC)
NOW = datetime.datetime(2026, 12, 7, 15, 0, tzinfo=datetime.UTC)
ISO_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
MACHINE_READABLE = [
    re.compile(r"<script\b.*?</script>", re.DOTALL | re.IGNORECASE),
    re.compile(r"<input\b[^>]*>", re.IGNORECASE),
    re.compile(r"""\s(?:datetime|value|data-[\w-]+)\s*=\s*("[^"]*"|'[^']*')""", re.IGNORECASE),
]


def readable_html(html: str) -> str:
    for pattern in MACHINE_READABLE:
        html = pattern.sub(" ", html)
    return html


@pytest.fixture
def clinic(db):
    """A clinic whose people all live in New York, and a world with signed notes."""
    with time_machine.travel(NOW, tick=True):
        psychiatrist = factories.PsychiatristFactory(time_zone="America/New_York")
        patient = factories.PatientFactory(
            user=factories.PatientUserFactory(time_zone="America/New_York"), primary_psychiatrist=psychiatrist
        )
        world = clinical_world.build(patient, psychiatrist)
        world.evaluation = factories.evaluation(patient, psychiatrist, signed=True)
        visit = factories.visit(patient, psychiatrist, visit_at=VISIT_AT)
        prescribing.change_dose(
            world.prescription,
            actor=psychiatrist,
            dose_mg=Decimal(75),
            reason="partial_response",
            visit_note=visit,
        )
        world.visit = notes.sign(visit, actor=psychiatrist)
        people = {
            "psychiatrist": psychiatrist,
            "patient": patient.user,
            "clinic_admin": factories.ClinicAdminFactory(time_zone="America/New_York"),
        }
        yield world, people


def test_a_signed_visit_note_shows_the_visit_time_in_the_viewers_zone(clinic, client):
    world, people = clinic
    with time_machine.travel(NOW, tick=True):
        log_in(client, people["psychiatrist"])
        response = client.get(reverse("appointments:visit_detail", args=[world.patient.pk, world.visit.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    # 23:24 on Dec 5 in New York, in the heading and in the note's "Visit at" field.
    assert html.count("Dec 5, 23:24") == 2, readable_html(html)
    assert "Dec 6" not in html
    assert "Signed</span>" in html
    assert "on Dec 7, 10:00" in html  # signed at NOW, 15:00 UTC: 10:00 in New York
    assert not ISO_LIKE.findall(readable_html(html))


def shown_text(response) -> str:
    """What a page shows: its readable HTML, or a PDF's text (summaries, prescriptions)."""
    if response["Content-Type"] == "application/pdf":
        import io

        from pypdf import PdfReader

        return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    return readable_html(response.content.decode())


@pytest.mark.parametrize("persona", ["psychiatrist", "patient", "clinic_admin"])
def test_no_page_prints_an_iso_timestamp(clinic, client, persona):
    world, people = clinic
    pages = [
        name
        for name, route in sorted(ROUTES.items())
        if "get" in route.methods and not route.post_only and expected(route.kind, persona) == "ok"
    ]
    found = {}
    with time_machine.travel(NOW, tick=True):
        log_in(client, people[persona])
        for name in pages:
            url = reverse(name, args=[resolve(world, path) for path in ROUTES[name].args])
            response = client.get(url, follow=True)
            assert response.status_code in SERVED.get(name, (200,)), (name, response.status_code)
            if response.streaming:
                continue  # a CSV download (the metrics): machine-readable ISO dates are right there
            if hits := ISO_LIKE.findall(shown_text(response)):
                found[name] = hits
    assert len(pages) >= 8
    assert found == {}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (datetime.date(2026, 1, 5), "Monday, January 5"),
        (datetime.date(2027, 1, 5), "Tuesday, January 5, 2027"),
        (datetime.date(2025, 12, 29), "Monday, December 29, 2025"),
    ],
)
def test_a_day_carries_its_year_unless_it_is_this_year(value, shown):
    with time_machine.travel(NOW, tick=False):
        assert Template("{{ value|weekday }}").render(Context({"value": value})) == shown
