"""The clinic's users for locust: patients, psychiatrists and clinic admins, in the proportions of
a clinic (6 : 3 : 1), each signing in through the real login pages (password; then TOTP for
staff, computed by tests/totp.py) and then opening pages and sending forms filled from the page's
own HTML, with an exponential think time (LOADTEST_THINK seconds on average) between actions.

Run by chaos/loadtest/run.py (`make loadtest`), which seeds the users and writes their credentials to
LOADTEST_USERS_FILE. Every request is named after its page type (chaos/loadtest/pages.py), so the
summary has one line per page type; a request answering anything but the status the page gives a
person (200, or the 302 after a saved form) counts as an error.
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import random
import re
import time

from locust import HttpUser, constant, task

from chaos.client import fill, forms, offered_starts
from chaos.loadtest.pages import path
from tests.totp import totp_code

THINK = float(os.environ.get("LOADTEST_THINK", "1.0"))
_FILL_LINK = re.compile(r'href="/patients/me/questionnaires/(\d+)/"')


def _people() -> dict:
    with open(os.environ["LOADTEST_USERS_FILE"]) as handle:
        return json.load(handle)


PEOPLE = _people() if os.environ.get("LOADTEST_USERS_FILE") else {"patient": [], "psychiatrist": [], "admin": []}
# One account per virtual user while they last (the seed makes enough for the largest run): two
# users in one account would share a TOTP code, and allauth refuses a code used once already.
_NEXT = {
    role: itertools.cycle(accounts) for role, accounts in PEOPLE.items() if isinstance(accounts, list) and accounts
}


# The bench's everyday symptoms (bench/generate.py): a uniform pick from the whole checklist ticked
# the red-flag ones (the triage's emergencies) in half the reports.
COMMON_SYMPTOMS = {"nausea", "headache", "insomnia", "drowsiness", "dizziness", "dry_mouth", "weight_gain"}


def severity(offered: list[str]) -> str:
    """Mostly mild, some moderate, few severe, as a clinic's reports are: a uniform pick made a third
    of them severe, each paging the care team (an alert) and dominating the run's tail."""
    weights = {"mild": 6, "moderate": 3, "severe": 1}
    return random.choices(offered, weights=[weights.get(choice, 1) for choice in offered])[0]


def _why(response, expect) -> str:
    # Status 0: no answer at all (a reset connection, a timeout); name the exception, not "0".
    if response.status_code == 0:
        return f"no answer: {type(response.error).__name__}: {str(response.error)[:120]}"
    return f"{response.status_code} (expected {expect})"


def think(user) -> float:
    return random.expovariate(1 / THINK) if THINK > 0 else 0


class ClinicUser(HttpUser):
    abstract = True
    role = ""
    wait_time = think

    def on_start(self) -> None:
        self.account = next(_NEXT[self.role])
        self.sign_in(self.account["email"], PEOPLE["password"], staff=self.role != "patient")

    # -- requests, each checked against what a person's browser would get ------------------------
    def page(self, name: str, url: str, expect: int = 200, **kw):
        with self.client.get(url, name=name, allow_redirects=False, catch_response=True, **kw) as response:
            if response.status_code != expect:
                response.failure(_why(response, expect))
            return response

    def send(self, name: str, url: str, data: dict, expect: int = 302, confirm=None):
        with self.client.post(url, data=data, name=name, allow_redirects=False, catch_response=True) as response:
            if response.status_code != expect:
                response.failure(_why(response, expect))
            elif confirm is not None and not confirm(response):
                response.failure("the page did not confirm the write")
            return response

    def form_on(self, name: str, url: str, match):
        response = self.page(name, url)
        if response.status_code != 200:
            return None
        found = [f for f in forms(response.text) if "csrfmiddlewaretoken" in f["fields"] and match(f)]
        if not found:
            response.failure("no form on the page")
        return found[0] if found else None

    def sign_in(self, email: str, password: str, *, staff: bool) -> None:
        login = path("sign-in: login page")
        form = self.form_on("sign-in: login page", login, lambda f: "login" in f["fields"])
        if form is None:
            return
        self.send("sign-in: password", login, fill(form, {"login": email, "password": password}))
        if not staff:
            return
        step = path("sign-in: TOTP page")
        form = self.form_on("sign-in: TOTP page", step, lambda f: "code" in f["fields"])
        if form is None:
            return
        # A code checked in the last two seconds of its 30-s window may arrive after it rolled over.
        if time.time() % 30 > 28:
            time.sleep(30 - time.time() % 30 + 0.1)
        self.send("sign-in: TOTP code", step, fill(form, {"code": totp_code()}))


class PatientUser(ClinicUser):
    weight = 6
    role = "patient"

    @task(3)
    def home(self):
        self.page("patient: home", path("patient: home"))

    @task(1)
    def medicines(self):
        self.page("patient: medicines", path("patient: medicines"))

    @task(1)
    def messages(self):
        self.page("patient: messages", path("patient: messages"))

    @task(2)
    def report_side_effect(self):
        url = path("patient: side-effect form")
        form = self.form_on("patient: side-effect form", url, lambda f: "severity" in f["choices"])
        if form is None:
            return
        onset = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=2)
        data = fill(
            form,
            {
                "onset_date": onset.isoformat(),
                "ongoing": "yes",
                "other_symptoms": "",
                "severity": severity(form["choices"]["severity"]),
            },
        )
        if form["choices"].get("symptoms"):
            common = [choice for choice in form["choices"]["symptoms"] if choice in COMMON_SYMPTOMS]
            data["symptoms"] = random.choice(common or form["choices"]["symptoms"])
        self.send(
            "patient: side-effect report sent", url, data, confirm=lambda r: "sent" in r.headers.get("Location", "")
        )

    @task(1)
    def questionnaire(self):
        listing = self.page("patient: questionnaires", path("patient: questionnaires"))
        open_ones = _FILL_LINK.findall(listing.text) if listing.status_code == 200 else []
        if not open_ones:
            return  # both filled in already: the list alone is what this patient sees
        url = path("patient: questionnaire form", assignment=open_ones[0])
        form = self.form_on("patient: questionnaire form", url, lambda f: bool(f["choices"]))
        if form is None:
            return
        # The lowest answers: a score that opens no safety alert (those have their own tests).
        data = fill(form, {name: values[0] for name, values in form["choices"].items()})
        self.send(
            "patient: questionnaire sent", url, data, expect=200, confirm=lambda r: "your answers were sent" in r.text
        )

    @task(1)
    def book(self):
        url = path("patient: booking page")
        page = self.page("patient: booking page", url, params={"type": PEOPLE["type_id"]})
        starts = offered_starts(page.text) if page.status_code == 200 else []
        if not starts:
            return
        data = {
            "csrfmiddlewaretoken": self.client.cookies.get("csrftoken"),
            "type": PEOPLE["type_id"],
            "start": random.choice(starts[:60]),
        }
        self.send(
            "patient: booking sent", url, data, confirm=lambda r: "/my/appointments/" in r.headers.get("Location", "")
        )


class PsychiatristUser(ClinicUser):
    weight = 3
    role = "psychiatrist"

    def a_patient(self) -> int:
        return random.choice(self.account["patients"])

    @task(2)
    def home(self):
        self.page("psychiatrist: home", path("psychiatrist: home"))

    @task(4)
    def chart(self):
        self.page("psychiatrist: chart", path("psychiatrist: chart", patient=self.a_patient()))

    @task(2)
    def side_effect_inbox(self):
        self.page("psychiatrist: side-effect inbox", path("psychiatrist: side-effect inbox"))

    @task(1)
    def messages_inbox(self):
        self.page("psychiatrist: messages inbox", path("psychiatrist: messages inbox"))

    @task(1)
    def visit_note(self):
        url = path("psychiatrist: visit note form", patient=self.a_patient())
        form = self.form_on("psychiatrist: visit note form", url, lambda f: "interval_history" in f["fields"])
        if form is None:
            return
        an_hour_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
        data = fill(
            form,
            {
                "visit_at": an_hour_ago.strftime("%Y-%m-%dT%H:%M"),
                "interval_history": "Sleeping better, fewer worries.",
                "mental_status_exam": "Calm.",
                "risk_rationale": "No ideation, engaged in care.",
                "assessment": "Improving.",
                "plan": "Continue.",
            },
        )
        self.send("psychiatrist: visit note saved", url, data)


class ClinicAdminUser(ClinicUser):
    weight = 1
    role = "admin"

    @task(2)
    def front_desk(self):
        self.page("admin: front desk", path("admin: front desk"))

    @task(2)
    def week(self):
        self.page("admin: week calendar", path("admin: week calendar"))

    @task(1)
    def book(self):
        url = path("admin: booking form")
        form = self.form_on("admin: booking form", url, lambda f: "start" in f["fields"])
        if form is None:
            return
        # A random half hour 3-40 days out: admins rarely collide with each other or with patients.
        minutes = random.randrange(3 * 48, 40 * 48) * 30
        start = datetime.datetime.now(datetime.UTC).replace(minute=0, second=0) + datetime.timedelta(minutes=minutes)
        data = fill(
            form,
            {
                "patient": random.choice(form["choices"]["patient"]),
                "psychiatrist": str(random.choice(PEOPLE["psychiatrist_ids"])),
                "appointment_type": str(PEOPLE["type_id"]),
                "start": start.strftime("%Y-%m-%dT%H:%M"),
                "telehealth_url": "",
                "repeat_every_weeks": "",
                "repeat_count": "",
            },
        )
        # A slot taken meanwhile re-shows the form (200): a person's answer, not a server error.
        with self.client.post(
            url, data=data, name="admin: booking saved", allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code not in (200, 302):
                response.failure(_why(response, "302, or 200 for a slot taken"))


class FloorUser(ClinicUser):
    """The bench's floor (a session, a user, one query) with no think time: what this stack serves
    at most per second, measured by the same client, server and settings as the mix."""

    role = "patient"
    wait_time = constant(0)

    @task
    def floor(self):
        self.page("floor", path("floor"))
