"""Scheduling pages: the front desk's calendar and booking, psychiatrists' follow-ups,
patients' self-booking and waitlist, and the private calendar feeds."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from appointments import booking, calendar, telehealth, waitlist
from appointments.models import Appointment, AppointmentType, TimeOff, WaitlistEntry, WeeklyAvailability
from appointments.schedule_forms import AvailabilityForm, BookingForm, CancelForm, MoveForm, TimeOffForm
from appointments.slots import free_slots
from clinic import audit, dates, languages
from clinic.access import own_record_required, patients_for, role_required, token_access
from clinic.contact import call_the_clinic
from clinic.models import AuditEvent, CalendarFeed, User
from patients.views import add_errors

front_desk_only = role_required(User.Role.CLINIC_ADMIN)
staff_only = role_required(User.Role.CLINIC_ADMIN, User.Role.PSYCHIATRIST)


def _psychiatrists():
    return User.objects.filter(role=User.Role.PSYCHIATRIST, is_active=True).order_by("last_name", "first_name")


def _parse_day(value: str | None) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value) if value else timezone.localdate()
    except ValueError:
        return timezone.localdate()


def appointments_for(user: User):
    """Appointments a user may open: admins all; psychiatrists their own patients'; patients their own."""
    qs = Appointment.objects.select_related("patient", "psychiatrist", "appointment_type")
    if user.role == User.Role.CLINIC_ADMIN:
        return qs
    return qs.filter(patient__in=patients_for(user))


# -- Front desk: calendar, availability --------------------------------------------------------


@front_desk_only
def week_calendar(request: HttpRequest) -> HttpResponse:
    psychiatrists = list(_psychiatrists())
    if not psychiatrists:
        return render(request, "appointments/week.html", {"psychiatrists": [], "grid": None})
    chosen = request.GET.get("psychiatrist")
    psychiatrist = next((p for p in psychiatrists if str(p.pk) == chosen), psychiatrists[0])
    day = _parse_day(request.GET.get("week"))
    monday = day - datetime.timedelta(days=day.weekday())
    grid = calendar.week_grid(psychiatrist, monday)
    audit.record_list(request, "week_calendar", _shown_patient_ids(grid["rows"]))
    return render(
        request,
        "appointments/week.html",
        {
            "psychiatrists": psychiatrists,
            "psychiatrist": psychiatrist,
            "grid": grid,
            "monday": monday,
            "previous": monday - datetime.timedelta(days=7),
            "next": monday + datetime.timedelta(days=7),
        },
    )


def _shown_patient_ids(rows) -> set[int]:
    return {appointment.patient_id for row in rows for cell in row for appointment in cell.appointments}


@front_desk_only
def day_calendar(request: HttpRequest) -> HttpResponse:
    day = _parse_day(request.GET.get("day"))
    columns = calendar.day_columns(list(_psychiatrists()), day)
    audit.record_list(request, "day_calendar", _shown_patient_ids(columns["rows"]))
    return render(
        request,
        "appointments/day.html",
        {
            "day": day,
            "columns": columns,
            "previous": day - datetime.timedelta(days=1),
            "next": day + datetime.timedelta(days=1),
        },
    )


@front_desk_only
def availability(request: HttpRequest, psychiatrist_id: int) -> HttpResponse:
    psychiatrist = get_object_or_404(_psychiatrists(), pk=psychiatrist_id)
    window_form = AvailabilityForm(prefix="window")
    off_form = TimeOffForm(prefix="off")
    if request.method == "POST":
        if "add_window" in request.POST:
            # The psychiatrist is set before validation: the model refuses overlapping hours.
            window_form = AvailabilityForm(
                request.POST, prefix="window", instance=WeeklyAvailability(psychiatrist=psychiatrist)
            )
            if window_form.is_valid():
                window = window_form.save()
                messages.success(request, f"Added {window} to {psychiatrist.display_name}'s week.")
                return redirect("appointments:availability", psychiatrist.pk)
        elif "add_time_off" in request.POST:
            off_form = TimeOffForm(request.POST, prefix="off")
            if off_form.is_valid():
                off = off_form.save(commit=False)
                off.psychiatrist = psychiatrist
                clashes = Appointment.objects.active().filter(psychiatrist=psychiatrist).overlapping(off.start, off.end)
                off.save()
                messages.success(request, "Time off added.")
                if clashes.exists():
                    messages.warning(
                        request,
                        f"{clashes.count()} booked appointment(s) fall in this time off. Move or cancel them.",
                    )
                return redirect("appointments:availability", psychiatrist.pk)
        elif "remove_window" in request.POST:
            WeeklyAvailability.objects.filter(psychiatrist=psychiatrist, pk=request.POST["remove_window"]).delete()
            messages.success(request, "Removed that weekly window.")
            return redirect("appointments:availability", psychiatrist.pk)
        elif "remove_time_off" in request.POST:
            TimeOff.objects.filter(psychiatrist=psychiatrist, pk=request.POST["remove_time_off"]).delete()
            messages.success(request, "Removed that time off.")
            return redirect("appointments:availability", psychiatrist.pk)
    return render(
        request,
        "appointments/availability.html",
        {
            "psychiatrist": psychiatrist,
            "windows": WeeklyAvailability.objects.filter(psychiatrist=psychiatrist),
            "time_off": TimeOff.objects.filter(psychiatrist=psychiatrist, end__gte=timezone.now()),
            "window_form": window_form,
            "off_form": off_form,
        },
    )


# -- Booking (front desk and psychiatrists) ------------------------------------------------


@staff_only
def book(request: HttpRequest) -> HttpResponse:
    user = request.user
    patients = patients_for(user).active().order_by("legal_last_name", "legal_first_name")
    psychiatrists = _psychiatrists() if user.is_clinic_admin else User.objects.filter(pk=user.pk)
    initial = {"psychiatrist": request.GET.get("psychiatrist") or (user.pk if user.is_psychiatrist else None)}
    if request.GET.get("start"):
        initial["start"] = request.GET["start"]
    if request.GET.get("patient"):
        initial["patient"] = request.GET["patient"]
        if request.GET.get("weeks", "").isdigit():
            initial.update(_suggested_follow_up(request, int(request.GET["weeks"])))
    form = BookingForm(request.POST or None, patients=patients, psychiatrists=psychiatrists, initial=initial)
    occurrences = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["repeat_every_weeks"]:
                occurrences = booking.plan_series(
                    patient=data["patient"], psychiatrist=data["psychiatrist"],
                    appointment_type=data["appointment_type"], first_start=data["start"],
                    every_weeks=data["repeat_every_weeks"], count=data["repeat_count"],
                )  # fmt: skip
                chosen = request.POST.getlist("occurrence")
                if "confirm_series" in request.POST:
                    starts = [o.start for o in occurrences if not o.problem and o.start.isoformat() in chosen]
                    if not starts:
                        raise ValidationError("Choose at least one free date to book.")
                    booked = booking.book_series(
                        patient=data["patient"], psychiatrist=data["psychiatrist"],
                        appointment_type=data["appointment_type"], starts=starts, booked_by=user, request=request,
                    )  # fmt: skip
                    skipped = len(occurrences) - len(booked)
                    messages.success(
                        request,
                        f"Booked {len(booked)} follow-up visits"
                        + (f"; {skipped} date(s) not booked." if skipped else "."),
                    )
                    return redirect("appointments:appointment_detail", booked[0].pk)
            else:
                appointment = booking.book(
                    patient=data["patient"], psychiatrist=data["psychiatrist"],
                    appointment_type=data["appointment_type"], start=data["start"], booked_by=user,
                    telehealth_url=data["telehealth_url"], request=request,
                )  # fmt: skip
                messages.success(request, f"Booked {appointment.patient.display_name} on {_when(appointment.start)}.")
                return redirect("appointments:appointment_detail", appointment.pk)
        except ValidationError as error:
            add_errors(form, error)
    # The patient picker lists everyone in scope: count them rather than list every id.
    audit.record(AuditEvent.Action.VIEW, request=request, detail={"page": "book", "patient_count": patients.count()})
    return render(request, "appointments/book.html", {"form": form, "occurrences": occurrences})


def _when(moment: datetime.datetime) -> str:
    return gettext("%(day)s at %(time)s") % {"day": dates.weekday(moment, short=True), "time": dates.clock(moment)}


def _suggested_follow_up(request, weeks: int) -> dict:
    """Prefill the first free slot from `weeks` weeks out (the follow-up offer after a change)."""
    patient = patients_for(request.user).filter(pk=request.GET.get("patient")).first()
    if patient is None or patient.primary_psychiatrist is None:
        return {}
    follow_up = AppointmentType.objects.filter(name="Follow-up visit", is_active=True).first()
    if follow_up is None:
        return {}
    day = timezone.localdate() + datetime.timedelta(weeks=min(weeks, 26))
    slots = free_slots(patient.primary_psychiatrist, follow_up, day, day + datetime.timedelta(days=14), patient=patient)
    initial = {"appointment_type": follow_up.pk, "psychiatrist": patient.primary_psychiatrist.pk}
    if slots:
        initial["start"] = timezone.localtime(slots[0][0]).strftime("%Y-%m-%dT%H:%M")
    return initial


@staff_only
def appointment_detail(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = get_object_or_404(appointments_for(request.user), pk=appointment_id)
    move_form = MoveForm(
        prefix="move", initial={"start": timezone.localtime(appointment.start).strftime("%Y-%m-%dT%H:%M")}
    )
    cancel_form = CancelForm(prefix="cancel")
    if request.method == "POST":
        try:
            if "move" in request.POST:
                move_form = MoveForm(request.POST, prefix="move")
                if move_form.is_valid():
                    booking.move(
                        appointment, new_start=move_form.cleaned_data["start"], by=request.user, request=request
                    )
                    messages.success(request, f"Moved to {_when(move_form.cleaned_data['start'])}.")
                    return redirect("appointments:appointment_detail", appointment.pk)
            elif "cancel" in request.POST:
                cancel_form = CancelForm(request.POST, prefix="cancel")
                if cancel_form.is_valid():
                    booking.cancel(
                        appointment, by=request.user, reason=cancel_form.cleaned_data["reason"], request=request
                    )
                    messages.success(request, "Appointment cancelled. The waitlist has been checked for this slot.")
                    return redirect("appointments:appointment_detail", appointment.pk)
            elif "video_link" in request.POST:
                telehealth.set_link(appointment, request.POST.get("telehealth_url", ""), by=request.user,
                                    request=request)  # fmt: skip
                messages.success(request, "Video link saved.")
                return redirect("appointments:appointment_detail", appointment.pk)
            elif request.POST.get("status") in booking.TRANSITIONS:
                booking.set_status(appointment, request.POST["status"], by=request.user, request=request)
                messages.success(request, "Status updated.")
                return redirect("appointments:appointment_detail", appointment.pk)
        except ValidationError as error:
            target = move_form if "move" in request.POST else cancel_form
            if "move" in request.POST or "cancel" in request.POST:
                add_errors(target, error)
            else:
                messages.error(request, " ".join(error.messages))
    appointment.refresh_from_db()
    audit.page(request, appointment.patient_id, "appointment_detail", obj=appointment)
    return render(
        request,
        "appointments/appointment_detail.html",
        {
            "appointment": appointment,
            "move_form": move_form,
            "cancel_form": cancel_form,
            # Only what can succeed now (booking.status_problem), each labelled in words.
            "transitions": [
                (status, Appointment.Status(status).label.lower()) for status in booking.possible_statuses(appointment)
            ],
        },
    )


# -- Patients: self-booking, cancelling, waitlist -------------------------------------------


@own_record_required
def my_appointments(request: HttpRequest, patient) -> HttpResponse:
    now = timezone.now()
    appointments = Appointment.objects.filter(patient=patient).select_related("psychiatrist", "appointment_type")
    feed, _ = CalendarFeed.objects.get_or_create(user=request.user)
    audit.page(request, patient, "my_appointments")
    upcoming = list(appointments.active().filter(end__gte=now))
    for appointment in upcoming:
        appointment.is_video = telehealth.is_video(appointment.appointment_type) or bool(appointment.telehealth_url)
        appointment.can_join = telehealth.join_open(appointment, now)
    return render(
        request,
        "appointments/my_appointments.html",
        {
            "patient": patient,
            "upcoming": upcoming,
            "past": list(appointments.filter(Q(end__lt=now) | Q(status="cancelled")).order_by("-start")[:20]),
            "waitlist": WaitlistEntry.objects.filter(patient=patient, status__in=["waiting", "offered"]).first(),
            "feed_url": feed_url(request, feed),
            "cancel_form": CancelForm(),
        },
    )


@own_record_required
def my_book(request: HttpRequest, patient) -> HttpResponse:
    types = AppointmentType.objects.filter(is_active=True, patient_bookable=True)
    chosen = types.filter(pk=request.GET.get("type") or request.POST.get("type")).first() or types.first()
    psychiatrist = patient.primary_psychiatrist
    if psychiatrist is None or chosen is None:
        messages.info(
            request,
            gettext("Online booking is not available for you yet. Please %(call)s.") % {"call": call_the_clinic()},
        )
        return redirect("appointments:my_appointments")
    if request.method == "POST" and "start" in request.POST:
        try:
            start = datetime.datetime.fromisoformat(request.POST["start"])
            if timezone.is_naive(start):
                raise ValueError
            if "reschedule" in request.POST:
                appointment = get_object_or_404(
                    Appointment.objects.active().filter(patient=patient), pk=request.POST["reschedule"]
                )
                booking.move(appointment, new_start=start, by=request.user, by_patient=True, request=request)
                messages.success(request, gettext("Moved to %(when)s.") % {"when": _when(start)})
            else:
                booking.book(patient=patient, psychiatrist=psychiatrist, appointment_type=chosen, start=start,
                             booked_by=request.user, by_patient=True, request=request)  # fmt: skip
                messages.success(
                    request, gettext("Booked: %(kind)s on %(when)s.") % {"kind": chosen.name, "when": _when(start)}
                )
            return redirect("appointments:my_appointments")
        except ValueError:
            messages.error(request, gettext("Choose one of the times listed."))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    now = timezone.now()
    first = (now + datetime.timedelta(hours=chosen.min_notice_hours)).astimezone(timezone.get_current_timezone())
    slots = free_slots(
        psychiatrist,
        chosen,
        first.date(),
        first.date() + datetime.timedelta(days=21),
        not_before=first,
        patient=patient,
    )
    days: dict[datetime.date, list] = {}
    # Patients pick from half-hour starts: a shorter list, easier on a phone.
    for start, _end in [s for s in slots if s[0].minute % 30 == 0][:150]:
        days.setdefault(timezone.localtime(start).date(), []).append(start)
    reschedule = request.GET.get("reschedule") or request.POST.get("reschedule")
    return render(
        request,
        "appointments/my_book.html",
        {"types": types, "chosen": chosen, "days": days, "psychiatrist": psychiatrist, "reschedule": reschedule},
    )


@require_POST
@own_record_required
def my_cancel(request: HttpRequest, patient, appointment_id: int) -> HttpResponse:
    appointment = get_object_or_404(Appointment.objects.filter(patient=patient), pk=appointment_id)
    # Through the form: a NUL byte or an overlong reason is refused, not a database error (fuzzing).
    form = CancelForm({"reason": request.POST.get("reason") or "Cancelled by the patient online"})
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["reason"]))
        return redirect("appointments:my_appointments")
    try:
        booking.cancel(
            appointment, by=request.user, reason=form.cleaned_data["reason"], by_patient=True, request=request,
        )  # fmt: skip
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, gettext("Your appointment is cancelled."))
    return redirect("appointments:my_appointments")


@require_http_methods(["GET", "POST"])
@own_record_required
def my_waitlist(request: HttpRequest, patient) -> HttpResponse:
    if request.method == "GET":
        # The waitlist is shown and joined on My appointments; this address only takes its forms.
        return redirect("appointments:my_appointments")
    action = request.POST.get("action")
    entry = WaitlistEntry.objects.filter(patient=patient, status__in=["waiting", "offered"]).first()
    try:
        if action == "join":
            appointment_type = get_object_or_404(
                AppointmentType.objects.filter(is_active=True, patient_bookable=True), pk=request.POST.get("type")
            )
            upcoming = (
                Appointment.objects.active().filter(patient=patient, start__gt=timezone.now()).order_by("start").first()
            )
            wanted_before = (
                upcoming.start
                if upcoming
                else timezone.now() + datetime.timedelta(days=appointment_type.max_days_ahead)
            )
            waitlist.join(patient=patient, appointment_type=appointment_type, wanted_before=wanted_before)
            messages.success(
                request, gettext("You are on the waitlist. We will offer you the first earlier slot that frees up.")
            )
        elif entry is None:
            messages.info(request, gettext("You are not on the waitlist."))
        elif action == "leave":
            waitlist.leave(entry)
            messages.success(request, gettext("You have left the waitlist."))
        elif action == "accept":
            appointment = booking.accept_offer(entry, by=request.user, request=request)
            messages.success(request, gettext("Booked: %(when)s.") % {"when": _when(appointment.start)})
        elif action == "decline":
            waitlist.decline(entry)
            messages.success(request, gettext("Offer declined. You are still on the waitlist."))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("appointments:my_appointments")


# -- Private calendar feeds ------------------------------------------------------------------

FEED_REPLACED = gettext_lazy("Your old calendar address no longer works; here is the new one.")


def feed_url(request: HttpRequest, feed: CalendarFeed) -> str:
    return request.build_absolute_uri(reverse("appointments:ics_feed", args=[feed.token]))


@token_access("random per-user calendar-feed token, revocable from my_feed")
@require_GET
def ics_feed(request: HttpRequest, token: str) -> HttpResponse:
    feed = CalendarFeed.objects.select_related("user").filter(token=token, user__is_active=True).first()
    if feed is None:
        raise Http404
    user = feed.user
    if user.role == User.Role.PSYCHIATRIST:
        appointments = Appointment.objects.filter(psychiatrist=user)
    elif user.role == User.Role.PATIENT:
        appointments = Appointment.objects.filter(patient__user=user)
    else:
        raise PermissionDenied
    since = timezone.now() - datetime.timedelta(days=30)
    with translation.override(languages.for_user(user)):
        body = calendar.ics(appointments.active().filter(start__gte=since).select_related("appointment_type"))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response


@role_required(User.Role.PSYCHIATRIST)
def my_feed(request: HttpRequest) -> HttpResponse:
    """A psychiatrist's own calendar-feed address (and a way to replace it)."""
    if request.method == "POST":
        feed = calendar.replace_feed(request)
        messages.success(request, FEED_REPLACED)
    else:
        feed, _ = CalendarFeed.objects.get_or_create(user=request.user)
    return render(request, "appointments/feed.html", {"feed_url": feed_url(request, feed)})


@require_POST
@own_record_required
def my_feed_replace(request: HttpRequest, patient) -> HttpResponse:
    """A patient replaces their own calendar-feed address (shown on My appointments)."""
    calendar.replace_feed(request, patient)
    messages.success(request, FEED_REPLACED)
    return redirect("appointments:my_appointments")
