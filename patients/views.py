from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic import audit
from clinic.access import get_patient_for, patients_for, role_required
from clinic.models import AuditEvent, User
from medications import allergies as allergy_record
from medications import monitoring
from patients import chart as chart_reads
from patients import icd10, measure_charts, notes, record, timeline
from patients.forms import (
    AddendumForm,
    AllergyForm,
    CareContactForm,
    DiagnosisForm,
    EvaluationForm,
    PatientDemographicsForm,
    PatientSearchForm,
)
from patients.models import (
    CareContact,
    Diagnosis,
    Evaluation,
    Patient,
    QuestionnaireAssignment,
    QuestionnaireResponse,
    VisitNote,
)
from patients.rows import attach, instances

psychiatrist_only = role_required(User.Role.PSYCHIATRIST)
front_desk_only = role_required(User.Role.CLINIC_ADMIN)


def add_errors(form, error: ValidationError) -> None:
    """Put a domain ValidationError on the form: field errors on their fields, the rest on top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


@psychiatrist_only
def chart(request: HttpRequest, pk: int) -> HttpResponse:
    """The chart. A fixed number of queries whatever the history (tests/patients/test_chart.py):
    session, user, this patient with fifteen lists of theirs read as JSON columns (care team,
    evaluations, visits, diagnoses, contacts, open questionnaires, scores, prescriptions, active
    plans, medication events, side-effect reports, lab results, allergies, outside medications,
    adherence answers), the active plans' steps if there is one, and the audit row (break-glass
    check, transaction, chain head, insert). Each list is read once and shared by the panels."""
    patient = get_patient_for(request.user, pk, read=chart_reads.with_lists)
    prescriptions = chart_reads.prescriptions(patient)
    # Events and reports name their prescription, loaded above with its medicine: attached from
    # there rather than joined and built again for every row (~80 model instances a chart).
    events = chart_reads.prescription_events(patient)
    reports = chart_reads.side_effect_reports(patient)
    attach([*events, *reports], "prescription", prescriptions)
    lab_results = chart_reads.lab_results(patient)
    allergies = chart_reads.allergies(patient)
    outside = chart_reads.outside_medications(patient)
    # The JSON lists, in their models' orderings (codepoint order for names, as SQLite and a C
    # collation sort them).
    care_team = sorted(
        (row.user for row in instances(Patient.care_team.through, patient.care_team_rows, user=User)),
        key=lambda u: (u.last_name, u.first_name, u.email),
    )
    evaluations = instances(Evaluation, patient.evaluation_rows, author=User)
    evaluations.sort(key=lambda e: (e.evaluation_date, e.pk), reverse=True)
    visits = instances(VisitNote, patient.visit_rows, author=User)
    visits.sort(key=lambda v: (v.visit_at, v.pk), reverse=True)
    diagnoses = sorted(instances(Diagnosis, patient.diagnosis_rows), key=lambda d: (d.status, d.icd10_code))
    contacts = sorted(instances(CareContact, patient.contact_rows), key=lambda c: (c.kind, c.name))
    open_requests = sorted(instances(QuestionnaireAssignment, patient.request_rows), key=lambda a: (a.due_on, a.pk))
    responses = instances(QuestionnaireResponse, patient.response_rows)
    responses.sort(key=lambda r: (r.submitted_at, r.pk), reverse=True)
    active = [rx for rx in prescriptions if rx.is_active]
    audit.record(AuditEvent.Action.VIEW, request=request, patient=patient, obj=patient, detail={"page": "chart"})
    return render(
        request,
        "patients/chart.html",
        {
            "patient": patient,
            "care_team": care_team,
            "allergies": allergies,
            "outside_medications": outside,
            "diagnoses": diagnoses,
            "contacts": contacts,
            "active_prescriptions": active,
            "past_prescriptions": [rx for rx in prescriptions if not rx.is_active],
            "entries": timeline.build(patient, evaluations=evaluations, visits=visits, events=events, reports=reports),
            "age": patient.age_on(timezone.localdate()),
            "chart_events": events,
            "chart_reports": reports,
            "responses": responses,
            "open_requests": open_requests,
            "monitoring_due": monitoring.due_items_from(patient, prescriptions, events, lab_results),
            "lab_results": lab_results,
            "adherence_trend": measure_charts.adherence_trend(chart_reads.adherence_answers(patient, prescriptions)),
        },
    )


@psychiatrist_only
def patient_search(request: HttpRequest) -> HttpResponse:
    # POST, so a patient's name never lands in a URL or an access log.
    results = None
    form = PatientSearchForm(request.POST if request.method == "POST" else None)
    query = form["q"].value() or ""
    if form.is_valid():
        query = form.cleaned_data["q"]
        scope = patients_for(request.user).active()
        if query:
            terms = Q()
            for word in query.split():
                terms &= (
                    Q(legal_first_name__icontains=word)
                    | Q(legal_last_name__icontains=word)
                    | Q(preferred_name__icontains=word)
                    | Q(mrn__icontains=word)
                )
            results = list(scope.filter(terms)[:50])
        else:
            results = []
    if results is not None:
        audit.record_list(request, "patient_search", [p.pk for p in results])
    return render(request, "patients/search.html", {"query": query, "results": results, "form": form})


# -- Evaluations -------------------------------------------------------------------------


@psychiatrist_only
def evaluation_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    form = EvaluationForm(request.POST or None, patient=patient)
    if request.method == "POST" and form.is_valid():
        evaluation = form.save(commit=False)
        evaluation.patient = patient
        notes.save_draft(evaluation, actor=request.user, request=request)
        messages.success(request, "Evaluation saved as a draft.")
        return after_note_save(request, evaluation, "patients:evaluation_detail")
    audit.page(request, patient, "evaluation_form")
    return render(request, "patients/evaluation_form.html", {"patient": patient, "form": form})


@psychiatrist_only
def evaluation_edit(request: HttpRequest, pk: int, evaluation_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    evaluation = get_object_or_404(patient.evaluations, pk=evaluation_id)
    if evaluation.is_signed:
        messages.error(request, "This evaluation is signed and locked. Add an addendum to correct it.")
        return redirect("patients:evaluation_detail", patient.pk, evaluation.pk)
    if evaluation.author_id != request.user.pk:
        messages.error(request, "Only the author can edit a draft.")
        return redirect("patients:evaluation_detail", patient.pk, evaluation.pk)
    form = EvaluationForm(request.POST or None, instance=evaluation, patient=patient)
    if request.method == "POST" and form.is_valid():
        notes.save_draft(form.save(commit=False), actor=request.user, request=request)
        messages.success(request, "Draft saved.")
        return after_note_save(request, evaluation, "patients:evaluation_detail")
    audit.page(request, patient, "evaluation_form", obj=evaluation)
    return render(
        request, "patients/evaluation_form.html", {"patient": patient, "form": form, "evaluation": evaluation}
    )


def after_note_save(request, note, detail_url: str):
    if "sign" in request.POST:
        sign_from_post(request, note)
    return redirect(detail_url, note.patient_id, note.pk)


@psychiatrist_only
def evaluation_detail(request: HttpRequest, pk: int, evaluation_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    evaluation = get_object_or_404(patient.evaluations.select_related("author", "signed_by"), pk=evaluation_id)
    audit.record(AuditEvent.Action.VIEW, request=request, patient=patient, obj=evaluation)
    return render(
        request,
        "patients/evaluation_detail.html",
        {
            "patient": patient,
            "note": evaluation,
            "fields": notes.readable_fields(evaluation, EvaluationForm.Meta.fields),
            "addenda": evaluation.addenda.select_related("author"),
            "addendum_form": AddendumForm(),
            "missing": notes.missing_for_signature(evaluation),
            "sign_url": "patients:evaluation_sign",
            "addendum_url": "patients:evaluation_addendum",
            "edit_url": "patients:evaluation_edit",
        },
    )


def sign_from_post(request, note):
    try:
        notes.sign(note, actor=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Signed. The note is now locked; corrections are addenda.")


def add_addendum_from_post(request, note):
    form = AddendumForm(request.POST)
    if form.is_valid():
        try:
            notes.add_addendum(note, actor=request.user, text=form.cleaned_data["text"], request=request)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Addendum added.")
    else:
        messages.error(request, "Write the addendum before saving it.")


@require_POST
@psychiatrist_only
def evaluation_sign(request: HttpRequest, pk: int, evaluation_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    sign_from_post(request, get_object_or_404(patient.evaluations, pk=evaluation_id))
    return redirect("patients:evaluation_detail", patient.pk, evaluation_id)


@require_POST
@psychiatrist_only
def evaluation_addendum(request: HttpRequest, pk: int, evaluation_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    add_addendum_from_post(request, get_object_or_404(patient.evaluations, pk=evaluation_id))
    return redirect("patients:evaluation_detail", patient.pk, evaluation_id)


# -- Diagnoses and allergies -------------------------------------------------------------


@psychiatrist_only
def diagnosis_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    form = DiagnosisForm(request.POST or None, patient=patient)
    results = None
    if request.method == "POST" and "find" in request.POST:
        # A search re-renders the form with what was typed; nothing is saved. The page shows the
        # fields' errors, so validating costs nothing extra, and bounds the search text.
        form.is_valid()
        results = icd10.search(form.cleaned_data["search"]) if "search" in form.cleaned_data else []
    elif request.method == "POST" and form.is_valid():
        diagnosis = record.add_diagnosis(patient, form.save(commit=False), by=request.user, request=request)
        messages.success(request, f"Added {diagnosis}.")
        return redirect("patients:chart", patient.pk)
    audit.page(request, patient, "diagnosis_form")
    return render(request, "patients/diagnosis_form.html", {"patient": patient, "form": form, "results": results})


@require_POST
@psychiatrist_only
def diagnosis_resolve(request: HttpRequest, pk: int, diagnosis_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    diagnosis = get_object_or_404(patient.diagnoses.active(), pk=diagnosis_id)
    record.resolve_diagnosis(diagnosis, by=request.user, request=request)
    messages.success(request, f"Marked {diagnosis.icd10_code} resolved.")
    return redirect("patients:chart", patient.pk)


@psychiatrist_only
def allergy_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    form = AllergyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allergy = allergy_record.add_allergy(patient, form.save(commit=False), by=request.user, request=request)
        messages.success(request, f"Allergy to {allergy.substance} recorded.")
        return redirect("patients:chart", patient.pk)
    audit.page(request, patient, "allergy_form")
    return render(request, "patients/allergy_form.html", {"patient": patient, "form": form})


@require_POST
@psychiatrist_only
def allergy_inactivate(request: HttpRequest, pk: int, allergy_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    allergy = get_object_or_404(patient.allergies.filter(is_active=True), pk=allergy_id)
    allergy_record.inactivate_allergy(allergy, by=request.user, request=request)
    messages.success(request, f"Allergy to {allergy.substance} marked as entered in error / no longer relevant.")
    return redirect("patients:chart", patient.pk)


@psychiatrist_only
def care_contact_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    form = CareContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        contact = record.add_care_contact(patient, form.save(commit=False), by=request.user, request=request)
        messages.success(request, f"Added {contact.name} to the care team contacts.")
        return redirect("patients:chart", patient.pk)
    audit.page(request, patient, "care_contact_form")
    return render(request, "patients/care_contact_form.html", {"patient": patient, "form": form})


# -- Front desk: registry (demographics only) ---------------------------------------------


@front_desk_only
def registry(request: HttpRequest) -> HttpResponse:
    patients = patients_for(request.user).select_related("primary_psychiatrist")
    form = PatientSearchForm(request.POST if request.method == "POST" else None)
    query = form["q"].value() or ""
    if form.is_valid():
        query = form.cleaned_data["q"]
        for word in query.split():
            patients = patients.filter(
                Q(legal_first_name__icontains=word) | Q(legal_last_name__icontains=word) | Q(mrn__icontains=word)
            )
    shown = list(patients[:200])
    audit.record_list(request, "registry", [p.pk for p in shown])
    return render(request, "patients/registry.html", {"patients": shown, "query": query, "form": form})


@front_desk_only
def register_patient(request: HttpRequest) -> HttpResponse:
    """A second record for one person is refused until the front desk says it is another person."""
    form = PatientDemographicsForm(request.POST or None)
    matches, hidden = [], 0
    if request.method == "POST" and form.is_valid():
        candidate = form.save(commit=False)
        duplicates = record.possible_duplicates(candidate)
        if duplicates:
            form = PatientDemographicsForm(request.POST, ask_different_person=True)
            form.is_valid()
        if not duplicates or form.cleaned_data.get("different_person"):
            patient = record.register(form.save(commit=False), by=request.user, request=request)
            messages.success(request, f"Registered {patient.display_name} ({patient.mrn}).")
            return redirect("patients:registry")
        # Only the matches this user may open are named; the others are counted.
        matches = list(patients_for(request.user).filter(pk__in=[p.pk for p in duplicates]).order_by("mrn"))
        hidden = len(duplicates) - len(matches)
        audit.record_list(request, "possible_duplicates", [p.pk for p in matches])
        form.add_error(
            "different_person",
            "A patient with this name and date of birth is already registered. Tick this box only if "
            "this is a different person.",
        )
    return render(
        request,
        "patients/patient_form.html",
        {"form": form, "patient": None, "matches": matches, "hidden_matches": hidden},
    )


@front_desk_only
def edit_demographics(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    form = PatientDemographicsForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        record.update_demographics(form.save(commit=False), form.changed_data, by=request.user, request=request)
        messages.success(request, f"Saved {patient.display_name}'s details.")
        return redirect("patients:registry")
    audit.page(request, patient, "demographics")
    return render(request, "patients/patient_form.html", {"form": form, "patient": patient})
