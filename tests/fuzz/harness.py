"""Drive a form through its view with Hypothesis-generated POST data.

Each example starts from a baseline POST the view accepts and perturbs a few fields (or floods
every text field with hostile strings). The oracle:

- never a 5xx (the test client re-raises a view's exception, so Hypothesis shrinks it);
- a value the field itself refuses, or a value listed as out of range for the case, means the
  form is refused: nothing stored (the case's snapshot is unchanged), the page re-rendered with
  an error on a form;
- whatever is stored keeps typed text literally (after the form's whitespace strip);
- no page (the re-rendered form, or the page showing what was stored) has an inline <script>,
  or a hostile payload unescaped, and an accepted hostile payload shows up escaped.

Every example runs inside a savepoint rolled back afterwards, so the persona logs in once per
test and each example sees the same database.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django import forms
from django.db import transaction
from django.http import QueryDict
from django.template import Template
from django.template.context import Context
from django.test.utils import ContextList, _TestState
from django.utils.html import escape
from hypothesis import example, given, settings
from hypothesis import strategies as st

HOSTILE = [
    "<script>alert(1)</script>",
    '"><script>alert(document.cookie)</script>',
    "<img src=x onerror=alert(1)>",
    "</textarea><script>alert(2)</script>",
    "{{ request.user.password }}",
    "{% debug %}",
    "\u202eevil\u202c reversed",  # right-to-left override
    "nul\x00byte",
    "'; DROP TABLE patients_patient; --",
    "zero\u200bwidth\u200d joiner",
    "e\u0301\u0301\u0301 combining",
    "\U0001f48a\U0001f9e0 emoji",
    "\ufeffBOM",
    "\u00e9\u4e2d\U0001d4b3" * 3334,  # 10,002 characters, three scripts, one astral
]
MARKUP = [s for s in HOSTILE if "<" in s or "{{" in s or "{%" in s]

NUMBERISH = [
    "-1", "0", "-0", "0.0001", "NaN", "nan", "sNaN", "-sNaN", "Infinity", "-Infinity", "inf", "1e309", "1e-400",
    "9" * 40, "1,5", "1.000,5", "1 000", "0x10", "½", "\u0661\u0662", "", " ", "1_000", "+5", "5.", ".5",
]  # fmt: skip
DATEISH = ["2026-02-30", "2025-13-01", "0000-01-01", "0001-01-01", "9999-12-31", "1-1-1", "", "today",
           "2026/03/01", "31/12/2026", "20260101", "1e10", "2026-06-15T10:00"]  # fmt: skip
DATETIMEISH = ["0001-01-01T00:00", "9999-12-31T23:59", "2026-02-30T10:00", "2026-06-15T25:00", "2026-06-15",
               "2026-06-15 10:00:00+14:00", "", "now", "2026-03-08T02:30", "2026-11-01T01:30"]  # fmt: skip
TIMEISH = ["24:00", "25:61", "-1:00", "12:00", "23:59:59.999999", "", "noon", "7pm", "00:00"]
CHOICEISH = ["", "999999", "-1", "0", "abc", "1.5", "NaN", "' OR 1=1 --", "9" * 30, "\x00"]

SCRIPT = re.compile(r"<script\b(?![^>]*\b(?:src=|type=\"application/json\"))", re.IGNORECASE)

STATS: dict[str, Counter] = {}


def text_values(field) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(HOSTILE), st.text(max_size=60))


def values_for(field: forms.Field) -> st.SearchStrategy:
    """Raw POST values for one field: its own choices and hostile or malformed input."""
    if isinstance(field, forms.BooleanField):
        return st.sampled_from(["on", "", "false", "0", "<script>alert(1)</script>"])
    if isinstance(field, forms.DecimalField | forms.IntegerField | forms.FloatField):
        return st.one_of(
            st.sampled_from(NUMBERISH),
            st.decimals(allow_nan=True, allow_infinity=True).map(str),
            st.integers().map(str),
            st.floats().map(repr),
            st.text(max_size=8),
        )
    if isinstance(field, forms.DateTimeField):
        return st.one_of(
            st.sampled_from(DATETIMEISH),
            st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
            st.text(max_size=8),
        )
    if isinstance(field, forms.DateField):
        return st.one_of(st.sampled_from(DATEISH), st.dates().map(lambda d: d.isoformat()), st.text(max_size=12))
    if isinstance(field, forms.TimeField):
        return st.one_of(st.sampled_from(TIMEISH), st.times().map(lambda t: t.isoformat()), st.text(max_size=6))
    if isinstance(field, forms.ModelMultipleChoiceField | forms.MultipleChoiceField):
        own = [str(value) for value, _ in field.choices if str(value)] or ["1"]
        return st.lists(st.one_of(st.sampled_from(own), st.sampled_from(CHOICEISH)), max_size=4)
    if isinstance(field, forms.ModelChoiceField):
        own = [str(value) for value, _ in field.choices if str(value)]
        return st.one_of(st.sampled_from(own or ["1"]), st.sampled_from(CHOICEISH), st.text(max_size=8))
    if isinstance(field, forms.ChoiceField):
        own = [str(value) for value, _ in _flat(field.choices) if str(value)]
        return st.one_of(st.sampled_from(own or ["x"]), st.sampled_from(CHOICEISH), st.text(max_size=8))
    return text_values(field)


def _flat(choices):
    for value, label in choices:
        if isinstance(label, list | tuple):
            yield from label
        else:
            yield value, label


def is_text(field: forms.Field) -> bool:
    # Plain CharFields keep what was typed; email/URL/phone fields normalise by design.
    return type(field) is forms.CharField


@dataclass
class Case:
    """One form behind one view. ``fields`` maps POST keys to the bound form's fields."""

    name: str
    url: str
    fields: dict[str, forms.Field]
    baseline: dict
    snapshot: Callable[[], object]
    # POST keys -> values that are out of range for the clinic even if the field type allows
    # them (doses, lab values, answers); each must be refused.
    bad: dict[str, list[str]] = field(default_factory=dict)
    # What was stored, by POST key, after a successful submission (for the literal round trip).
    stored: Callable[[], dict[str, str]] | None = None
    # The page that shows what was stored.
    render_url: Callable[[], str] | None = None
    # Views that always redirect report a refused form as a message, not a re-render.
    refusal_status: tuple[int, ...] = (200,)
    fixed: frozenset[str] = frozenset()  # keys not perturbed (buttons, the questionnaire's target)
    # Out of range only next to the baseline's other values (an end before the baseline's start).
    bad_alone: dict[str, list[str]] = field(default_factory=dict)
    # Share of the profile's examples: a form reached through two views (new and edit) gets half
    # in each, so the form itself still gets the profile's count.
    share: float = 1.0
    regressions: list[dict] = field(default_factory=list)  # shrunk counterexamples, kept as explicit examples
    normalised: frozenset[str] = frozenset()  # text keys the form normalises on purpose (country codes)
    _strategies: dict = field(default_factory=dict, repr=False)

    def strategy(self, key: str) -> st.SearchStrategy:
        # Built once per key: a model choice field's choices are a query.
        if key not in self._strategies:
            strategy = values_for(self.fields[key])
            if self.bad.get(key):
                strategy = st.one_of(st.sampled_from(self.bad[key]), strategy)
            self._strategies[key] = strategy
        return self._strategies[key]

    def perturbable(self) -> list[str]:
        return sorted(k for k in self.fields if k not in self.fixed)

    def text_keys(self) -> list[str]:
        return [k for k in self.perturbable() if is_text(self.fields[k])]


def form_fields(*bound_forms) -> dict[str, forms.Field]:
    """POST key -> field for forms and formsets built as the view builds them."""
    out = {}
    for form in bound_forms:
        if isinstance(form, forms.BaseFormSet):
            out |= form_fields(form.management_form, *form.forms)
            continue
        out |= {form.add_prefix(name): f for name, f in form.fields.items()}
    return out


@st.composite
def perturbations(draw, case: Case) -> dict:
    if draw(st.integers(0, 4)) == 0 and case.text_keys():
        # Flood: every text field hostile at once, each within its length, so the form can
        # be accepted and every payload has to come back escaped.
        flood = {}
        for key in case.text_keys():
            limit = case.fields[key].max_length or 100_000
            fitting = [h for h in HOSTILE if "\x00" not in h and len(h) <= limit]
            if fitting:
                flood[key] = draw(st.sampled_from(fitting))
        return flood
    keys = draw(st.lists(st.sampled_from(case.perturbable()), unique=True, max_size=3))
    out = {}
    for key in keys:
        out[key] = draw(case.strategy(key))
    return out


def _post_data(case: Case, changes: dict) -> dict:
    data = dict(case.baseline)
    for key, value in changes.items():
        if value == [] or value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def field_refuses(case: Case, key: str, data: dict) -> bool:
    query = QueryDict(mutable=True)
    for k, v in data.items():
        query.setlist(k, v if isinstance(v, list) else [v])
    f = case.fields[key]
    if isinstance(f, forms.DateTimeField):
        # Parsed in the viewer's time zone inside the view, not in the test's: only the case's
        # explicit out-of-range values are predicted for these.
        return False
    value = f.widget.value_from_datadict(query, {}, key)
    try:
        f.clean(value)
    except forms.ValidationError:
        return True
    return False


def _unpredictable(key: str, changes: dict) -> bool:
    """A formset member's field counts only if the management form still includes that form."""
    return bool(re.match(r"^[\w]+-\d+-", key)) and any(k.endswith("_FORMS") for k in changes)


def _typed(f: forms.Field) -> bool:
    """A value the user types, so a refusal must say why on the page. Choices and hidden
    inputs only carry other values when the request is tampered with."""
    return not isinstance(f, forms.ChoiceField | forms.ModelChoiceField) and not f.widget.is_hidden


def _contexts(response):
    ctx = response.context
    if ctx is None:
        return []
    return list(ctx) if isinstance(ctx, ContextList) else [ctx]


ERROR_MARKUP = ("is-invalid", "invalid-feedback", "errorlist", "alert-danger", 'aria-invalid="true"')


def form_errors(response) -> bool:
    if response.context is None:  # rendering not instrumented (see fast_templates)
        html = response.content.decode()
        return any(marker in html for marker in ERROR_MARKUP)
    for ctx in _contexts(response):
        dicts = ctx.dicts if isinstance(ctx, Context) else [ctx]
        for d in dicts:
            for value in d.values() if isinstance(d, dict) else []:
                if isinstance(value, forms.BaseForm) and value.is_bound and value.errors:
                    return True
                if isinstance(value, forms.BaseFormSet) and value.is_bound and value.total_error_count():
                    return True
    return False


def assert_escaped(html: str, sent: list[str]) -> None:
    inline = SCRIPT.search(html)
    assert inline is None, f"inline script in page: {html[max(0, inline.start() - 200) : inline.start() + 200]}"
    for value in sent:
        if value in MARKUP and ("<" in value):
            assert value.strip() not in html, f"unescaped {value!r} in page"


def check(client, case: Case, changes: dict) -> str:
    """One example; returns "stored" or "refused"."""
    data = _post_data(case, changes)
    must_refuse = (
        any(
            v in case.bad.get(k, ())
            for k, v in changes.items()
            if isinstance(v, str) and not _unpredictable(k, changes)
        )
        or (len(changes) == 1 and any(v in case.bad_alone.get(k, ()) for k, v in changes.items()))
        or any(field_refuses(case, k, data) for k in changes if k in case.fields and not _unpredictable(k, changes))
    )
    sid = transaction.savepoint()
    try:
        before = case.snapshot()
        response = client.post(case.url, data)
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 302:
            assert "/accounts/login" not in response["Location"], "the persona was logged out"
        sent = [v for v in changes.values() if isinstance(v, str)]
        if response.status_code == 200:
            assert_escaped(response.content.decode(), sent)
        changed = case.snapshot() != before
        if must_refuse:
            assert not changed, f"{case.name}: stored although refused input {changes!r}"
            assert response.status_code in case.refusal_status, response.status_code
            typed = [k for k in changes if k in case.fields and _typed(case.fields[k]) and field_refuses(case, k, data)]
            if response.status_code == 200 and (typed or not any(k in case.fields for k in changes)):
                assert form_errors(response), f"{case.name}: refused without a form error"
            return "must_refuse"
        if not changed:
            return "refused"
        stored = case.stored() if case.stored else {}
        for key, value in changes.items():
            if (
                key in stored
                and key not in case.normalised
                and isinstance(value, str)
                and value.strip()
                and is_text(case.fields[key])
            ):
                assert stored[key] == value.strip(), f"{key}: stored {stored[key][:80]!r}, sent {value[:80]!r}"
        # The page showing the record is fetched when hostile text went in (it is what it tests).
        hostile = [
            v.strip()
            for k, v in changes.items()
            if v in HOSTILE and is_text(case.fields[k]) and (not case.stored or k in stored)
        ]
        if case.render_url and hostile:
            page = client.get(case.render_url())
            assert page.status_code == 200
            html = page.content.decode()
            assert_escaped(html, sent)
            accepted = [v for v in hostile if v in MARKUP]
            if accepted:
                assert any(escape(v) in html for v in accepted), "accepted hostile text not shown escaped"
        return "stored"
    finally:
        transaction.savepoint_rollback(sid)


@contextmanager
def fast_templates():
    """Render templates without the test runner's instrumentation, which copies the context
    of every template rendered (each <option> of a widget) and triples the time of a form page.
    Form errors are then read from the HTML."""
    saved = getattr(_TestState, "saved_data", None)
    if saved is None:
        yield
        return
    instrumented = Template._render
    Template._render = saved.template_render
    try:
        yield
    finally:
        Template._render = instrumented


def run(client, case: Case) -> Counter:
    """Fuzz one case under the loaded Hypothesis profile; every out-of-range value is also
    tried once on its own (explicit examples, whatever the profile)."""
    stats = STATS.setdefault(case.name, Counter())
    started = time.monotonic()

    def one(changes):
        outcome = check(client, case, changes)
        stats["examples"] += 1
        stats[outcome] += 1
        if outcome == "must_refuse":
            stats["refused"] += 1

    test = given(changes=perturbations(case))(one)
    if case.share != 1.0:
        test = settings(max_examples=max(1, round(settings.default.max_examples * case.share)))(test)
    for key, values in [*case.bad.items(), *case.bad_alone.items()]:
        for value in values:
            test = example(changes={key: value})(test)
    # NUL in any field: Django refuses it for text, and nothing else may turn it into a 500.
    for key in case.perturbable():
        if not isinstance(case.fields[key], forms.BooleanField):
            test = example(changes={key: "nul\x00byte"})(test)
    for changes in case.regressions:
        test = example(changes=changes)(test)
    test = example(changes={})(test)
    with fast_templates():
        test()
    stats["seconds"] += time.monotonic() - started
    # The fuzz proves something only if both sides were reached.
    assert stats["stored"] > 0, f"{case.name}: no example was stored; the baseline is wrong"
    assert stats["refused"] > 0, f"{case.name}: nothing was refused"
    if case.bad:
        assert stats["must_refuse"] >= sum(len(v) for v in case.bad.values())
    return stats
