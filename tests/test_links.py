"""Every link on every page leads somewhere useful (issue 16, item 16).

For each persona the crawler signs in through the real pages, starts from their home and walks
breadth-first through what a person can reach: each ``<a href>`` and each GET form (submitted
with the values it shows). It also opens the address of each POST form with a GET, because that
is where the sign-in page's ``next`` takes someone whose session ended while the form was open.
Any answer of 400 or more is a dead end: a 403 too, since the page that linked there offered it
to this person. So is a ``tel:`` link without a number, "call the clinic" with no number in the
sentence, and a redirect that signs the person out. Each persona must also reach the pages named
for them (the demo clinic gives every panel rows to link from), so a page nobody links to fails too.

Bounded: a few addresses per URL pattern (many charts, one chart's worth of checking), and a cap
on pages per persona. Sign-out is never followed (it would end the walk), nor other sites.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pytest
from django.urls import Resolver404, resolve, reverse

from clinic.models import User
from demo.seed import DEMO_PASSWORD
from tests.factories import PatientUserFactory, privacy_officer
from tests.helpers import log_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_clinic")]

MAX_PAGES = 400  # per persona; the demo clinic's admin needs about 250
# Distinct addresses opened per URL pattern and set of query keys, and per pattern whatever the
# query. The Django admin's own pages (one changelist filter is much like another) get fewer.
PER_PATTERN = {"ours": 3, "admin": 1}
PER_NAME = {"ours": 10, "admin": 3}
NEVER_FOLLOW = {"account_logout", "admin:logout"}
# "Call the clinic" with no number in the same sentence (a tel: link counts: it holds digits).
CALL_WITHOUT_NUMBER = re.compile(r"call the clinic(?![^.!?]{0,120}\d{3})", re.IGNORECASE)
TEL_LINK = re.compile(r"""<a\b[^>]*href=["']tel:([^"']*)["'][^>]*>""", re.IGNORECASE)


@dataclass
class Form:
    method: str
    action: str | None
    fields: list[tuple[str, str]] = field(default_factory=list)
    submit: tuple[str, str] | None = None


class Links(HTMLParser):
    """The links and forms of one page, as a browser would submit them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: tuple[str, list[str], list[str]] | None = None  # name, options, selected
        self._textarea: list | None = None

    def handle_starttag(self, tag, attrs):
        a = {key: value or "" for key, value in attrs}
        if tag == "a" and "href" in a:
            self.hrefs.append(a["href"])
        elif tag == "form":
            self._form = Form(method=(a.get("method") or "get").lower(), action=a.get("action"))
            self.forms.append(self._form)
        elif self._form is None or "disabled" in a:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in {"submit", "image"}:
                self._form.submit = self._form.submit or (a["name"], a.get("value", ""))
            elif kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self._form.fields.append((a["name"], a.get("value", "on")))
            elif kind not in {"button", "reset", "file"}:
                self._form.fields.append((a["name"], a.get("value", "")))
        elif tag == "button" and a.get("name") and a.get("type", "submit") == "submit":
            self._form.submit = self._form.submit or (a["name"], a.get("value", ""))
        elif tag == "select" and a.get("name"):
            self._select = (a["name"], [], [])
        elif tag == "option" and self._select is not None:
            value = a.get("value")
            self._select[1].append(value if value is not None else "")
            if "selected" in a:
                self._select[2].append(self._select[1][-1])
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"]]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            name, options, selected = self._select
            if self._form is not None and (selected or options):
                self._form.fields.append((name, (selected or options)[0]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            if self._form is not None:
                self._form.fields.append((self._textarea[0], "".join(self._textarea[1:]).removeprefix("\n")))
            self._textarea = None


def same_site(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"", "http", "https"} and parts.netloc in {"", "testserver"}


def local(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, ""))


def url_name(path: str) -> str:
    try:
        return resolve(path).view_name or path
    except Resolver404:
        return "(no pattern) " + path


@dataclass
class Crawl:
    client: object
    signed_in: bool
    seen: set[str] = field(default_factory=set)
    per_pattern: Counter = field(default_factory=Counter)
    per_name: Counter = field(default_factory=Counter)
    queue: deque = field(default_factory=deque)  # (address, the page that led there)
    problems: list[str] = field(default_factory=list)
    opened: int = 0

    def offer(self, url: str, came_from: str) -> None:
        if not same_site(url):
            return
        address = local(url)
        if address in self.seen:
            return
        path = urlsplit(address).path
        name = url_name(path)
        if name in NEVER_FOLLOW:
            return
        shape = (name, frozenset(key for key, _ in parse_qsl(urlsplit(address).query, keep_blank_values=True)))
        kind = "admin" if name.startswith("admin:") else "ours"
        if self.per_pattern[shape] >= PER_PATTERN[kind] or self.per_name[name] >= PER_NAME[kind]:
            return
        self.seen.add(address)
        self.per_pattern[shape] += 1
        self.per_name[name] += 1
        self.queue.append((address, came_from))

    def run(self, start: str) -> None:
        self.offer(start, "(start)")
        while self.queue and self.opened < MAX_PAGES:
            address, came_from = self.queue.popleft()
            self.open(address, came_from)

    def open(self, address: str, came_from: str) -> None:
        self.opened += 1
        response = self.client.get(address)
        where = f"{address} (linked from {came_from})"
        if response.status_code >= 400:
            self.problems.append(f"{response.status_code} {where}")
            return
        if response.status_code in {301, 302, 303, 307, 308}:
            target = urljoin(address, response["Location"])
            if self.signed_in and urlsplit(target).path == reverse("account_login"):
                self.problems.append(f"signed out by {where}")
            self.offer(target, came_from)
            return
        if "text/html" not in response.get("Content-Type", ""):
            return
        text = response.content.decode()
        if CALL_WITHOUT_NUMBER.search(re.sub(r"<[^>]*>", " ", TEL_LINK.sub(r" \1 ", text))):
            self.problems.append(f"'call the clinic' without a number on {address}")
        page = Links()
        page.feed(text)
        for href in page.hrefs:
            if href.startswith("tel:") and not re.search(r"\d{3}", href):
                self.problems.append(f"phone link {href!r} without a number on {address}")
            elif not href.startswith(("#", "mailto:", "tel:", "javascript:")):
                self.offer(urljoin(address, href), address)
        for form in page.forms:
            target = urljoin(address, form.action or address)
            if form.method == "get":
                fields = form.fields + ([form.submit] if form.submit else [])
                target = urlunsplit(urlsplit(target)._replace(query=urlencode(fields), fragment=""))
            self.offer(target, f"a {form.method.upper()} form on {address}")


def demo_user(email: str):
    def make():
        return User.objects.get(email=email), DEMO_PASSWORD

    return make


# persona: (who signs in, where they start, pages the walk must reach: each panel links somewhere)
PERSONAS = {
    # Sign-up is off by default (TITRATE_SIGNUP_OPEN): the sign-in page does not link to it.
    "anonymous": (None, "home", {"account_login", "account_reset_password"}),
    "patient": (
        demo_user("patient@demo.titrate.test"),
        "patient_home",
        {
            "appointments:my_appointments",
            "appointments:my_book",
            "appointments:my_cancel",
            "appointments:my_waitlist",
            "medications:my_report_create",
            "patients:my_questionnaires",
            "patients:my_questionnaire_result",
            "reminder_preferences",
            "my_record_access",
            "notifications",
        },
    ),
    # Signed up online, not yet linked to a record by the front desk.
    "signed_up_patient": (
        lambda: (PatientUserFactory(), None),
        "patient_home",
        {"appointments:my_appointments", "appointments:my_book", "medications:my_report_create"},
    ),
    "psychiatrist": (
        demo_user("psychiatrist@demo.titrate.test"),
        "psychiatrist_home",
        {
            "patients:chart",
            "patients:evaluation_detail",
            "appointments:visit_detail",
            "medications:prescription_detail",
            "medications:plan_confirm_step",
            "medications:report_detail",
            "medications:inbox",
            "medications:lab_results",
            "medications:outside_create",
            "medications:outside_stop",
            "patients:questionnaire_list",
            "break_glass",
        },
    ),
    # The demo's admin is also a superuser: the Django admin's pages are walked too.
    "clinic_admin": (
        demo_user("admin@demo.titrate.test"),
        "front_desk_home",
        {
            "appointments:week",
            "appointments:day",
            "appointments:book",
            "appointments:appointment_detail",
            "appointments:availability",
            "patients:registry",
            "patients:edit_demographics",
            "delivery_report",
            "clinic_setup",
            "clinic_profile",
            "appointments:type_create",
            "appointments:type_edit",
            "appointments:type_active",
            "admin:index",
        },
    ),
    "privacy_officer": (
        lambda: (privacy_officer(), None),
        "front_desk_home",
        {"privacy_audit_log", "privacy_break_glass", "patients:registry"},
    ),
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_link_leads_somewhere(client, persona):
    make, home, must_reach = PERSONAS[persona]
    if make is not None:
        user, password = make()
        log_in(client, user, **({"password": password} if password else {}))
    crawl = Crawl(client, signed_in=make is not None)

    crawl.run(reverse(home))

    assert crawl.problems == [], f"{persona}: {len(crawl.problems)} dead ends\n" + "\n".join(crawl.problems)
    assert must_reach - set(crawl.per_name) == set()
    assert not crawl.queue, f"{persona}: stopped at {MAX_PAGES} pages with {len(crawl.queue)} left"
