"""DEP: a strict Content-Security-Policy on every response, and pages that live within it.

The policy (clinic/settings.py, django-csp) allows no inline script or style at all, so the
templates must carry none: no style="" attributes, no <script> with code in it, no on*=
handlers. Data reaches JavaScript through json_script (type="application/json", never run).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import sync_playwright

from medications import formulary
from medications.models import Medication
from patients import questionnaires
from tests import factories
from tests.factories import DEMO_LIKE_PASSWORD, sertraline_history
from tests.helpers import log_in, require_service

pytestmark = pytest.mark.django_db

EXPECTED = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
}

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# HTML emails are sent, never served: no CSP applies to them, and email clients strip <style>
# blocks, so their styles stay inline. Nothing under this folder is rendered into a response
# (the rendered-page tests below would catch a style="" if it were).
EMAIL_TEMPLATES = TEMPLATES / "notifications" / "email"


def policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value.strip()
    return directives


def assert_strict_policy(response) -> None:
    directives = policy(response)
    assert directives == EXPECTED
    header = response.headers["Content-Security-Policy"]
    assert "unsafe-" not in header
    assert "Content-Security-Policy-Report-Only" not in response.headers


# -- The header ------------------------------------------------------------------------------------


def test_login_page_carries_the_strict_policy(client):
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    assert_strict_policy(response)


def test_redirects_and_error_pages_carry_it_too(client):
    assert_strict_policy(client.get(reverse("psychiatrist_home")))  # 302 to the login page
    assert_strict_policy(client.get("/no-such-page/"))
    assert_strict_policy(client.get(reverse("healthz")))


@pytest.mark.parametrize(
    "role, url_name",
    [("psychiatrist", "psychiatrist_home"), ("patient", "patient_home"), ("clinic_admin", "front_desk_home")],
)
def test_each_roles_home_carries_the_strict_policy(client, request, role, url_name):
    user = request.getfixturevalue(role)
    user = getattr(user, "user", user)  # the patient fixture is the record; log in as its user
    log_in(client, user)
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    assert_strict_policy(response)
    assert_no_inline_code(response)


def test_admin_site_carries_the_strict_policy(client):
    superuser = factories.ClinicAdminFactory(is_staff=True, is_superuser=True)
    log_in(client, superuser)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert_strict_policy(response)
    assert_no_inline_code(response)


# -- The templates, as files -----------------------------------------------------------------------

STYLE_ATTR = re.compile(r"\bstyle\s*=", re.I)
HANDLER_ATTR = re.compile(r"\son[a-z]+\s*=", re.I)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)
STYLE_TAG = re.compile(r"<style\b", re.I)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def served_templates() -> list[Path]:
    files = [p for p in TEMPLATES.rglob("*") if p.suffix in {".html", ".txt", ".svg"} and p.is_file()]
    return sorted(p for p in files if EMAIL_TEMPLATES not in p.parents)


def test_the_scan_sees_the_templates():
    names = {p.relative_to(TEMPLATES).as_posix() for p in served_templates()}
    assert {"base.html", "patients/measures/_chart.html", "allauth/layouts/base.html"} <= names
    assert len(names) > 50


@pytest.mark.parametrize("path", served_templates(), ids=lambda p: p.relative_to(TEMPLATES).as_posix())
def test_no_template_has_inline_style_script_or_handlers(path):
    text = path.read_text()
    assert not STYLE_ATTR.search(text), "style= attribute: use a class in static/css/titrate.css"
    assert not STYLE_TAG.search(text), "<style> element: move the rules to static/css/titrate.css"
    assert not HANDLER_ATTR.search(text), "on*= handler: attach it with addEventListener in static/js/"
    assert not JS_URL.search(text), "javascript: URL"
    for attrs, body in SCRIPT_TAG.findall(text):
        if "application/json" in attrs:
            continue
        assert "src=" in attrs and not body.strip(), "inline <script> code: move it to static/js/"


# -- The pages, as rendered ------------------------------------------------------------------------


class InlineCodeFinder(HTMLParser):
    """Collects whatever a strict CSP would block: inline style, inline script, handlers."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.images: list[str] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name == "style":
                self.problems.append(f"<{tag} style={value!r}>")
            elif name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            elif name in {"href", "src", "action", "formaction"} and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "img":
            self.images.append(attrs.get("src") or "")
        if tag == "script":
            self._script = {"attrs": attrs, "body": ""}

    def handle_data(self, data):
        if self._script is not None:
            self._script["body"] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            attrs, body = self._script["attrs"], self._script["body"]
            if attrs.get("type") != "application/json" and (not attrs.get("src") or body.strip()):
                self.problems.append(f"inline <script> {body.strip()[:80]!r}")
            self._script = None


def scan(response) -> InlineCodeFinder:
    finder = InlineCodeFinder()
    finder.feed(response.content.decode())
    finder.close()
    return finder


def assert_no_inline_code(response) -> InlineCodeFinder:
    finder = scan(response)
    assert finder.problems == []
    return finder


def test_patient_chart_with_scores_has_no_inline_code(client, patient, psychiatrist):
    sertraline_history(patient, psychiatrist)
    log_in(client, psychiatrist)
    response = client.get(reverse("patients:chart", args=[patient.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    # The scores reach measures.js as JSON data, which a browser never runs.
    assert '<script id="measures-data" type="application/json">' in html
    assert "js/measures.js" in html and "chartjs-4.6.1/chart.umd.min.js" in html
    assert_strict_policy(response)
    assert_no_inline_code(response)


def test_patient_home_and_questionnaire_have_no_inline_code(client, patient, psychiatrist):
    sertraline_history(patient, psychiatrist)
    assigned = questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist)
    log_in(client, patient.user)
    for url in [reverse("patient_home"), reverse("patients:my_questionnaire_fill", args=[assigned.pk])]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict_policy(response)
        assert_no_inline_code(response)


def test_psychiatrist_questionnaire_page_has_no_inline_code(client, patient, psychiatrist):
    log_in(client, psychiatrist)
    response = client.get(reverse("patients:questionnaire_fill", args=[patient.pk, "phq9"]))
    assert response.status_code == 200
    assert_no_inline_code(response)


# transaction=True: allauth announces the new authenticator on commit, inside the request.
@pytest.mark.django_db(transaction=True)
def test_mfa_setup_page_has_no_inline_code_and_its_qr_code_is_allowed(client):
    newcomer = factories.PsychiatristFactory(totp=False)
    log_in(client, newcomer, mfa=False)
    response = client.get(reverse("mfa_activate_totp"))
    client.post(response["Location"], {"password": DEMO_LIKE_PASSWORD})  # reauthenticate
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    assert_strict_policy(response)
    finder = assert_no_inline_code(response)
    # The QR code is an <img> with a data: URI, which img-src allows (and nothing else does).
    qr = [src for src in finder.images if src.startswith("data:image/")]
    assert len(qr) == 1
    assert "data:" in policy(response)["img-src"]


def test_the_scanner_finds_what_csp_would_block():
    finder = InlineCodeFinder()
    finder.feed(
        '<div style="color:red" onclick="go()"><a href="javascript:go()">x</a>'
        "<script>go()</script><script src='/static/a.js'></script>"
        '<script type="application/json">{"a": 1}</script><style>p{}</style></div>'
    )
    assert len(finder.problems) == 5


# -- In a real browser -----------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Registered before any page script; the browser fires this event for every blocked resource,
# inline script, inline style or eval.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""
CHARTS_DRAWN = """() => {
  const canvases = Array.from(document.querySelectorAll("[data-measures-chart] canvas"));
  return window.Chart && canvases.length > 0 && canvases.every((c) => {
    const chart = Chart.getChart(c);
    return chart && c.width > 0 && c.height > 0 && chart.data.datasets.length > 0;
  });
}"""
QR_SHOWN = """() => {
  const img = document.querySelector("img[src^='data:image/']");
  return img && img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().width > 0;
}"""


def browse(live_server, client, path: str, ready: str, measure: str = "() => null") -> dict:
    """Open path in headless Chromium with client's session; wait until ready() is true.

    Returns the CSP header, what measure() gave, the CSP violations the page saw and the
    console errors (the favicon's too). No ORM in here: Playwright's sync API runs an
    event loop on this thread, so everything is set up in the database beforehand.
    """
    require_service(f"Chromium ({CHROMIUM})", Path(CHROMIUM).exists())
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    console: list[str] = []

    def on_console(message):
        if message.type == "error" or "Content Security Policy" in message.text:
            console.append(f"{message.type}: {message.text} ({message.location.get('url', '')})")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            context = browser.new_context()
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
            context.add_init_script(RECORD_VIOLATIONS)
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            response = page.goto(live_server.url + path, wait_until="load", timeout=30_000)
            assert response.status == 200
            page.wait_for_function(ready, timeout=30_000)
            return {
                "csp": response.headers["content-security-policy"],
                "measure": page.evaluate(measure),
                "violations": page.evaluate("() => window.__cspViolations"),
                "console": console,
            }
        finally:
            browser.close()


# The live server needs committed rows (transaction=True).
@pytest.mark.django_db(transaction=True)
def test_chart_draws_in_chromium_without_csp_violations(live_server, client, patient, psychiatrist):
    # An earlier transactional test's flush empties the formulary the data migration loaded.
    formulary.load(Medication)
    sertraline_history(patient, psychiatrist)
    log_in(client, psychiatrist)

    seen = browse(
        live_server,
        client,
        reverse("patients:chart", args=[patient.pk]),
        ready=CHARTS_DRAWN,
        measure="() => Chart.getChart(document.querySelector('.measures-scores-canvas')).data.datasets[0].data.length",
    )

    assert "style-src 'self'" in seen["csp"] and "unsafe-inline" not in seen["csp"]
    assert seen["measure"] == 3  # PHQ-9 16, 12, 6: measures.js read the json_script data under the CSP
    assert seen["violations"] == []
    assert seen["console"] == []


@pytest.mark.django_db(transaction=True)
def test_mfa_qr_code_shows_in_chromium_without_csp_violations(live_server, client):
    newcomer = factories.PsychiatristFactory(totp=False)
    log_in(client, newcomer, mfa=False)
    response = client.get(reverse("mfa_activate_totp"))
    client.post(response["Location"], {"password": DEMO_LIKE_PASSWORD})  # reauthenticate

    seen = browse(live_server, client, reverse("mfa_activate_totp"), ready=QR_SHOWN)

    assert "img-src 'self' data:" in seen["csp"]
    assert seen["violations"] == []
    assert seen["console"] == []
