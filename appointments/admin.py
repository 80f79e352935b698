from django.contrib import admin
from django.utils.text import capfirst

from appointments import appointment_types
from appointments.models import AppointmentType, TimeOff, WaitlistEntry, WeeklyAvailability
from appointments.reminders import offsets_sentence
from appointments.type_forms import AppointmentTypeForm
from clinic.admin import PatientDataAdmin
from clinic.models import Notification
from notifications import outbox


@admin.register(AppointmentType)
class AppointmentTypeAdmin(admin.ModelAdmin):
    """Clinic set-up in the portal (appointments/type_views.py) is where types are edited, with
    audit rows; here a clinic admin with staff access only reads them. A superuser may still
    change one, through the portal's own form (reminder times ticked, never typed)."""

    form = AppointmentTypeForm
    list_display = ["name", "duration_minutes", "modality", "patient_bookable", "reminders", "is_active"]
    list_filter = ["modality", "patient_bookable", "is_active"]
    fields = [*AppointmentTypeForm.Meta.fields, "is_active"]

    @admin.display(description="reminders")
    def reminders(self, obj) -> str:
        return offsets_sentence(obj.reminder_offsets_hours)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        # The portal's write: its audit row, and booked visits' reminders follow new times.
        appointment_types.save(obj, fields=form.changed_data, request=request)

    def delete_model(self, request, obj):
        appointment_types.delete_unused(obj, request=request)


@admin.register(WeeklyAvailability)
class WeeklyAvailabilityAdmin(admin.ModelAdmin):
    list_display = ["psychiatrist", "weekday", "start_time", "end_time"]
    list_filter = ["weekday"]
    list_select_related = ["psychiatrist"]


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["psychiatrist", "start", "end", "reason"]
    list_select_related = ["psychiatrist"]


# Appointments are not in the admin: a visit names its patient, and the portal's calendars and
# appointment pages show them with their audit rows (bookings go through appointments.booking).


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(PatientDataAdmin):
    audit_page = "admin_waitlist_entry"
    list_display = ["created_at", "psychiatrist", "status", "offer_start", "offer_expires_at"]
    list_filter = ["status"]
    # A select of every patient would show the whole registry unaudited.
    raw_id_fields = ["patient"]

    def patient_id_of(self, obj) -> int | None:
        return obj.patient_id

    def has_add_permission(self, request):
        return False

    def get_deleted_objects(self, objs, request):
        """An entry an offer's notifications are about cannot be deleted (the outbox refuses it,
        notifications.outbox.protect_subjects): the delete page says so and
        list them, as they did when the rows had a PROTECT foreign key to the entry."""
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        rows = Notification.objects.about(*objs)[: outbox.PROTECTED_SHOWN]
        protected = [*protected, *(f"{capfirst(Notification._meta.verbose_name)}: {row}" for row in rows)]
        return to_delete, model_count, perms_needed, protected
