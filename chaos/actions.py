"""What the virtual users do, over HTTP, each returning (name, status, stored) where ``stored``
is True when the page said the write was saved (the redirect or result page a person would see),
False when a write was posted without that confirmation, None when nothing was posted.
The harness counts those and compares them with the rows in the database."""

from __future__ import annotations

import datetime
import random
import re

from chaos.client import Browser, fill, offered_starts

_FILL_LINK = re.compile(r'href="(/patients/me/questionnaires/\d+/)"')


def _now_local(days=0, hours=0) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days, hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M")


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


def fill_questionnaire(b: Browser, rng: random.Random):
    listing = b.get("/patients/me/questionnaires/")
    links = _FILL_LINK.findall(listing.text) if listing.status_code == 200 else []
    if not links:
        return "questionnaire_list", listing.status_code, None
    path = links[0]
    response, form = b.form_on(path, lambda f: bool(f["choices"]))
    if form is None:
        return "questionnaire", response.status_code, None
    # Low answers: a score that opens no safety alert (those have their own tests).
    data = fill(form, {name: values[0] for name, values in form["choices"].items()})
    response = b.post(path, data)
    return (
        "questionnaire",
        response.status_code,
        response.status_code == 200 and "your answers were sent" in (response.text),
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


def read_chart(b: Browser, rng: random.Random, patient_id: int):
    response = b.get(f"/patients/{patient_id}/")
    return "chart", response.status_code, None


def write_note(b: Browser, rng: random.Random, patient_id: int):
    path = f"/patients/{patient_id}/visits/new/"
    response, form = b.form_on(path, lambda f: "interval_history" in f["fields"])
    if form is None:
        return "note", response.status_code, None
    data = fill(form, {"visit_at": _now_local(hours=-1), "interval_history": "Sleeping better, fewer worries.",
                       "mental_status_exam": "Calm, euthymic.", "risk_rationale": "No ideation, engaged in care.",
                       "assessment": "Improving.", "plan": "Continue."})  # fmt: skip
    response = b.post(path, data)
    return "note", response.status_code, response.status_code == 302


def psychiatrist_inbox(b: Browser, rng: random.Random):
    response = b.get("/side-effects/")
    return "inbox", response.status_code, None


def admin_book(b: Browser, rng: random.Random, psychiatrist_ids: list[int], type_id: int):
    response, form = b.form_on("/appointments/new/", lambda f: "start" in f["fields"])
    if form is None:
        return "admin_book", response.status_code, None
    # A random half hour 3-40 days out: admins rarely collide with each other or with patients.
    minutes = rng.randrange(3 * 48, 40 * 48) * 30
    start = datetime.datetime.now(datetime.UTC).replace(minute=0, second=0) + datetime.timedelta(minutes=minutes)
    data = fill(form, {"patient": rng.choice(form["choices"]["patient"]),
                       "psychiatrist": str(rng.choice(psychiatrist_ids)), "appointment_type": str(type_id),
                       "start": start.strftime("%Y-%m-%dT%H:%M"), "telehealth_url": "",
                       "repeat_every_weeks": "", "repeat_count": ""})  # fmt: skip
    response = b.post("/appointments/new/", data)
    return "admin_book", response.status_code, response.status_code == 302


def home(b: Browser, rng: random.Random):
    """The start page: / redirects each role to its own home, which is what a person lands on."""
    response = b.get("/")
    if response.status_code == 302:
        response = b.get(response.headers["Location"])
    return "home", response.status_code, None


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
