"""The clinic metrics pages (issue 24; figures defined in docs/metrics.md, computed by
clinic.metrics). Clinic admins see the clinic and any psychiatrist; a psychiatrist sees their own
figures only (docs/security.md, "Clinic metrics"). The range travels in GET as dates and a
psychiatrist's id, never a patient's. Each page and each download writes one audit row with the
range it showed: the figures are counts, but who looked at whose performance is on record."""

from __future__ import annotations

import datetime

from django import forms
from django.forms.utils import flatatt
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from clinic import audit, csv_export, metrics
from clinic.access import role_required
from clinic.date_forms import ClinicalDateField
from clinic.models import AuditEvent, User


class RangeForm(forms.Form):
    first_day = ClinicalDateField(label="From")
    last_day = ClinicalDateField(label="To (inclusive)")

    def clean(self):
        cleaned = super().clean()
        first, last = cleaned.get("first_day"), cleaned.get("last_day")
        if first and last:
            if last < first:
                self.add_error("last_day", "The end date is before the start date.")
            elif (last - first).days + 1 > metrics.MAX_RANGE_DAYS:
                self.add_error("last_day", f"Choose at most {metrics.MAX_RANGE_DAYS} days.")
        return cleaned


class OptionsInPython(forms.Select):
    """A <select> whose options are written here rather than by Django's widget templates, which
    render each option through its own template include: for a network's 60 psychiatrists that was
    ~3 ms, a quarter of the metrics page's template time (docs/performance.md, "The nightly
    count"). The same markup as forms.Select: attributes by flatatt (attrs.html's rules), every
    value and label escaped."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (option["value"], mark_safe(" selected") if option["selected"] else "", option["label"])
                for _group, group_options, _index in widget["optgroups"]
                for option in group_options
            ),
        )
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(widget["attrs"]), options)


class ClinicRangeForm(RangeForm):
    # The psychiatrists' ids and names in one query of four columns (a ModelChoiceField loaded every
    # psychiatrist's whole row through a server-side cursor, four round trips, at every view); the
    # chosen one is loaded in clean_psychiatrist.
    psychiatrist = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Figures for", widget=OptionsInPython
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = (
            User.objects.filter(role=User.Role.PSYCHIATRIST)
            .order_by("last_name", "first_name")
            .values_list("pk", "first_name", "last_name", "email")
        )
        choices = [(pk, f"{first} {last}".strip() or email) for pk, first, last, email in names]
        self.fields["psychiatrist"].choices = [("", "The whole clinic"), *choices]

    def clean_psychiatrist(self) -> User | None:
        chosen = self.cleaned_data["psychiatrist"]
        if chosen is None:
            return None
        psychiatrist = User.objects.filter(pk=chosen, role=User.Role.PSYCHIATRIST).first()
        if psychiatrist is None:  # no longer a psychiatrist since the list was read
            raise forms.ValidationError("Choose a psychiatrist from the list.")
        return psychiatrist


def _form(request: HttpRequest, form_class: type[RangeForm]) -> RangeForm:
    if request.GET:
        return form_class(request.GET)
    today = timezone.localdate()
    first = today - datetime.timedelta(days=metrics.DEFAULT_RANGE_DAYS - 1)
    return form_class({"first_day": first.isoformat(), "last_day": today.isoformat()})


def _audit(request: HttpRequest, page: str, form: RangeForm, action: str = AuditEvent.Action.VIEW) -> None:
    detail: dict = {"page": page}
    if form.is_valid():
        data = form.cleaned_data
        detail |= {"first_day": data["first_day"].isoformat(), "last_day": data["last_day"].isoformat()}
        if data.get("psychiatrist") is not None:
            detail["psychiatrist"] = data["psychiatrist"].pk
    audit.record(action, request=request, detail=detail)


def _scope(form: RangeForm, psychiatrist: User | None) -> metrics.Scope:
    data = form.cleaned_data
    return metrics.Scope(first_day=data["first_day"], last_day=data["last_day"], psychiatrist=psychiatrist)


def _page(request: HttpRequest, form: RangeForm, psychiatrist: User | None, page: str, csv_url: str) -> HttpResponse:
    figures = metrics.compute(_scope(form, psychiatrist)) if form.is_valid() else None
    _audit(request, page, form)
    context = {
        "form": form,
        "figures": figures,
        "psychiatrist": psychiatrist,
        "page_name": page,
        "late_cancel_hours": metrics.late_cancel_hours(),
    }
    if figures is not None:
        context["chart"] = chart_data(figures)
        context["csv_url"] = f"{reverse(csv_url)}?{request.GET.urlencode()}" if request.GET else reverse(csv_url)
    return render(request, "clinic/metrics.html", context)


def chart_data(figures: metrics.Metrics) -> dict:
    """What static/js/metrics.js draws; the page's tables carry the same numbers."""
    return {
        "types": {
            "labels": [row.label for row in figures.by_type],
            "no_show": [row.no_show_rate for row in figures.by_type],
            "late_cancel": [row.late_cancel_rate for row in figures.by_type],
        },
        "channels": {
            "labels": [row.label for row in figures.delivery],
            "delivery": [row.delivery_rate for row in figures.delivery],
            "confirmation": [row.confirmation_rate for row in figures.by_channel if row.channel not in ("any", "none")],
        },
    }


def csv_rows(figures: metrics.Metrics) -> list[list]:
    """Every number of the page as (section, group, measure, value) rows."""
    scope = figures.scope
    rows: list[list] = [
        ["range", "", "first_day", scope.first_day.isoformat()],
        ["range", "", "last_day", scope.last_day.isoformat()],
        ["range", "", "psychiatrist_id", scope.psychiatrist.pk if scope.psychiatrist else "clinic"],
        ["range", "", "late_cancel_hours", metrics.late_cancel_hours()],
        # Which days came from the nightly count (docs/metrics.md), and when it counted them.
        ["range", "", "counted_through", figures.counted_through.isoformat() if figures.counted_through else ""],
        ["range", "", "counted_at", figures.counted_at.isoformat() if figures.counted_at else ""],
    ]
    for row in [*figures.by_type, figures.visits]:
        for name in ("booked", "completed", "checked_in", "no_show", "late_cancel", "unmarked", "early_cancel"):
            rows.append(["visits_by_type", row.label, name, getattr(row, name)])
        rows += [
            ["visits_by_type", row.label, "no_show_rate_pct", row.no_show_rate],
            ["visits_by_type", row.label, "late_cancel_rate_pct", row.late_cancel_rate],
        ]
    for row in figures.by_channel:
        for name in ("booked", "no_show", "late_cancel", "confirmed"):
            rows.append(["visits_by_reminder_channel", row.label, name, getattr(row, name)])
        rows += [
            ["visits_by_reminder_channel", row.label, "no_show_rate_pct", row.no_show_rate],
            ["visits_by_reminder_channel", row.label, "late_cancel_rate_pct", row.late_cancel_rate],
            ["visits_by_reminder_channel", row.label, "confirmation_rate_pct", row.confirmation_rate],
        ]
    for row in [*figures.delivery, figures.delivery_total]:
        for name in ("planned", "sent", "failed", "unknown", "skipped", "cancelled", "open"):
            rows.append(["reminder_delivery", row.label, name, getattr(row, name)])
        rows.append(["reminder_delivery", row.label, "delivery_rate_pct", row.delivery_rate])
    for row in (figures.reports, figures.messages):
        for name in ("received", "answered", "waiting", "promise_days", "promise_due", "within_promise"):
            rows.append(["first_response", row.label, name, getattr(row, name)])
        rows += [
            ["first_response", row.label, "within_promise_rate_pct", row.within_promise_rate],
            ["first_response", row.label, "median_hours", row.median_hours],
            ["first_response", row.label, "p90_hours", row.p90_hours],
        ]
    for row in figures.alerts:
        for name in ("raised", "acknowledged", "escalated", "open", "median_minutes", "p90_minutes"):
            rows.append(["safety_alerts", row.label, name, getattr(row, name)])
    load = figures.caseload
    rows += [
        ["caseload", "active patients", "active", load.active],
        ["caseload", "measurement-based care", "measured", load.measured],
        ["caseload", "measurement-based care", "coverage_pct", load.coverage_rate],
        ["caseload", "overdue monitoring", "patients", load.labs_overdue],
        ["caseload", "overdue monitoring", "share_pct", load.labs_overdue_rate],
        ["caseload", "overdue reviews", "patients", load.reviews_overdue],
        ["caseload", "overdue reviews", "share_pct", load.reviews_overdue_rate],
        ["waitlist", "", "filled", figures.waitlist.filled],
        ["waitlist", "", "waiting_now", figures.waitlist.waiting_now],
    ]
    return rows


def _csv(request: HttpRequest, form: RangeForm, psychiatrist: User | None, page: str) -> HttpResponse:
    if not form.is_valid():
        _audit(request, page, form, AuditEvent.Action.EXPORT)
        return HttpResponse("Fix the range on the metrics page first.", status=400, content_type="text/plain")
    figures = metrics.compute(_scope(form, psychiatrist))
    # The row is committed before the first byte leaves, as the audit export does.
    _audit(request, page, form, AuditEvent.Action.EXPORT)
    lines = csv_export.lines(["section", "group", "measure", "value"], csv_rows(figures))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    who = f"psychiatrist-{psychiatrist.pk}" if psychiatrist else "clinic"
    data = form.cleaned_data
    response["Content-Disposition"] = (
        f'attachment; filename="titrate-metrics-{who}-{data["first_day"]:%Y%m%d}-{data["last_day"]:%Y%m%d}.csv"'
    )
    return response


def _chosen(form: ClinicRangeForm) -> User | None:
    return form.cleaned_data.get("psychiatrist") if form.is_valid() else None


@role_required(User.Role.CLINIC_ADMIN)
@require_GET
def clinic_metrics(request: HttpRequest) -> HttpResponse:
    form = _form(request, ClinicRangeForm)
    return _page(request, form, _chosen(form), "clinic_metrics", "clinic_metrics_csv")


@role_required(User.Role.CLINIC_ADMIN)
@require_GET
def clinic_metrics_csv(request: HttpRequest) -> HttpResponse:
    form = _form(request, ClinicRangeForm)
    return _csv(request, form, _chosen(form), "clinic_metrics_csv")


@role_required(User.Role.PSYCHIATRIST)
@require_GET
def my_metrics(request: HttpRequest) -> HttpResponse:
    return _page(request, _form(request, RangeForm), request.user, "my_metrics", "my_metrics_csv")


@role_required(User.Role.PSYCHIATRIST)
@require_GET
def my_metrics_csv(request: HttpRequest) -> HttpResponse:
    return _csv(request, _form(request, RangeForm), request.user, "my_metrics_csv")
