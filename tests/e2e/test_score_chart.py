"""The score chart shows every score of a day, ends at the newest one, and its labels never
overlap (issue 16, item 6), in a browser.

Two PHQ-9 scores on today's date seconds apart: 6, then 16. The viewer's zone (their profile)
and the browser's zone differ, as they do for a chart opened on a server-side Chromium or on a
travelling patient's phone. What is checked is what Chart.js drew: the point elements and the
line's points (pixels), and the label boxes of every vertical axis.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.e2e.browser import ARTIFACTS, DESKTOP, PHONE, Journey
from tests.factories import sertraline_history, submit_phq9

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def formulary(db):
    # A transactional test's flush empties the formulary that the data migration loaded.
    call_command("load_formulary", verbosity=0)


CHARTS_DRAWN = """(selector) => {
  const canvas = document.querySelector(selector);
  return window.Chart && canvas && Chart.getChart(canvas)
    && canvas.closest("[data-measures-chart]").classList.contains("is-ready");
}"""

# Pixels of what was drawn: the first series' points, the line's last point, and the box of every
# label on a vertical axis (the score ticks and the band names), measured as Chart.js renders them.
DRAWN = """(selector) => {
  const chart = Chart.getChart(document.querySelector(selector));
  const meta = chart.getDatasetMeta(0);
  const values = chart.data.datasets[0].data;
  const points = meta.data.map((el, i) => (
    {score: values[i].y, x: el.x, y: el.y, r: el.options.radius, skip: !!el.skip}));
  const line = meta.dataset.points;
  const end = line[line.length - 1];
  const ctx = chart.ctx;
  const labels = [];
  for (const scale of Object.values(chart.scales)) {
    if (scale.isHorizontal() || !scale.options.display) continue;
    for (const item of scale.getLabelItems()) {
      const lines = [].concat(item.label).map(String);
      ctx.save();
      ctx.font = item.font.string;
      const width = Math.max(...lines.map((l) => ctx.measureText(l).width));
      ctx.restore();
      const [x, y] = item.options.translation;
      const align = item.options.textAlign;
      const left = align === "right" ? x - width : align === "center" ? x - width / 2 : x;
      const top = y + item.textOffset - item.font.lineHeight / 2;
      labels.push({scale: scale.id, text: lines.join(" "), left, right: left + width, top,
                   bottom: top + lines.length * item.font.lineHeight});
    }
  }
  return {area: chart.chartArea, points, end: {x: end.x, y: end.y, index: line.indexOf(end)}, labels};
}"""


def a_second_score_today(patient) -> None:
    """sertraline_history's last PHQ-9 (6) is from a moment ago; 16 now: two scores on one day."""
    submit_phq9(patient, 2)


def overlapping(labels: list[dict]) -> list[tuple[str, str]]:
    return [
        (a["text"], b["text"])
        for i, a in enumerate(labels)
        for b in labels[i + 1 :]
        if a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]
    ]


def check_drawn(journey: Journey, selector: str, newest_scores: list[int]) -> None:
    page = journey.page
    page.wait_for_function(CHARTS_DRAWN, arg=selector)

    drawn = page.evaluate(DRAWN, selector)
    area, points = drawn["area"], drawn["points"]
    assert [p["score"] for p in points][-2:] == newest_scores
    # Every point is drawn inside the plot, none on top of another.
    outside = [p for p in points if p["skip"] or not area["left"] <= p["x"] <= area["right"]]
    assert outside == [], (area, points)
    older, newest = points[-2], points[-1]
    assert newest["x"] - older["x"] >= older["r"] + newest["r"], (older, newest)
    # The line ends at the newest score: its last point, right of every other.
    assert drawn["end"] == {"x": newest["x"], "y": newest["y"], "index": len(points) - 1}
    assert all(p["x"] < newest["x"] for p in points[:-1])
    # Score ticks and band names: all there, no two boxes intersect.
    texts = [label["text"] for label in drawn["labels"]]
    assert {"0", "5", "10", "15", "20"} <= set(texts), texts
    assert {"mild", "moderate", "moderately severe", "severe"} <= set(texts), texts
    assert overlapping(drawn["labels"]) == [], drawn["labels"]


def test_the_psychiatrists_chart_shows_both_of_todays_scores_and_ends_at_the_newest(
    live_server, chromium, formulary, psychiatrist, patient
):
    psychiatrist.time_zone = "America/New_York"
    psychiatrist.save(update_fields=["time_zone"])
    sertraline_history(patient, psychiatrist)  # PHQ-9 16 and 12 weeks ago, 6 today
    a_second_score_today(patient)

    # A browser on UTC (a server's headless Chromium): today's evening in New York is tomorrow there.
    context = chromium.new_context(**DESKTOP, timezone_id="UTC")
    journey = Journey(context.new_page(), live_server.url, "chart-same-day", ARTIFACTS)
    try:
        journey.sign_in(psychiatrist.email, totp=True)
        journey.goto(f"/patients/{patient.pk}/")
        check_drawn(journey, "#measures .measures-scores-canvas", [6, 16])
        journey.screenshot("chart")
        journey.finish()
    finally:
        context.close()


def test_the_patients_home_shows_both_of_todays_scores_and_ends_at_the_newest(
    live_server, chromium, formulary, psychiatrist, patient
):
    patient.user.time_zone = "America/Los_Angeles"
    patient.user.save(update_fields=["time_zone"])
    sertraline_history(patient, psychiatrist)
    a_second_score_today(patient)

    # Their phone is on Tokyo time (travelling); the chart keeps to their profile's zone.
    context = chromium.new_context(**PHONE, timezone_id="Asia/Tokyo")
    journey = Journey(context.new_page(), live_server.url, "patient-same-day", ARTIFACTS)
    try:
        journey.sign_in(patient.user.email, totp=False)
        check_drawn(journey, "[data-source=progress-data] .measures-scores-canvas", [6, 16])
        journey.screenshot("home")
        journey.finish()
    finally:
        context.close()
