"""Questionnaire pages: the patient's (fill what was asked for, see the result) and the
psychiatrist's (list, fill in a visit, ask the patient, withdraw a request).

Thin views: access first (clinic.access), then patients.questionnaires does the work.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clinic import audit, dates
from clinic.access import get_patient_for, patients_for, role_required
from clinic.models import AuditEvent, User
from patients import instruments, questionnaires
from patients.measure_forms import AssignForm, QuestionnaireForm
from patients.models import Patient, QuestionnaireAssignment, QuestionnaireResponse, VisitNote
from patients.views import add_errors

psychiatrist_only = role_required(User.Role.PSYCHIATRIST)
patient_only = role_required(User.Role.PATIENT)
Assignment, Response = QuestionnaireAssignment, QuestionnaireResponse


# -- The patient ------------------------------------------------------------------------------


def _own_record(request: HttpRequest) -> Patient:
    patient = patients_for(request.user).first()
    if patient is None:
        raise Http404("No clinic record is linked to this account.")
    return patient


@patient_only
def my_questionnaires(request: HttpRequest) -> HttpResponse:
    patient = patients_for(request.user).first()
    if patient is None:
        messages.info(request, _("Your account is not linked to a clinic record yet."))
        return redirect("patient_home")
    audit.record(
        AuditEvent.Action.VIEW, request=request, patient=patient, obj=patient, detail={"page": "my_questionnaires"}
    )
    return render(
        request,
        "patients/measures/my_list.html",
        {
            "patient": patient,
            "assignments": list(patient.questionnaire_assignments.open()),
            "responses": list(patient.questionnaire_responses.all()[:30]),
        },
    )


@patient_only
def my_questionnaire_fill(request: HttpRequest, assignment_id: int) -> HttpResponse:
    patient = _own_record(request)
    assignment = get_object_or_404(patient.questionnaire_assignments.all(), pk=assignment_id)
    if assignment.status != Assignment.Status.OPEN or not questionnaires.enabled(assignment.instrument):
        messages.info(request, _("That questionnaire is no longer waiting for you."))
        return redirect("patients:my_questionnaires")
    # The validated translation in the patient's language, or the English original with a note
    # (patients.instruments.available_in): never an ad hoc translation.
    language = get_language()
    translated = instruments.available_in(assignment.instrument, language)
    shown = instruments.localised(assignment.instrument, language)
    form = QuestionnaireForm(request.POST or None, instrument=shown)
    if request.method == "POST" and form.is_valid():
        try:
            response = questionnaires.submit(
                patient=patient,
                instrument=assignment.instrument,
                answers=form.answers(),
                completed_by=request.user,
                context=Response.Context.PORTAL,
                assignment=assignment,
                request=request,
                language=language,
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            # The result is this very response, not a redirect: on an emergency the crisis
            # resources are on the screen at once, whatever happens to the next request.
            return _my_result(request, patient, response)
    audit.page(request, patient, "my_questionnaire_fill", obj=assignment)
    return render(
        request,
        "patients/measures/my_fill.html",
        {
            "patient": patient,
            "assignment": assignment,
            "instrument": shown,
            "form": form,
            "untranslated": not translated,
        },
    )


@patient_only
def my_questionnaire_result(request: HttpRequest, response_id: int) -> HttpResponse:
    patient = _own_record(request)
    response = get_object_or_404(patient.questionnaire_responses.all(), pk=response_id)
    audit.record(AuditEvent.Action.VIEW, request=request, patient=patient, obj=response)
    return _my_result(request, patient, response)


def _my_result(request, patient, response) -> HttpResponse:
    follow_up = None
    if response.instrument in instruments.FOLLOW_UP:
        follow_up = (
            patient.questionnaire_assignments.open()
            .filter(instrument=instruments.FOLLOW_UP[response.instrument])
            .first()
        )
    return render(
        request,
        "patients/measures/my_result.html",
        {
            "patient": patient,
            "response": response,
            "instrument": instruments.localised(response.instrument, get_language()),
            "follow_up": follow_up,
            "waiting": patient.questionnaire_assignments.open().exclude(pk=getattr(follow_up, "pk", None)).count(),
        },
    )


# -- The psychiatrist -------------------------------------------------------------------------


@psychiatrist_only
def questionnaire_list(request: HttpRequest, pk: int) -> HttpResponse:
    """Every score of the patient, what is waiting for them, and a form to ask for another."""
    patient = get_patient_for(request.user, pk)
    form = AssignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            assignment = questionnaires.assign(
                patient=patient,
                instrument=form.cleaned_data["instrument"],
                due_on=form.cleaned_data["due_on"],
                assigned_by=request.user,
                request=request,
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request,
                f"{assignment.definition.name} sent to the patient, due {dates.day(assignment.due_on)}.",
            )
            return redirect("patients:questionnaire_list", patient.pk)
    audit.record(
        AuditEvent.Action.VIEW, request=request, patient=patient, obj=patient, detail={"page": "questionnaires"}
    )
    return render(
        request,
        "patients/measures/list.html",
        {
            "patient": patient,
            "form": form,
            "responses": list(patient.questionnaire_responses.select_related("completed_by")),
            "assignments": list(patient.questionnaire_assignments.select_related("assigned_by").order_by("-id")[:30]),
            "fillable": questionnaires.available(),
        },
    )


def _draft_visits(request: HttpRequest, patient: Patient):
    return VisitNote.objects.filter(patient=patient, author=request.user, status=VisitNote.Status.DRAFT).order_by(
        "-visit_at"
    )


@psychiatrist_only
def questionnaire_fill(request: HttpRequest, pk: int, instrument: str) -> HttpResponse:
    """The psychiatrist fills a questionnaire in a visit (the patient answering aloud, or a
    clinician rating such as the AIMS)."""
    patient = get_patient_for(request.user, pk)
    if not questionnaires.enabled(instrument):
        raise Http404("No such questionnaire.")
    definition = instruments.get(instrument)
    visits = _draft_visits(request, patient)
    initial = {}
    visit_id = request.GET.get("visit")
    if visit_id and visit_id.isdigit() and visits.filter(pk=visit_id).exists():
        initial["visit_note"] = int(visit_id)
    form = QuestionnaireForm(request.POST or None, instrument=definition, visit_notes=visits, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            response = questionnaires.submit(
                patient=patient,
                instrument=instrument,
                answers=form.answers(),
                completed_by=request.user,
                context=Response.Context.VISIT,
                visit_note=form.cleaned_data.get("visit_note"),
                request=request,
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{definition.name} saved: {response.total} ({response.band_label}).")
            return redirect("patients:questionnaire_detail", patient.pk, response.pk)
    audit.page(request, patient, "questionnaire_fill")
    return render(
        request,
        "patients/measures/fill.html",
        {"patient": patient, "instrument": definition, "form": form},
    )


@psychiatrist_only
def questionnaire_detail(request: HttpRequest, pk: int, response_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    response = get_object_or_404(
        patient.questionnaire_responses.select_related("completed_by", "visit_note", "assignment"), pk=response_id
    )
    audit.record(AuditEvent.Action.VIEW, request=request, patient=patient, obj=response)
    return render(
        request,
        "patients/measures/detail.html",
        {"patient": patient, "response": response, "instrument": response.definition},
    )


@require_POST
@psychiatrist_only
def questionnaire_cancel(request: HttpRequest, pk: int, assignment_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    assignment = get_object_or_404(patient.questionnaire_assignments.all(), pk=assignment_id)
    if questionnaires.cancel(assignment, actor=request.user, request=request):
        messages.success(request, f"Withdrew the {assignment.definition.name} request.")
    else:
        messages.info(request, "That request was no longer open.")
    return redirect("patients:questionnaire_list", patient.pk)
