"""A small browser for the harness: real login (password, then TOTP for staff), and forms filled
from the page's own HTML (CSRF token, the offered choices) so the requests are the ones a person's
browser would send."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import requests

from tests.totp import totp_code


class FormParser(HTMLParser):
    """Collects every <form>: its action, method and fields with the values a person might pick."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                          "fields": {}, "choices": {}, "required": set()}  # fmt: skip
            self.forms.append(self._form)
        if self._form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("radio", "checkbox"):
                self._form["choices"].setdefault(name, []).append(a.get("value", "on"))
                if "checked" in a:
                    self._form["fields"].setdefault(name, a.get("value", "on"))
            elif kind not in ("submit", "button", "file"):
                self._form["fields"][name] = a.get("value", "")
            if "required" in a:
                self._form["required"].add(name)
        elif tag == "select" and name:
            self._select = name
            self._form["choices"].setdefault(name, [])
            if "required" in a:
                self._form["required"].add(name)
        elif tag == "option" and self._select:
            value = a.get("value")
            if value:
                self._form["choices"][self._select].append(value)
                if "selected" in a:
                    self._form["fields"][self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            self._form["fields"][name] = ""
            if "required" in a:
                self._form["required"].add(name)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def forms(html: str) -> list[dict]:
    parser = FormParser()
    parser.feed(html)
    return [f for f in parser.forms if f["method"] == "post"]


def fill(form: dict, overrides: dict | None = None) -> dict:
    """Every required field gets a plausible value: the first choice offered, a word of text."""
    data = dict(form["fields"])
    for name, values in form["choices"].items():
        if name not in data and values:
            data[name] = values[0]
    for name in form["required"]:
        if not data.get(name):
            data[name] = "ok"
    data.update(overrides or {})
    return {k: v for k, v in data.items() if v is not None}


class Browser:
    def __init__(self, base_url: str, timeout: float = 30):
        self.base = base_url
        self.session = requests.Session()
        self.timeout = timeout

    def get(self, path: str, **kw) -> requests.Response:
        return self.session.get(self.base + path, timeout=self.timeout, allow_redirects=False, **kw)

    def post(self, path: str, data: dict, **kw) -> requests.Response:
        return self.session.post(self.base + path, data=data, timeout=self.timeout, allow_redirects=False, **kw)

    def form_on(self, path: str, match=None) -> tuple[requests.Response, dict | None]:
        response = self.get(path)
        if response.status_code != 200:
            return response, None
        candidates = [f for f in forms(response.text) if "csrfmiddlewaretoken" in f["fields"]]
        if match:
            candidates = [f for f in candidates if match(f)]
        return response, (candidates[0] if candidates else None)

    def login(self, email: str, password: str, *, staff: bool) -> None:
        _, form = self.form_on("/accounts/login/", lambda f: "login" in f["fields"])
        response = self.post("/accounts/login/", fill(form, {"login": email, "password": password}))
        if response.status_code != 302:
            raise RuntimeError(f"login of {email} answered {response.status_code}")
        if staff:
            _, form = self.form_on("/accounts/2fa/authenticate/", lambda f: "code" in f["fields"])
            code = totp_code()
            response = self.post("/accounts/2fa/authenticate/", fill(form, {"code": code}))
            if response.status_code != 302:
                # The code may have rolled over between computing and checking it: one more try.
                time.sleep(1)
                response = self.post("/accounts/2fa/authenticate/", fill(form, {"code": totp_code()}))
            if response.status_code != 302:
                raise RuntimeError(f"TOTP step of {email} answered {response.status_code}")


_START = re.compile(r'name="start"\s+value="([^"]+)"')


def offered_starts(html: str) -> list[str]:
    return _START.findall(html)
