"""What every journey does on every page: run axe-core, watch for CSP violations and script
errors, save a screenshot; and the pieces of a real sign-in (password, then a TOTP code typed)."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page, expect

from clinic.models import Notification
from tests.factories import DEMO_LIKE_PASSWORD
from tests.totp import totp_code

ROOT = Path(__file__).resolve().parents[2]
# Screenshots, named journey-label.png: journeys have distinct names, so parallel workers do not clash.
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", ROOT / "tmp" / "artifacts"))

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "en-US"}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-US",
}

AXE_VERSION = "4.14.1"
AXE_URL = f"/static/vendor/axe-core-{AXE_VERSION}/axe.min.js"
# WCAG 2.0-2.2 A and AA, plus axe's best practices (landmarks, one h1, heading order, regions).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + n.failureSummary.replace(/\\s+/g, " ")),
  }));
}"""
# Registered before any page script: the browser fires this for each thing the CSP blocks.
RECORD_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""
CHARTS_SETTLED = """() => !window.Chart || Array.from(document.querySelectorAll("canvas")).every((c) => {
  const chart = Chart.getChart(c);
  return !chart || !Chart.animator.running(chart);
})"""


@dataclass
class Journey:
    """One user's browser tab. check() after every page load; finish() proves none was missed."""

    page: Page
    base_url: str
    name: str
    artifacts: Path
    checked: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    axe_runs: int = 0

    def __post_init__(self):
        self.page.add_init_script(RECORD_CSP)
        self.page.on("load", lambda page: self.loaded.append(self._path(page.url)))
        self.page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        self.page.on("console", self._console)
        self.page.set_default_timeout(15_000)

    def _path(self, url: str) -> str:
        return url.removeprefix(self.base_url).split("#")[0]

    def _console(self, message):
        if message.type == "error":
            self.problems.append(f"console: {message.text} ({message.location.get('url', '')})")

    def goto(self, path: str, screenshot: str | None = None):
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        self.check(screenshot)
        return response

    def follow(self, action, screenshot: str | None = None) -> None:
        """Do something that loads a new page (a tap, an Enter), wait for it, then check() it."""
        with self.page.expect_navigation(wait_until="load"):
            action()
        self.check(screenshot)

    def check(self, screenshot: str | None = None) -> None:
        """axe-core on the page as it is now: no serious or critical violation, no CSP violation."""
        page = self.page
        page.wait_for_load_state("load")
        # axe comes from the app's own static files: an injected inline copy would be (rightly)
        # refused by the strict CSP, and bypassing the CSP would hide the violations checked here.
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.add_script_tag(url=self.base_url + AXE_URL)
        violations = page.evaluate(RUN_AXE, AXE_TAGS)
        self.axe_runs += 1
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        path = self._path(page.url)
        assert serious == [], f"axe on {path}:\n" + "\n".join(
            f"{v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in serious
        )
        csp = page.evaluate("() => window.__cspViolations || []")
        assert csp == [], f"CSP violations on {path}: {csp}"
        assert self.problems == [], f"script errors by {path}: {self.problems}"
        self.checked.append(path)
        if screenshot:
            self.screenshot(screenshot)

    def screenshot(self, label: str, full_page: bool = True) -> Path:
        # Chart.js animates its lines in; wait until they have landed so the picture is whole.
        self.page.wait_for_function(CHARTS_SETTLED, timeout=5_000)
        target = self.artifacts / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(target), full_page=full_page, animations="disabled", caret="hide")
        return target

    def finish(self) -> None:
        unchecked = [path for path in self.loaded if path not in self.checked]
        assert unchecked == [], f"pages loaded but never checked with axe: {unchecked}"
        assert self.axe_runs >= len(set(self.loaded))

    # -- Signing in --------------------------------------------------------------------------

    def sign_in(self, email: str, *, totp: bool) -> None:
        page = self.page
        self.goto("/accounts/login/")
        page.get_by_label(re.compile("email", re.I)).fill(email)
        page.get_by_label("Password").fill(DEMO_LIKE_PASSWORD)
        page.get_by_role("button", name=re.compile("sign in", re.I)).click()
        if totp:
            expect(page).to_have_url(re.compile("/accounts/2fa/authenticate/"))
            self.check()
            page.get_by_label(re.compile("code", re.I)).fill(totp_code())
            page.get_by_role("button", name=re.compile("sign in|verify|continue", re.I)).click()
        page.wait_for_load_state("load")
        self.check()


def press_until_focused(page: Page, selector: str, *, key: str = "Tab", limit: int = 80) -> None:
    """Keyboard only: press Tab until the element matching selector has focus."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{selector} never received focus after {limit} presses of {key}")


def focus_is_visible(page: Page) -> bool:
    """The focused element draws a visible focus indicator (an outline or a box-shadow ring)."""
    return page.evaluate(
        """() => {
      const el = document.activeElement;
      if (!el || el === document.body) return false;
      const s = getComputedStyle(el);
      const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2;
      return outline || (s.boxShadow && s.boxShadow !== "none");
    }"""
    )


def wait_for_rows(query, count: int, timeout: float = 20.0):
    """Poll until query has count rows: the worker delivers in its own process and time."""
    deadline = time.monotonic() + timeout
    while True:
        rows = list(query)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.25)


def delivered(kind: str, *about, **filters) -> list:
    """Rows of this kind that reached the end of the pipeline (sent by the worker)."""
    return wait_for_rows(
        (Notification.objects.about(*about) if about else Notification.objects)
        .filter(kind=kind, status=Notification.Status.SENT, **filters)
        .order_by("created_at"),
        1,
    )


def see_message(page, text, *, role: str = "status") -> None:
    """A message after an action, in the live region: role=status for news, alert for errors."""
    expect(page.locator(f"[aria-live] [role={role}]", has_text=text)).to_be_visible()
