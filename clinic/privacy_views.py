"""Reviewing the audit trail (HIPAA 164.312(b) "examine"), patients' "who viewed my record",
and emergency ("break-glass") access to a chart outside one's care team.

Privacy officers are users holding ``clinic.view_audit_log`` (the "Privacy officer" group,
granted in the Django admin; superusers hold every permission). Filters travel in GET as ids
and dates only — never a name — so no PHI lands in a URL or an access log. Every page here
writes its own audit row: reviewing the log is itself audited.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from clinic import audit, spreadsheet
from clinic.access import patients_for, permission_required, role_required
from clinic.models import AuditEvent, BreakGlassGrant, User
from patients import break_glass as break_glass_service
from patients.models import Patient

PERMISSION = "clinic.view_audit_log"
PAGE_SIZE = 50
RECORD_ACCESS_DAYS = 90
REASON_MIN_LENGTH = 20


# Anonymous users go to the login page; anyone without the permission gets 403.
privacy_officer_required = permission_required(PERMISSION)


# -- The audit log ----------------------------------------------------------------------------


MAX_ID = 2**63 - 1
DATE_BOUNDS = [
    MinValueValidator(datetime.date(2000, 1, 1), "Choose a date from 2000 on."),
    MaxValueValidator(datetime.date(2100, 12, 31), "Choose a date before 2101."),
]


class AuditFilterForm(forms.Form):
    # Ids are 64-bit: a larger number is no id (SQLite cannot even bind it: a 500 found by fuzzing).
    patient = forms.IntegerField(label="Patient id", required=False, min_value=1, max_value=MAX_ID)
    user = forms.IntegerField(label="User id", required=False, min_value=1, max_value=MAX_ID)
    # Bounded: the day after date_to is computed, and year 9999 has none (a 500 found by fuzzing).
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}), validators=DATE_BOUNDS
    )
    date_to = forms.DateField(
        label="To (inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"}), validators=DATE_BOUNDS
    )
    break_glass = forms.BooleanField(label="Emergency access only", required=False)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def as_detail(self) -> dict:
        """The filters, for the reviewer's own audit row (ids and dates only)."""
        data = self.cleaned_data if self.is_valid() else {}
        return {
            key: value.isoformat() if isinstance(value, datetime.date) else value
            for key, value in data.items()
            if value not in (None, False, "")
        }


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def filtered_events(form: AuditFilterForm) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("actor", "patient").order_by("-occurred_at", "-id")
    if not form.is_valid():
        return events.none()
    data = form.cleaned_data
    if data["patient"]:
        about = Q(patient_id=data["patient"])
        if connection.vendor == "postgresql":
            # List pages (home, inbox, calendars) name the patients they showed in detail.
            about |= Q(detail__patient_ids__contains=[data["patient"]])
        events = events.filter(about)
    if data["user"]:
        events = events.filter(actor_id=data["user"])
    if data["date_from"]:
        events = events.filter(occurred_at__gte=_day_start(data["date_from"]))
    if data["date_to"]:
        events = events.filter(occurred_at__lt=_day_start(data["date_to"] + datetime.timedelta(days=1)))
    if data["break_glass"]:
        events = events.filter(Q(detail__has_key="break_glass") | Q(action=AuditEvent.Action.BREAK_GLASS))
    return events


@require_GET
@privacy_officer_required
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    if not request.GET:
        form = AuditFilterForm({"date_from": (timezone.localdate() - datetime.timedelta(days=7)).isoformat()})
    page = Paginator(filtered_events(form), PAGE_SIZE).get_page(request.GET.get("page"))
    audit.record(
        AuditEvent.Action.VIEW,
        request=request,
        detail={"page": "audit_log", "filters": form.as_detail(), "page_number": page.number},
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "privacy/audit_log.html",
        {"form": form, "page": page, "query": query.urlencode(), "break_glass_action": AuditEvent.Action.BREAK_GLASS},
    )


CSV_HEADER = [
    "occurred_at_utc",
    "event_id",
    "actor_id",
    "actor_email",
    "actor_role",
    "action",
    "patient_id",
    "patient_mrn",
    "object_type",
    "object_id",
    "break_glass_grant",
    "ip_address",
    "user_agent",
    "detail",
]


def _csv_rows(events: QuerySet[AuditEvent]) -> Iterator[str]:
    import json

    writer = csv.writer(spreadsheet.Echo())
    yield writer.writerow(CSV_HEADER)
    for event in events.iterator(chunk_size=500):
        yield writer.writerow(
            [
                spreadsheet.cell(value)
                for value in (
                    event.occurred_at.astimezone(datetime.UTC).isoformat(),
                    event.pk,
                    event.actor_id,
                    event.actor.email if event.actor else "",
                    event.actor_role,
                    event.action,
                    event.patient_id,
                    event.patient.mrn if event.patient else "",
                    event.object_type,
                    event.object_id,
                    event.detail.get("break_glass", ""),
                    event.ip_address,
                    event.user_agent,
                    json.dumps(event.detail, sort_keys=True),
                )
            ]
        )


@require_GET
@privacy_officer_required
def audit_export(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        messages.error(request, "Fix the filters before exporting.")
        return redirect("privacy_audit_log")
    events = filtered_events(form)
    # The export's own row comes first: it is committed before the first byte leaves.
    audit.record(
        AuditEvent.Action.EXPORT,
        request=request,
        detail={"page": "audit_export", "filters": form.as_detail(), "rows": events.count()},
    )
    response = StreamingHttpResponse(_csv_rows(events), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="titrate-audit-{stamp}.csv"'
    return response


@require_GET
@privacy_officer_required
def break_glass_review(request: HttpRequest) -> HttpResponse:
    grants = BreakGlassGrant.objects.select_related("user", "patient", "cosigned_by").order_by("-started_at", "-id")
    page = Paginator(grants, PAGE_SIZE).get_page(request.GET.get("page"))
    audit.record_list(request, "break_glass_review", [grant.patient_id for grant in page])
    return render(request, "privacy/break_glass_review.html", {"page": page, "now": timezone.now()})


# -- Patients: who viewed my record -----------------------------------------------------------


@require_GET
@role_required(User.Role.PATIENT)
def record_access(request: HttpRequest) -> HttpResponse:
    """Staff who opened this patient's record in the last 90 days, newest first, and each open of a
    summary shared with an outside clinician. Their own views, log-ins and list pages that merely
    named them are left out."""
    patient = patients_for(request.user).first()
    events = AuditEvent.objects.none()
    if patient is not None:
        since = timezone.now() - datetime.timedelta(days=RECORD_ACCESS_DAYS)
        events = (
            AuditEvent.objects.filter(
                # Staff, and outside clinicians opening a summary shared with them (patients.sharing).
                Q(actor_role__in=[User.Role.PSYCHIATRIST, User.Role.CLINIC_ADMIN])
                | Q(actor__isnull=True, action=AuditEvent.Action.VIEW, object_type="patients.SummaryShare"),
                patient=patient,
                occurred_at__gte=since,
            )
            .exclude(actor=request.user)
            .select_related("actor")
            .order_by("-occurred_at", "-id")
        )
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    if patient is not None:
        audit.page(request, patient, "record_access")
    return render(
        request,
        "privacy/record_access.html",
        {
            "patient": patient,
            "page": page,
            "days": RECORD_ACCESS_DAYS,
            "zone": request.user.zone,
            "roles": dict(User.Role.choices),
        },
    )


# -- Emergency access -------------------------------------------------------------------------


NO_CHART = "No chart was opened for this MRN. Check it with the patient or whoever referred them."


class BreakGlassForm(forms.Form):
    mrn = forms.CharField(label="Medical record number (MRN)", max_length=32)
    reason_code = forms.ChoiceField(
        label="Reason", choices=BreakGlassGrant.Reason.choices, widget=forms.RadioSelect, help_text=""
    )
    reason = forms.CharField(
        label="What is happening, in your own words",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"At least {REASON_MIN_LENGTH} characters, in words. Privacy officers read it.",
    )
    cosigner_email = forms.EmailField(label="Second psychiatrist's sign-in email", required=False)
    cosigner_password = forms.CharField(
        label="Their password", required=False, max_length=128, strip=False, widget=forms.PasswordInput
    )
    cosigner_code = forms.CharField(label="Their authenticator code", required=False, max_length=12)

    COSIGN_FIELDS = ("cosigner_email", "cosigner_password", "cosigner_code")

    def __init__(self, *args, cosign_required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.cosign_required = cosign_required
        for name in self.COSIGN_FIELDS:
            if cosign_required:
                self.fields[name].required = True
            else:
                del self.fields[name]

    def clean_mrn(self):
        return self.cleaned_data["mrn"].strip().upper()

    def clean_reason(self):
        reason = " ".join(self.cleaned_data["reason"].split())
        if len(reason) < REASON_MIN_LENGTH:
            raise forms.ValidationError(f"State the reason in at least {REASON_MIN_LENGTH} characters.")
        problem = break_glass_service.filler_problem(reason)
        if problem:
            raise forms.ValidationError(problem)
        return reason


@role_required(User.Role.PSYCHIATRIST)
def break_glass(request: HttpRequest) -> HttpResponse:
    """POST only carries the MRN and the reason: neither ever lands in a URL.

    Every refusal is decided before the MRN is looked up and says nothing about it, and an unknown
    MRN gets the same form again with NO_CHART: the page never tells whether a record exists
    except by opening it, which is the audited, notified emergency access itself.
    """
    data = request.POST if request.method == "POST" else None  # an empty POST is a refused attempt too
    form = BreakGlassForm(data, cosign_required=break_glass_service.cosign_required(request.user))
    if data is None:
        return _break_glass_page(request, form)
    valid = form.is_valid()
    # On a refusal, looked up for its audit row only: the answer does not depend on it.
    mrn = form.cleaned_data.get("mrn")
    patient = Patient.objects.filter(mrn=mrn).first() if mrn else None
    if not valid:
        refused = sorted({"cosigner" if name.startswith("cosigner") else name for name in form.errors})
        break_glass_service.refuse(user=request.user, request=request, refused=refused, patient=patient)
        return _break_glass_page(request, form)
    if patient is not None and patients_for(request.user).filter(pk=patient.pk).exists():
        messages.info(request, "You already have access to this chart.")
        return redirect("patients:chart", patient.pk)
    cosigner = None
    if form.cosign_required:
        try:
            cosigner = break_glass_service.verify_cosigner(
                request,
                requester=request.user,
                email=form.cleaned_data["cosigner_email"],
                password=form.cleaned_data["cosigner_password"],
                code=form.cleaned_data["cosigner_code"],
            )
        except break_glass_service.CosignError as error:
            form.add_error("cosigner_email", str(error))
            break_glass_service.refuse(user=request.user, request=request, refused=["cosigner"], patient=patient)
            return _break_glass_page(request, form)
    if patient is None:
        form.add_error("mrn", NO_CHART)
        break_glass_service.refuse(user=request.user, request=request, refused=["mrn"], patient=None)
        return _break_glass_page(request, form)
    grant = break_glass_service.start(
        user=request.user,
        patient=patient,
        reason_code=form.cleaned_data["reason_code"],
        reason=form.cleaned_data["reason"],
        cosigner=cosigner,
        request=request,
    )
    local_end = timezone.localtime(grant.expires_at)
    messages.warning(
        request,
        f"Emergency access until {local_end:%H:%M}. Everything you open is flagged for the privacy officer.",
    )
    return redirect("patients:chart", patient.pk)


def _break_glass_page(request: HttpRequest, form: BreakGlassForm) -> HttpResponse:
    return render(
        request,
        "privacy/break_glass.html",
        {
            "form": form,
            "minutes": settings.TITRATE_BREAK_GLASS_MINUTES,
            "daily_cap": settings.TITRATE_BREAK_GLASS_DAILY_CAP,
        },
    )
