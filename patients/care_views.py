"""The safety and relapse-prevention plan, and sharing a summary with the outside therapist:
the psychiatrist's pages, the patient's own pages and the therapist's single-use link."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from clinic import audit
from clinic.access import get_patient_for, own_record_required, role_required, token_access
from clinic.models import ConsentRecord, User
from medications.models import Prescription, PrescriptionEvent
from patients import safety_plans, sharing
from patients.models import QuestionnaireResponse, SafetyPlan
from patients.views import add_errors

psychiatrist_only = role_required(User.Role.PSYCHIATRIST)
# A first share covers this much history of medication changes.
FIRST_SHARE_LOOKBACK = datetime.timedelta(days=90)


class SafetyPlanForm(forms.ModelForm):
    class Meta:
        model = SafetyPlan
        fields = safety_plans.SECTION_NAMES
        labels = dict(SafetyPlan.SECTIONS)
        widgets = {name: forms.Textarea(attrs={"rows": 3}) for name in safety_plans.SECTION_NAMES}
        help_texts = {
            "professionals": "Names and numbers: the clinic, the therapist, 988, the local emergency department.",
            "medication_plan": "E.g. talk to us before stopping or changing a dose; who holds the medicines if needed.",
        }


# -- The psychiatrist: write the plan, see its history ----------------------------------------


@psychiatrist_only
def safety_plan(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    versions = list(patient.safety_plans.select_related("author").order_by("-version"))
    current = versions[0] if versions else None
    shown = current
    if request.GET.get("version", "").isdigit():
        shown = next((plan for plan in versions if plan.version == int(request.GET["version"])), current)
    form = SafetyPlanForm(request.POST or None, instance=None, initial=(
        {name: getattr(current, name) for name in safety_plans.SECTION_NAMES} if current else None
    ))  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            plan = safety_plans.save_version(patient, author=request.user, request=request, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Safety plan saved as version {plan.version}. The patient sees it now.")
            return redirect("patients:safety_plan", patient.pk)
    audit.page(request, patient, "safety_plan", obj=shown)
    return render(
        request,
        "patients/safety_plan.html",
        {"patient": patient, "form": form, "versions": versions, "current": current, "shown": shown},
    )


# -- The patient: read and print the plan; consent to sharing ---------------------------------


@own_record_required
def my_safety_plan(request: HttpRequest, patient) -> HttpResponse:
    plan = safety_plans.current(patient)
    audit.page(request, patient, "my_safety_plan", obj=plan)
    return render(request, "patients/my_safety_plan.html", {"patient": patient, "plan": plan})


def _contacts(patient):
    return patient.care_contacts.filter(is_active=True).order_by("kind", "name")


@own_record_required
def my_care_contacts(request: HttpRequest, patient) -> HttpResponse:
    """The patient's outside care contacts, their consent to share with each, and its history."""
    contacts = list(_contacts(patient))
    history = (
        ConsentRecord.objects.filter(care_contact__patient=patient)
        .select_related("care_contact", "recorded_by")
        .order_by("-recorded_at", "-id")[:50]
    )
    audit.page(request, patient, "my_care_contacts")
    return render(
        request, "patients/my_care_contacts.html", {"patient": patient, "contacts": contacts, "history": history}
    )


@require_POST
@own_record_required
def my_care_contact_consent(request: HttpRequest, patient, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(_contacts(patient), pk=contact_id)
    granted = request.POST.get("consent") == "grant"
    sharing.set_consent(contact, granted=granted, by=request.user, request=request)
    if granted:
        messages.success(request, f"Your psychiatrist may now send {contact.name} a summary through a secure link.")
    else:
        messages.success(request, f"Sharing with {contact.name} stopped. Links already sent no longer open.")
    return redirect("patients:my_care_contacts")


# -- The summary: what the therapist reads --------------------------------------------------------


def summary(patient, *, since: datetime.datetime) -> dict:
    """The minimum necessary for an outside therapist: current medicines, their changes since
    ``since``, the latest score of each questionnaire, and the safety plan. No notes, no
    diagnoses' details, no contact details."""
    latest: dict[str, QuestionnaireResponse] = {}
    for response in QuestionnaireResponse.objects.filter(patient=patient).order_by("-submitted_at", "-id")[:50]:
        latest.setdefault(response.instrument, response)
    return {
        "medications": Prescription.objects.active().filter(patient=patient).select_related("medication"),
        "changes": PrescriptionEvent.objects.filter(prescription__patient=patient, created_at__gte=since)
        .select_related("prescription__medication")
        .order_by("-effective_date", "-id"),
        "since": since,
        "scores": sorted(latest.values(), key=lambda response: response.instrument),
        "plan": safety_plans.current(patient),
    }


@psychiatrist_only
def share_summary(request: HttpRequest, pk: int, contact_id: int) -> HttpResponse:
    """What the contact would get (a preview) and the button that sends the link."""
    patient = get_patient_for(request.user, pk)
    contact = get_object_or_404(patient.care_contacts, pk=contact_id)
    if request.method == "POST":
        try:
            sharing.send(contact, by=request.user, request=request)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"A secure link was emailed to {contact.name}. It works once, for 7 days.")
            return redirect("patients:chart", patient.pk)
    previous = contact.shares.order_by("-created_at").first()
    since = previous.created_at if previous else timezone.now() - FIRST_SHARE_LOOKBACK
    audit.page(request, patient, "share_summary", obj=contact)
    return render(
        request,
        "patients/share_summary.html",
        {
            "patient": patient,
            "contact": contact,
            "problem": sharing.problem(contact),
            "previous": previous,
            "shares": contact.shares.select_related("sent_by")[:10],
            **summary(patient, since=since),
        },
    )


@never_cache  # an anonymous page, so the session middleware does not mark it; it shows a record
@require_http_methods(["GET", "POST"])
@token_access("A single-use link emailed to the patient's therapist with the patient's consent (patients.sharing)")
def shared_summary(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page with one button, so a mail scanner following the link does not use it up.
    POST: the summary, once; every open is audited and shown to the patient."""
    try:
        share = sharing.open_share(token, request=request) if request.method == "POST" else sharing.check_link(token)
    except sharing.ShareUnavailable as error:
        return render(request, "patients/shared_summary.html", {"unavailable": str(error)}, status=410)
    if request.method == "GET":
        return render(request, "patients/shared_summary.html", {"share": share, "ready": True})
    previous = sharing.previous_share(share)
    since = previous.created_at if previous else share.created_at - FIRST_SHARE_LOOKBACK
    context = {"share": share, "patient": share.patient, "contact": share.care_contact}
    return render(request, "patients/shared_summary.html", {**context, **summary(share.patient, since=since)})
