from django.contrib import admin

from appointments.models import Appointment, AppointmentType, TimeOff, WaitlistEntry, WeeklyAvailability
from clinic.admin import ReadOnlyAdmin


@admin.register(AppointmentType)
class AppointmentTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "duration_minutes", "modality", "patient_bookable", "reminder_offsets_hours", "is_active"]
    list_filter = ["modality", "patient_bookable", "is_active"]


@admin.register(WeeklyAvailability)
class WeeklyAvailabilityAdmin(admin.ModelAdmin):
    list_display = ["psychiatrist", "weekday", "start_time", "end_time"]
    list_filter = ["weekday"]
    list_select_related = ["psychiatrist"]


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["psychiatrist", "start", "end", "reason"]
    list_select_related = ["psychiatrist"]


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyAdmin):
    # Read-only here: bookings go through appointments.booking (checks, reminders, audit).
    list_display = ["start", "psychiatrist", "appointment_type", "status"]
    list_filter = ["status", "appointment_type"]
    date_hierarchy = "start"
    list_select_related = ["psychiatrist", "appointment_type"]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "psychiatrist", "status", "offer_start", "offer_expires_at"]
    list_filter = ["status"]

    def has_add_permission(self, request):
        return False
