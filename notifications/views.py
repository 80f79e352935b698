"""Pages of the reminder pipeline: a user's in-app notifications, a patient's reminder
preferences, the front desk's delivery report, and the one-click links in reminders."""

from __future__ import annotations

import datetime

import phonenumbers
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from appointments import booking, reminders
from appointments.models import Appointment
from clinic import contact, languages
from clinic.access import logged_in, role_required, token_access
from clinic.models import ConsentRecord, Notification, NotificationPreference, User
from notifications import kinds
from notifications.badge import forget_unread
from notifications.messages import in_app_text
from notifications.preferences import format_when, preferences

Status = Notification.Status


@logged_in
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """The viewer's own in-app notifications, newest first; opening the page reads them."""
    rows = list(
        kinds.with_subjects(
            Notification.objects.filter(recipient=request.user, channel=Notification.Channel.IN_APP, status=Status.SENT)
        ).order_by("-sent_at")[:100]
    )
    items = []
    clinic = contact.clinic()  # once for the page, not once per row
    for row in rows:
        row.recipient = request.user  # message_context needs the viewer's zone; skip the query
        text, link = in_app_text(row, clinic=clinic)
        items.append({"row": row, "text": text, "link": link, "unread": row.read_at is None})
    unread = [row.pk for row in rows if row.read_at is None]
    if unread:
        Notification.objects.filter(pk__in=unread).update(read_at=timezone.now())
        forget_unread(request.user.pk)
    return render(request, "notifications/list.html", {"items": items, "unread_on_page": len(unread)})


# -- Reminder preferences ----------------------------------------------------------------------


class ReminderPreferencesForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["email_enabled", "sms_enabled", "sms_phone", "quiet_hours_start", "quiet_hours_end"]
        labels = {
            "email_enabled": _("Email me appointment reminders"),
            "sms_enabled": _("Text me appointment reminders"),
            "quiet_hours_start": _("Quiet hours start"),
            "quiet_hours_end": _("Quiet hours end"),
            "sms_phone": _("Mobile number for texts"),
        }
        help_texts = {
            "sms_phone": _("A mobile number. Standard message rates may apply."),
            "quiet_hours_start": _("No texts or emails from this time (your time zone)…"),
            "quiet_hours_end": _("…until this time. A reminder due then comes before quiet hours start instead."),
        }
        widgets = {
            "sms_phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
            "quiet_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def clean_sms_phone(self) -> str:
        raw = (self.cleaned_data.get("sms_phone") or "").strip()
        if not raw:
            return ""
        try:
            number = phonenumbers.parse(raw, settings.PHONENUMBER_DEFAULT_REGION)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise ValidationError(_("Enter a valid mobile number, e.g. (617) 555-0123, or +44 … for other countries."))
        mobile = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
        if phonenumbers.number_type(number) not in mobile:
            raise ValidationError(_("That number cannot receive texts. Enter a mobile number."))
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def clean(self):
        data = super().clean()
        if data.get("sms_enabled") and not data.get("sms_phone") and "sms_phone" not in self.errors:
            self.add_error("sms_phone", _("Enter a mobile number to get text reminders."))
        start, end = data.get("quiet_hours_start"), data.get("quiet_hours_end")
        if (start is None) != (end is None):
            self.add_error("quiet_hours_end", _("Give both a start and an end for quiet hours, or neither."))
        elif start is not None and start == end:
            self.add_error("quiet_hours_end", _("Quiet hours must end at a different time than they start."))
        return data


@role_required(User.Role.PATIENT)
@require_http_methods(["GET", "POST"])
def reminder_preferences(request: HttpRequest) -> HttpResponse:
    user = request.user
    prefs = preferences(user)
    before = {Notification.Channel.EMAIL: prefs.email_enabled, Notification.Channel.SMS: prefs.sms_enabled}
    initial = {}
    record = getattr(user, "patient_record", None)
    if not prefs.sms_phone and record is not None and record.phone:
        initial["sms_phone"] = str(record.phone)  # a suggestion from the registration details
    form = ReminderPreferencesForm(request.POST or None, instance=prefs, initial=initial)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            prefs = form.save()
            after = {Notification.Channel.EMAIL: prefs.email_enabled, Notification.Channel.SMS: prefs.sms_enabled}
            # Consent is a record of each decision, kept even when preferences change again.
            ConsentRecord.objects.bulk_create(
                ConsentRecord(user=user, channel=channel, granted=granted, recorded_by=user)
                for channel, granted in after.items()
                if granted != before[channel]
            )
            reminders.refresh_user_reminders(user)
        messages.success(request, _("Your reminder settings are saved."))
        return redirect("reminder_preferences")
    # Channel consents only: sharing consents are on the patient's sharing page (patients.care_views).
    history = ConsentRecord.objects.filter(user=user, care_contact__isnull=True).select_related("recorded_by")[:50]
    return render(request, "notifications/preferences.html", {"form": form, "history": history})


# -- Delivery report ---------------------------------------------------------------------------

# Filter name -> (label, queryset filter). "Pending" covers every row not yet finished.
REPORT_FILTERS = {
    "pending": ("Pending", {"status__in": (Status.PENDING, Status.ENQUEUED, Status.SENDING)}),
    "sent": ("Sent", {"status": Status.SENT}),
    "failed": ("Failed", {"status": Status.FAILED}),
    "unknown": ("Outcome unknown", {"status": Status.UNKNOWN}),
    "retried": ("Retried", {"attempts__gt": 1}),
    "skipped": ("Skipped", {"status": Status.SKIPPED}),
    "cancelled": ("Cancelled", {"status": Status.CANCELLED}),
}


@role_required(User.Role.CLINIC_ADMIN)
@require_GET
def delivery_report(request: HttpRequest) -> HttpResponse:
    """Counts and rows for one day (send time, viewer's zone). No names, no message text."""
    today = timezone.localdate()
    raw_day = request.GET.get("day")
    try:
        day = datetime.date.fromisoformat(raw_day) if raw_day else today
    except ValueError:
        messages.error(request, "That date was not understood; showing today.")
        day = today
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    day_rows = Notification.objects.filter(send_at__gte=start, send_at__lt=end)
    by_status = dict(day_rows.values_list("status").annotate(n=Count("id")).order_by())
    counts = [
        (key, label, day_rows.filter(**lookup).count() if key == "retried" else _count(by_status, lookup))
        for key, (label, lookup) in REPORT_FILTERS.items()
    ]
    chosen = request.GET.get("status")
    rows = day_rows.filter(**REPORT_FILTERS[chosen][1]) if chosen in REPORT_FILTERS else day_rows
    rows = rows.select_related("recipient").only(
        "send_at", "kind", "channel", "language", "status", "attempts", "last_error", "sent_at", "recipient__role"
    )
    unknown_open = Notification.objects.filter(status=Status.UNKNOWN, send_at__gte=start - datetime.timedelta(days=30))
    return render(
        request,
        "notifications/delivery_report.html",
        {
            "day": day,
            "previous_day": day - datetime.timedelta(days=1),
            "next_day": day + datetime.timedelta(days=1),
            "counts": counts,
            "total": sum(by_status.values()),
            "chosen": chosen if chosen in REPORT_FILTERS else "",
            "rows": list(rows.order_by("send_at")[:500]),
            "unknown_recent": unknown_open.count(),
        },
    )


def _count(by_status: dict, lookup: dict) -> int:
    statuses = lookup.get("status__in") or (lookup["status"],)
    return sum(by_status.get(status, 0) for status in statuses)


# -- One-click confirm / cancel ---------------------------------------------------------------


def _invalid(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "notifications/action_invalid.html", {"reason": reason}, status=400)


@token_access("signed, expiring per-appointment token from a reminder")
@never_cache
@require_http_methods(["GET", "POST"])
def appointment_action(request: HttpRequest, token: str) -> HttpResponse:
    """The link in a reminder. The signed token is the authority, so no login is needed; GET
    only shows a button (mail scanners follow links), POST acts."""
    try:
        appointment_id, action, start_ts = reminders.read_action_token(token)
    except (signing.BadSignature, ValueError):
        return _invalid(request, _("This link is not valid or has expired."))
    appointment = (
        Appointment.objects.select_related("appointment_type", "patient__user").filter(pk=appointment_id).first()
    )
    if appointment is None or int(appointment.start.timestamp()) != start_ts:
        return _invalid(request, _("This link is for an appointment time that has changed."))
    patient_user = appointment.patient.user
    if patient_user is not None and not request.user.is_authenticated:
        # The link came in the patient's reminder, written in their language: the page follows it.
        translation.activate(languages.for_user(patient_user))
        request.LANGUAGE_CODE = translation.get_language()
    when = format_when(appointment.start, (patient_user or request.user).zone)
    context = {"token": token, "action": action, "when": when, "clinic_phone": contact.clinic().phone}
    problem = _action_problem(appointment, action, patient_user)
    if problem:
        return render(request, "notifications/action.html", {**context, "problem": problem})
    if request.method == "GET":
        return render(request, "notifications/action.html", context)
    try:
        if action == "confirm":
            booking.set_status(appointment, Appointment.Status.CONFIRMED, by=patient_user, request=request)
        else:
            booking.cancel(
                appointment, by=patient_user, reason="Cancelled from reminder link", by_patient=True, request=request
            )
    except ValidationError as error:
        return render(request, "notifications/action.html", {**context, "problem": " ".join(error.messages)})
    return render(request, "notifications/action.html", {**context, "done": True})


def _action_problem(appointment: Appointment, action: str, patient_user) -> str:
    """Why the action cannot be done now ("" if it can)."""
    if patient_user is None:
        return _("Please call the clinic to change this appointment.")
    if appointment.status == Appointment.Status.CANCELLED:
        return _("This appointment is cancelled.")
    if appointment.start <= timezone.now() or appointment.status not in ("scheduled", "confirmed"):
        return _("This appointment has already started or taken place.")
    if action == "confirm" and appointment.status == Appointment.Status.CONFIRMED:
        return _("You have already confirmed this appointment. Thank you.")
    if action == "cancel" and not appointment.online_changes_open():
        return _(
            "Online cancellation closes %(hours)s hours before the appointment. Please call the clinic to cancel."
        ) % {"hours": appointment.appointment_type.cancel_window_hours}
    return ""
