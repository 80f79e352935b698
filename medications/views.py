from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_POST

from appointments.models import Appointment
from clinic import audit, dates
from clinic.access import get_patient_for, patients_for, role_required
from clinic.links import href
from clinic.models import AuditEvent, User
from medications import checklists, crisis_language, language, prescribing, safety, side_effects, spanish
from medications import inbox as inbox_reads
from medications.forms import (
    ChangeDoseForm,
    DiscontinueForm,
    PlanStepFormSet,
    PregnancyStatusForm,
    PrescriptionStartForm,
    ReplyForm,
    SafetyReviewForm,
    SideEffectReportForm,
)
from medications.models import ChangeReason, DosePlan, DosePlanStep, Message, Prescription, SideEffectReport
from patients import record
from patients.models import Patient, VisitNote
from patients.views import add_errors

psychiatrist_only = role_required(User.Role.PSYCHIATRIST)
patient_only = role_required(User.Role.PATIENT)


def _visit_for(request: HttpRequest, patient: Patient) -> VisitNote | None:
    """The draft visit note a change is made from (``?visit=<id>``), if any: changes made
    during a visit are recorded against it."""
    visit_id = request.GET.get("visit") or request.POST.get("visit")
    if not visit_id or not str(visit_id).isdigit():
        return None
    return VisitNote.objects.filter(
        pk=visit_id, patient=patient, author=request.user, status=VisitNote.Status.DRAFT
    ).first()


def _back(patient: Patient, visit: VisitNote | None):
    if visit is not None:
        return redirect("appointments:visit_edit", patient.pk, visit.pk)
    return redirect("patients:chart", patient.pk)


def _prescription(patient: Patient, prescription_id: int) -> Prescription:
    return get_object_or_404(
        Prescription.objects.filter(patient=patient).select_related("medication", "prescriber"), pk=prescription_id
    )


# Follow up is planned from the start: weeks until the usual review after a start or change.
FOLLOW_UP_WEEKS = {"mood_stabilizer": 2, "sga": 2, "fga": 2, "stimulant": 4}
DEFAULT_FOLLOW_UP_WEEKS = 4


def _offer_follow_up(request: HttpRequest, patient: Patient, rx: Prescription) -> None:
    weeks = FOLLOW_UP_WEEKS.get(rx.medication.drug_class, DEFAULT_FOLLOW_UP_WEEKS)
    horizon = timezone.now() + datetime.timedelta(weeks=weeks + 2)
    if Appointment.objects.active().filter(patient=patient, start__gt=timezone.now(), start__lte=horizon).exists():
        return
    url = reverse("appointments:book") + f"?patient={patient.pk}&weeks={weeks}"
    messages.info(
        request,
        format_html('No follow-up is booked. <a href="{}">Book a follow-up in about {} weeks</a>.', url, weeks),
    )


def _pending_review(review: SafetyReviewForm, pending: safety.ReviewRequired) -> safety.ReviewRequired:
    """The alerts go back on the form; a missing override reason is an error on its field."""
    if pending.reason_missing:
        review.add_error("override_reason", "Contraindicated or major alerts need an override reason to save.")
    return pending


@psychiatrist_only
def prescription_start(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    visit = _visit_for(request, patient)
    today = timezone.localdate()
    form = PrescriptionStartForm(request.POST or None, patient=patient, initial={"start_date": today})
    steps = PlanStepFormSet(request.POST or None, prefix="steps")
    review = SafetyReviewForm(request.POST or None, prefix="safety")
    pending = None
    if request.method == "POST" and form.is_valid() and steps.is_valid() and review.is_valid():
        data = form.cleaned_data
        try:
            rx = prescribing.start_prescription(
                patient=patient,
                medication=data["medication"],
                prescriber=request.user,
                form=data["form"],
                route=data["route"],
                strength_mg=data["strength_mg"],
                dose_mg=data["dose_mg"],
                frequency=data["frequency"],
                quantity=data["quantity"],
                refills=data["refills"],
                extra_instructions=data["extra_instructions"],
                indication=data["indication"],
                start_date=data["start_date"],
                end_date=data["end_date"],
                note=data["note"],
                titration_steps=steps.steps() or None,
                visit_note=visit,
                request=request,
                safety_review=review.review(),
            )
        except safety.ReviewRequired as needs_review:
            pending = _pending_review(review, needs_review)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Started {rx.medication.generic_name}: {rx.sig}")
            _offer_follow_up(request, patient, rx)
            return _back(patient, visit)
    audit.page(request, patient, "prescription_start")
    return render(
        request,
        "medications/prescription_start.html",
        {"patient": patient, "form": form, "steps": steps, "visit": visit, "review": review, "safety": pending},
    )


@psychiatrist_only
def prescription_detail(request: HttpRequest, pk: int, prescription_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    rx = _prescription(patient, prescription_id)
    plans = rx.plans.prefetch_related(Prefetch("steps", queryset=DosePlanStep.objects.order_by("position")))
    audit.record(AuditEvent.Action.VIEW, request=request, patient=patient, obj=rx)
    events = list(rx.events.select_related("actor", "visit_note").order_by("-effective_date", "-created_at"))
    refill_log = list(rx.refill_requests.select_related("decided_by"))
    return render(
        request,
        "medications/prescription_detail.html",
        {
            "patient": patient,
            "rx": rx,
            "events": events,
            "checked_events": [
                event for event in events if event.safety_alerts or event.not_checked or event.override_reason
            ],
            "plans": plans,
            "refill_log": refill_log,
        },
    )


@psychiatrist_only
def prescription_change(request: HttpRequest, pk: int, prescription_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    rx = _prescription(patient, prescription_id)
    visit = _visit_for(request, patient)
    if not rx.is_active:
        messages.error(request, "This prescription has been discontinued.")
        return redirect("medications:prescription_detail", patient.pk, rx.pk)
    form = ChangeDoseForm(
        request.POST or None,
        patient=patient,
        initial={
            "dose_mg": rx.dose_mg,
            "frequency": rx.frequency,
            "effective_date": timezone.localdate(),
            # A cost concern from the adherence check-ins links here with ?reason=cost.
            "reason": request.GET.get("reason") if request.GET.get("reason") in ChangeReason.values else "",
        },
    )
    review = SafetyReviewForm(request.POST or None, prefix="safety")
    pending = None
    if request.method == "POST" and form.is_valid() and review.is_valid():
        data = form.cleaned_data
        try:
            prescribing.change_dose(
                rx,
                actor=request.user,
                dose_mg=data["dose_mg"],
                frequency=data["frequency"],
                strength_mg=data["strength_mg"],
                reason=data["reason"],
                note=data["note"],
                effective_date=data["effective_date"],
                visit_note=visit,
                request=request,
                safety_review=review.review(),
            )
        except safety.ReviewRequired as needs_review:
            pending = _pending_review(review, needs_review)
        except ValidationError as error:
            add_errors(form, error)
        else:
            rx.refresh_from_db()
            messages.success(request, f"{rx.medication.generic_name} changed: {rx.sig}")
            _offer_follow_up(request, patient, rx)
            return _back(patient, visit)
    audit.page(request, patient, "prescription_change", obj=rx)
    return render(
        request,
        "medications/prescription_change.html",
        {
            "patient": patient,
            "rx": rx,
            "form": form,
            "visit": visit,
            "review": review,
            "safety": pending,
            "plan": rx.plans.filter(status=DosePlan.Status.ACTIVE).prefetch_related("steps").first(),
        },
    )


@psychiatrist_only
def prescription_stop(request: HttpRequest, pk: int, prescription_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    rx = _prescription(patient, prescription_id)
    visit = _visit_for(request, patient)
    if not rx.is_active:
        messages.error(request, "This prescription has already been discontinued.")
        return redirect("medications:prescription_detail", patient.pk, rx.pk)
    initial_how = DiscontinueForm.TAPER if rx.medication.taper_required else DiscontinueForm.STOP_NOW
    form = DiscontinueForm(
        request.POST or None, patient=patient, initial={"how": initial_how, "effective_date": timezone.localdate()}
    )
    steps = PlanStepFormSet(request.POST or None, prefix="steps", initial=[{"dose_mg": rx.dose_mg}])
    if request.method == "POST" and form.is_valid() and steps.is_valid():
        data = form.cleaned_data
        try:
            if data["how"] == DiscontinueForm.TAPER:
                prescribing.start_taper(
                    rx,
                    actor=request.user,
                    steps=steps.steps(),
                    stop_reason=data["reason"],
                    start_date=data["effective_date"],
                    visit_note=visit,
                    request=request,
                )
                messages.success(
                    request, f"Taper planned for {rx.medication.generic_name}. Confirm each step as it falls due."
                )
            else:
                prescribing.discontinue(
                    rx,
                    actor=request.user,
                    reason=data["reason"],
                    note=data["note"],
                    effective_date=data["effective_date"],
                    abrupt_stop_justification=data["abrupt_stop_justification"],
                    visit_note=visit,
                    request=request,
                )
                messages.success(request, f"Stopped {rx.medication.generic_name}.")
        except ValidationError as error:
            add_errors(form, error)
        else:
            return _back(patient, visit)
    audit.page(request, patient, "prescription_stop", obj=rx)
    return render(
        request,
        "medications/prescription_stop.html",
        {"patient": patient, "rx": rx, "form": form, "steps": steps, "visit": visit},
    )


@require_POST
@psychiatrist_only
def plan_confirm_step(request: HttpRequest, pk: int, prescription_id: int, plan_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    rx = _prescription(patient, prescription_id)
    plan = get_object_or_404(DosePlan.objects.filter(prescription=rx), pk=plan_id)
    try:
        event = prescribing.confirm_next_step(plan, actor=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        # The plan was checked at its highest step when it was made; say so again if the regimen changed since.
        blocking = [a for a in event.safety_alerts if a.get("severity") in safety.BLOCKING]
        if blocking:
            messages.warning(
                request,
                f"Safety check on this step: {len(blocking)} contraindicated/major alert(s). "
                "See the prescription's safety checks.",
            )
        rx.refresh_from_db()
        if rx.is_active:
            messages.success(request, f"Step confirmed: {rx.medication.generic_name} is now {rx.sig}")
        else:
            messages.success(request, f"Taper complete: {rx.medication.generic_name} stopped.")
    if request.POST.get("next") == "chart":
        return redirect("patients:chart", patient.pk)
    return redirect("medications:prescription_detail", patient.pk, rx.pk)


@psychiatrist_only
def pregnancy_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The pregnancy status the prescribing checks read (set by the psychiatrist, not the front desk)."""
    patient = get_patient_for(request.user, pk)
    form = PregnancyStatusForm(request.POST or None, initial={"pregnancy_status": patient.pregnancy_status})
    if request.method == "POST" and form.is_valid():
        record.set_pregnancy_status(patient, form.cleaned_data["pregnancy_status"], by=request.user, request=request)
        messages.success(request, "Pregnancy status saved.")
        return redirect("patients:chart", patient.pk)
    audit.page(request, patient, "pregnancy_status")
    return render(request, "medications/pregnancy_status.html", {"patient": patient, "form": form})


# -- Side-effect reports ------------------------------------------------------------------


@psychiatrist_only
def inbox(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("show") == "all"
    shown = inbox_reads.reports(patients_for(request.user), show_all=show_all)
    # Formatted once here: a {% url %} and a |date per row were most of the page's rendering.
    detail = href("medications:report_detail", 2)  # one reverse() for the inbox's 100 links
    for report in shown:
        report.href = detail(report.patient_id, report.pk)
        report.when = dates.moment(report.created_at)
        report.severity_word = report.get_severity_display().split()[0]  # "Moderate — ..." -> "Moderate"
    audit.record_list(request, "side_effect_inbox", [report.patient_id for report in shown])
    return render(request, "medications/inbox.html", {"reports": shown, "show_all": show_all})


@psychiatrist_only
def report_detail(request: HttpRequest, pk: int, report_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    report = get_object_or_404(
        SideEffectReport.objects.filter(patient=patient).select_related(
            "prescription__medication", "reported_by", "acknowledged_by", "resulting_event"
        ),
        pk=report_id,
    )
    form = ReplyForm(request.POST or None, patient=patient)
    if request.method == "POST" and form.is_valid():
        try:
            side_effects.reply(
                report,
                actor=request.user,
                text=form.cleaned_data["reply"],
                resulting_event=form.cleaned_data["resulting_event"],
                request=request,
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Reply sent. The patient sees it in their portal.")
            return redirect("medications:report_detail", patient.pk, report.pk)
    audit.record(AuditEvent.Action.VIEW, request=request, patient=patient, obj=report)
    return render(
        request,
        "medications/report_detail.html",
        {
            "patient": patient,
            "report": report,
            # The report's thread (medications.threads.report_thread): the patient may answer there too.
            "replies": list(Message.objects.filter(thread__side_effect_report=report).select_related("author")),
            "form": form,
            "symptom_labels": _labels(report),
        },
    )


def _labels(report: SideEffectReport) -> list[str]:
    return [checklists.label_for(code, get_language()) for code in report.symptoms]


@require_POST
@psychiatrist_only
def report_acknowledge(request: HttpRequest, pk: int, report_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    report = get_object_or_404(SideEffectReport.objects.filter(patient=patient), pk=report_id)
    side_effects.acknowledge(report, actor=request.user, request=request)
    messages.success(request, "Report acknowledged.")
    return redirect("medications:report_detail", patient.pk, report.pk)


def _report_form_view(request: HttpRequest, patient: Patient, template: str, done):
    prescriptions = list(Prescription.objects.active().filter(patient=patient).select_related("medication"))
    form = SideEffectReportForm(
        request.POST or None, patient=patient, prescriptions=prescriptions, initial={"onset_date": timezone.localdate()}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = side_effects.submit_report(
                patient=patient,
                reporter=request.user,
                prescription=form.chosen_prescription(),
                symptoms=data["symptoms"],
                other_symptoms=data["other_symptoms"],
                severity=data["severity"],
                onset_date=data["onset_date"],
                ongoing=data["ongoing"],
                request=request,
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            return done(report)
    # A report that cannot be saved yet (a date in the future, say) may still hold crisis words:
    # the patient sees what to do now above the form, before fixing anything.
    words = request.POST.get("other_symptoms", "") if request.method == "POST" else ""
    crisis = bool(words) and (bool(crisis_language.find(words)) or spanish.has_crisis_language(words))
    audit.page(request, patient, "side_effect_report_form")
    context = {"patient": patient, "form": form, "crisis": crisis, "crisis_language": language.detect(words)}
    return render(request, template, context)


@psychiatrist_only
def staff_report_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)

    def done(report):
        messages.success(request, "Side-effect report recorded on the patient's behalf.")
        return redirect("medications:report_detail", patient.pk, report.pk)

    return _report_form_view(request, patient, "medications/staff_report_form.html", done)


@patient_only
def my_report_create(request: HttpRequest) -> HttpResponse:
    patient = patients_for(request.user).first()
    if patient is None:
        messages.info(request, gettext("Your account is not linked to a clinic record yet."))
        return redirect("patient_home")

    def done(report):
        request.session["last_report_id"] = report.pk
        return redirect("medications:my_report_sent")

    return _report_form_view(request, patient, "medications/my_report_form.html", done)


@patient_only
def my_report_sent(request: HttpRequest) -> HttpResponse:
    patient = patients_for(request.user).first()
    report = None
    if patient is not None and request.session.get("last_report_id"):
        report = SideEffectReport.objects.filter(patient=patient, pk=request.session["last_report_id"]).first()
    if report is None:
        return redirect("patient_home")
    audit.record(AuditEvent.Action.VIEW, request=request, patient=patient, obj=report)
    return render(request, "medications/my_report_sent.html", {"report": report, "symptom_labels": _labels(report)})
