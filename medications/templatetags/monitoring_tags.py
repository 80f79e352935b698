"""Monitoring panels for the chart, the psychiatrist home and the patient home.

Each panel costs a constant number of queries (see medications.monitoring): the chart two, the
psychiatrist home none of its own (the view reads medications.due), the patient home two.
"""

from __future__ import annotations

from django import template
from django.utils.translation import gettext, gettext_noop

from clinic import contact, dates
from clinic.links import href
from medications import monitoring
from medications.models import LabResult

register = template.Library()

HOME_PANEL_MAX = 15


@register.inclusion_tag("medications/labs/_chart_panel.html", takes_context=True)
def monitoring_panel(context, patient, due=None, results=None) -> dict:
    """The chart's panel: what is due (overdue first) and the latest result of each test. The
    chart passes both lists in (no query); otherwise two queries."""
    if results is None:
        results = list(LabResult.objects.filter(patient=patient))
    if due is None:
        due = monitoring.due_items(patient, results=results)
    latest = list(monitoring.newest_by_test(results).values())
    tests = monitoring.rules().tests
    for result in latest:
        test = tests.get(result.test_code)
        result.name = test.name if test else result.test_code
    latest.sort(key=lambda r: r.name.lower())
    return {"patient": patient, "due": due, "latest": latest}


_BADGES = {
    "overdue": ("text-bg-danger", "Overdue", "was due"),
    "due": ("text-bg-warning", "Due", "due"),
}


def _home_rows(items) -> list[dict]:
    """The rows as the home panel prints them, formatted here: one reverse() for the panel, not a
    {% url %} and an {% include %} per row."""
    url = href("medications:lab_results")
    rows = []
    for item in items:
        badge, status, when = _BADGES.get(item.status, ("text-bg-light border", "Upcoming", "due"))
        rows.append(
            {
                "badge": badge,
                "status": status,
                "href": url(item.patient.pk),
                "name": item.patient.display_name,
                "label": item.label,
                "when": f"{when} {dates.day(item.due_on)}",
            }
        )
    return rows


@register.inclusion_tag("medications/labs/_home_panel.html", takes_context=True)
def monitoring_due(context, panels=None) -> dict:
    """The psychiatrist home: overdue and due items of their care-team patients. ``panels``
    (medications.due.HomePanels) are the stored entries the view read in one query; without
    them the list is computed live (two queries, but rows grow with the caseload)."""
    if panels is not None:
        count, shown = panels.lab_count, panels.labs
    else:
        request = context.get("request")
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return {"count": 0, "shown": [], "hidden": 0}
        due = monitoring.due_for_psychiatrist(user)
        count, shown = len(due), due[:HOME_PANEL_MAX]
    return {"count": count, "shown": _home_rows(shown), "hidden": count - len(shown)}


# The patient-facing test names of monitoring_profiles.json ("patient_name"), marked for
# makemessages: the patient's panel shows them in the page's language (a test checks this list
# against the data file, so a new test name cannot go untranslated).
PATIENT_TEST_NAMES = (
    gettext_noop("Blood count (platelets)"),
    gettext_noop("Blood count (white cells)"),
    gettext_noop("Blood pressure check"),
    gettext_noop("Blood sugar test (HbA1c)"),
    gettext_noop("Blood sugar test (fasting)"),
    gettext_noop("Calcium blood test"),
    gettext_noop("Carbamazepine blood level"),
    gettext_noop("Cholesterol blood test"),
    gettext_noop("Heart tracing (ECG)"),
    gettext_noop("Kidney test (blood)"),
    gettext_noop("Lithium blood level"),
    gettext_noop("Liver blood test"),
    gettext_noop("Nortriptyline blood level"),
    gettext_noop("Potassium blood test"),
    gettext_noop("Pulse check"),
    gettext_noop("Salt (sodium) blood test"),
    gettext_noop("Thyroid blood test"),
    gettext_noop("Valproate blood level"),
    gettext_noop("Waist measurement"),
    gettext_noop("Weight check"),
)


@register.inclusion_tag("medications/labs/_patient_panel.html", takes_context=True)
def patient_checks_due(context) -> dict:
    """The patient's own home: which tests or checks are due, in plain words (no values)."""
    patient = context.get("patient")
    if patient is None:
        return {"due": []}
    seen: set[str] = set()
    due = []
    # The patient home passes the items in as "checks_due" (from rows it loaded anyway).
    items = context.get("checks_due")
    for item in monitoring.due_items(patient) if items is None else items:
        if item.is_open and item.patient_label not in seen:
            seen.add(item.patient_label)
            due.append({"label": gettext(item.patient_label), "status": item.status, "due_on": item.due_on})
    return {"due": due, "clinic_phone": contact.clinic().phone}
