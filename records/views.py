"""The patient's own record to download (HIPAA right of access): the page that asks for it and
shows its progress, the status the page polls, and the download. Every read is the patient's own
request (records.requests.requests_for); another patient's request id is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from clinic import audit
from clinic.access import own_record_required
from patients.models import Patient
from records import requests
from records.forms import RecordRequestForm
from records.models import RecordRequest

# The page lists the last few requests (newest first).
SHOWN = 5
# While a request is open the page refreshes itself this often (without JavaScript).
REFRESH_SECONDS = 5


@own_record_required
def my_record(request: HttpRequest, patient: Patient) -> HttpResponse:
    """Ask for a copy, and see the recent requests with their progress and download links. Four
    queries (tests/records/test_record_views.py)."""
    form = RecordRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            requests.request_record(patient, by=request.user, format=form.cleaned_data["format"], request=request)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("We are preparing your record. This page shows when it is ready."))
            return redirect("records:my_record")
    audit.page(request, patient, "my_record")
    recent = list(requests.requests_for(patient)[:SHOWN])
    now = timezone.now()
    return render(
        request,
        "records/my_record.html",
        {
            "patient": patient,
            "form": form,
            "recent": recent,
            "now": now,
            "refresh": REFRESH_SECONDS if any(row.is_open for row in recent) else None,
            "link_hours": int(requests.link_ttl().total_seconds() // 3600),
        },
    )


def _own_request(patient: Patient, request_id) -> RecordRequest:
    row = get_object_or_404(requests.requests_for(patient), pk=request_id)
    row.patient = patient  # the access helper's row: no second read of the patient
    return row


@require_GET
@own_record_required
def my_record_status(request: HttpRequest, patient: Patient, request_id) -> JsonResponse:
    """What the page's script polls: the status and progress only, nothing of the record (not
    audited: it shows no PHI, and a poll every few seconds would bury the trail)."""
    row = _own_request(patient, request_id)
    ready = row.is_downloadable()
    return JsonResponse(
        {
            "status": row.status,
            "label": str(row.get_status_display()),
            "progress": row.progress,
            "download_url": reverse("records:my_record_download", args=[row.pk]) if ready else None,
        }
    )


@require_GET
@own_record_required
def my_record_download(request: HttpRequest, patient: Patient, request_id) -> HttpResponse:
    """The prepared file, while its link lasts: one ``export`` audit row per download. An expired
    or unfinished request gets a page saying so (410 Gone once expired)."""
    row = _own_request(patient, request_id)
    if not row.is_downloadable():
        if row.is_open:
            return redirect("records:my_record")
        return render(request, "records/expired.html", {"patient": patient}, status=410)
    stored = row.file
    requests.record_download(row, request=request)
    response = HttpResponse(bytes(stored.content), content_type=stored.content_type)
    response["Content-Disposition"] = f'attachment; filename="{stored.filename}"'
    return response
