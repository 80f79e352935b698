"""What the fault scenarios' users do, over HTTP, each returning (name, status, stored) where ``stored``
is True when the page said the write was saved (the redirect or result page a person would see),
False when a write was posted without that confirmation, None when nothing was posted.
The harness counts those and compares them with the rows in the database."""

from __future__ import annotations

import datetime
import random

from chaos.client import Browser, fill, offered_starts


def report_side_effect(b: Browser, rng: random.Random):
    response, form = b.form_on("/my/side-effects/new/", lambda f: "severity" in f["choices"])
    if form is None:
        return "report", response.status_code, None
    onset = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=2)
    severity = rng.choice(form["choices"]["severity"])
    data = fill(form, {"onset_date": onset.isoformat(), "ongoing": "yes", "other_symptoms": "", "severity": severity})
    if form["choices"].get("symptoms"):
        data["symptoms"] = rng.choice(form["choices"]["symptoms"])
    response = b.post("/my/side-effects/new/", data)
    return (
        "report",
        response.status_code,
        response.status_code == 302 and "sent" in response.headers.get("Location", ""),
    )


def patient_book(b: Browser, rng: random.Random, type_id: int):
    page = b.get(f"/my/appointments/book/?type={type_id}")
    starts = offered_starts(page.text) if page.status_code == 200 else []
    if not starts:
        return "patient_book_page", page.status_code, None
    csrf = b.session.cookies.get("csrftoken")
    start = rng.choice(starts[:60])
    response = b.post("/my/appointments/book/", {"csrfmiddlewaretoken": csrf, "type": type_id, "start": start})
    return (
        "patient_book",
        response.status_code,
        response.status_code == 302 and "/my/appointments/" in (response.headers.get("Location", "")),
    )


def db_counts() -> dict[str, int]:
    from appointments.models import Appointment
    from medications.models import SideEffectReport
    from patients.models import QuestionnaireResponse, VisitNote

    return {
        "report": SideEffectReport.objects.count(),
        "questionnaire": QuestionnaireResponse.objects.count(),
        "note": VisitNote.objects.count(),
        "patient booking": Appointment.objects.filter(booked_by__role="patient").count(),
        "admin booking": Appointment.objects.filter(booked_by__role="clinic_admin").count(),
    }


STORED_AS = {
    "report": "report",
    "questionnaire": "questionnaire",
    "note": "note",
    "patient_book": "patient booking",
    "admin_book": "admin booking",
}


def reconcile_writes(submitted: dict, unconfirmed: dict, before: dict, after: dict) -> tuple[dict, list[str]]:
    """submitted = writes the user saw confirmed; each must be stored. A write whose answer was an
    error or never came may or may not have been stored (the commit can win the race with a crash),
    so stored may exceed submitted by at most the unconfirmed attempts of that kind."""
    figures, problems = {}, []
    for key in sorted(set(submitted) | set(unconfirmed)):
        sent, maybe, stored = submitted.get(key, 0), unconfirmed.get(key, 0), after[key] - before[key]
        figures[f"{key}: confirmed/stored/unconfirmed"] = f"{sent}/{stored}/{maybe}"
        if not sent <= stored <= sent + maybe:
            problems.append(f"{key}: {sent} confirmed to users, {maybe} unconfirmed, {stored} in the database")
    return figures, problems
