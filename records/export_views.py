"""Clinic exports for quality work (records.exports): the de-identified measurement-based-care
data (psychiatrists: their care teams; clinic admins: the clinic) and the schedule (clinic
admins). A page with the date-range form; the same address with valid dates streams the CSV.
"""

from __future__ import annotations

import datetime

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from clinic.access import role_required
from clinic.models import User
from records import exports
from records.forms import DateRangeForm

staff_only = role_required(User.Role.PSYCHIATRIST, User.Role.CLINIC_ADMIN)
admin_only = role_required(User.Role.CLINIC_ADMIN)
# Five years of scores; a year of the schedule.
MEASURES_MAX_DAYS = 5 * 366
SCHEDULE_MAX_DAYS = 366


def _form(request: HttpRequest, *, max_days: int, default_days: int) -> DateRangeForm:
    if "start" in request.GET or "end" in request.GET:
        return DateRangeForm(request.GET, max_days=max_days)
    today = timezone.localdate()
    initial = {"start": today - datetime.timedelta(days=default_days), "end": today}
    return DateRangeForm(initial=initial, max_days=max_days)


def _csv(lines, name: str, start: datetime.date, end: datetime.date) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="titrate-{name}-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
    return response


@require_GET
@staff_only
def export_measures(request: HttpRequest) -> HttpResponse:
    """The form (no PHI, no audit row), or the de-identified CSV (one ``export`` row, then four
    queries whatever the number of patients: tests/records/test_exports.py)."""
    form = _form(request, max_days=MEASURES_MAX_DAYS, default_days=365)
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        return _csv(exports.measures_export(request.user, start, end, request=request), "measures", start, end)
    scope = "clinic" if request.user.role == User.Role.CLINIC_ADMIN else "care_team"
    return render(request, "records/export_measures.html", {"form": form, "scope": scope})


@require_GET
@admin_only
def export_schedule(request: HttpRequest) -> HttpResponse:
    """The form, or the schedule's CSV (one ``export`` row naming the patients in it)."""
    form = _form(request, max_days=SCHEDULE_MAX_DAYS, default_days=30)
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        return _csv(exports.schedule_export(request.user, start, end, request=request), "schedule", start, end)
    return render(request, "records/export_schedule.html", {"form": form})
