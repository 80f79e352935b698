from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from patients.models import Patient, VisitNote, visit_notes_signed


def default_reminder_offsets() -> list[int]:
    return [48, 2]


class AppointmentType(models.Model):
    class Modality(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        TELEHEALTH = "telehealth", "Telehealth (video)"
        PHONE = "phone", "Phone"

    name = models.CharField(max_length=80, unique=True)
    duration_minutes = models.PositiveSmallIntegerField(default=30)
    modality = models.CharField(max_length=12, choices=Modality.choices, default=Modality.IN_PERSON)
    patient_bookable = models.BooleanField("patients may book it themselves", default=False)
    # Chosen in the portal from appointments.reminders.REMINDER_OFFSETS (Clinic set-up), never typed.
    reminder_offsets_hours = models.JSONField(
        default=default_reminder_offsets, blank=True, help_text="Hours before the start, e.g. [48, 2]."
    )
    min_notice_hours = models.PositiveSmallIntegerField("minimum notice for patient booking (hours)", default=24)
    max_days_ahead = models.PositiveSmallIntegerField("patients may book up to (days ahead)", default=90)
    cancel_window_hours = models.PositiveSmallIntegerField(
        "patients may cancel online until (hours before)", default=24
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=5, duration_minutes__lte=480), name="appt_type_duration_sane"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.duration_minutes} min)"

    @property
    def duration(self) -> datetime.timedelta:
        return datetime.timedelta(minutes=self.duration_minutes)


class WeeklyAvailability(models.Model):
    """A recurring weekly window, in the psychiatrist's own time zone (User.time_zone)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    psychiatrist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="availability",
        limit_choices_to={"role": "psychiatrist"},
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["psychiatrist", "weekday", "start_time"]
        verbose_name_plural = "weekly availability"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_time__lt=models.F("end_time")), name="availability_start_before_end"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}–{self.end_time:%H:%M}"

    def clean(self) -> None:
        """Two windows of one psychiatrist that overlap on a weekday are a typo, not more hours:
        refused, naming the window already there (ModelForm and the Django admin run this)."""
        super().clean()
        if self.psychiatrist_id is None or None in (self.weekday, self.start_time, self.end_time):
            return
        clash = (
            WeeklyAvailability.objects.filter(
                psychiatrist_id=self.psychiatrist_id,
                weekday=self.weekday,
                start_time__lt=self.end_time,
                end_time__gt=self.start_time,
            )
            .exclude(pk=self.pk)
            .first()
        )
        if clash is not None:
            raise ValidationError(
                {
                    "start_time": f"These hours overlap {clash}, already in the week. Change the times, "
                    "or remove that window first to replace it."
                }
            )


class TimeOff(models.Model):
    psychiatrist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="time_off",
        limit_choices_to={"role": "psychiatrist"},
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=120, blank=True, help_text="Shown to staff only.")

    class Meta:
        ordering = ["start"]
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(condition=models.Q(start__lt=models.F("end")), name="time_off_start_before_end"),
        ]

    def __str__(self) -> str:
        return f"Time off {timezone.localtime(self.start):%Y-%m-%d %H:%M}–{timezone.localtime(self.end):%Y-%m-%d %H:%M}"


class AppointmentQuerySet(models.QuerySet["Appointment"]):
    def active(self):
        return self.filter(status__in=Appointment.ACTIVE_STATUSES)

    def overlapping(self, start: datetime.datetime, end: datetime.datetime):
        return self.filter(start__lt=end, end__gt=start)


class Appointment(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CONFIRMED = "confirmed", _("Confirmed")
        CHECKED_IN = "checked_in", _("Checked in")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        NO_SHOW = "no_show", _("No-show")

    # Statuses that hold the time slot (the exclusion constraints use the same list).
    ACTIVE_STATUSES = ("scheduled", "confirmed", "checked_in", "completed")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    psychiatrist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="appointments",
        limit_choices_to={"role": "psychiatrist"},
        # appt_psych_start leads with this column. A second index on it alone made the planner scan
        # a psychiatrist's whole history for the week calendar's date range (its rows are stored in
        # psychiatrist order, so it looked cheaper) instead of the range of appt_psych_start.
        db_index=False,
    )
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    cancel_reason = models.CharField(max_length=200, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # When the patient (or the clinic for them) confirmed it: kept once the status moves on to
    # checked in or completed, so clinic.metrics can count confirmations of visits already held.
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    telehealth_url = models.URLField(blank=True)
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Occurrences of one recurring follow-up booking share a series id.
    # Indexed for "the other occurrences of this series" (filter(series=...)); no page runs that query
    # yet (docs/performance.md, index list), so it could be dropped if none ever does.
    series = models.UUIDField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # The visit note written for this visit (booking.link_visit_note). The schedule points down at
    # the record, which does not know it (reverse: VisitNote.appointment). Its unique index serves
    # the reverse look-up "the day's notes without an appointment" (clinic.dashboard.drafts)
    # and the flag's update by note id (sync_note_signed).
    visit_note = models.OneToOneField(
        "patients.VisitNote", null=True, blank=True, on_delete=models.PROTECT, related_name="appointment"
    )
    # The linked visit note is signed. Kept when the note is linked (booking.link_visit_note) and
    # when visit_notes_signed says notes were signed (VisitNote.save, and the signing update); a
    # signed note never changes or goes away, so the flag only ever turns on. Stored so the
    # psychiatrist home's "completed visit, note missing" list reads an index (appt_unnoted) rather
    # than walking the psychiatrist's whole history for their notes.
    note_signed = models.BooleanField(default=False, editable=False)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(start__lt=models.F("end")), name="appointment_start_before_end"),
            # The no-overlap rules are PostgreSQL exclusion constraints, created in
            # appointments/migrations/0004 (btree_gist); booking.py checks on SQLite.
        ]
        indexes = [
            # Calendars and the slot finder: one psychiatrist's appointments in a time range.
            models.Index(fields=["psychiatrist", "start"], name="appt_psych_start"),
            # Patient home: the patient's next appointment.
            models.Index(fields=["patient", "start"], name="appt_patient_start"),
            # Psychiatrist home, "Note missing": their completed appointments without a signed note,
            # newest first (clinic.views.psychiatrist_home, LIMIT 20). Partial: only the few open ones.
            models.Index(
                fields=["psychiatrist", "-start"],
                condition=models.Q(status="completed", note_signed=False),
                name="appt_unnoted",
            ),
            # Clinic metrics for the whole clinic (clinic.metrics.visit_outcomes): every visit
            # starting in the range. Covering: the outcome counts
            # read the index only (a heap visit per row was a sequential scan's worth of pages).
            models.Index(
                fields=["start"],
                include=["status", "cancelled_at", "confirmed_at", "appointment_type"],
                name="appt_start_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"Appointment {timezone.localtime(self.start):%Y-%m-%d %H:%M} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def online_changes_close_at(self) -> datetime.datetime:
        """The cancellation window, the one rule for it: a patient may cancel or move online (the
        portal, a reminder's one-click link) until the type's cancel_window_hours before the start."""
        return self.start - datetime.timedelta(hours=self.appointment_type.cancel_window_hours)

    def online_changes_open(self, now: datetime.datetime | None = None) -> bool:
        return (now or timezone.now()) <= self.online_changes_close_at


class WaitlistEntry(models.Model):
    """A patient who wants an earlier slot with their psychiatrist. When a slot frees, the
    first waiting patient is offered it with a hold; an expired hold passes to the next."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        OFFERED = "offered", "Offered a slot"
        BOOKED = "booked", "Booked"
        CANCELLED = "cancelled", "Left the waitlist"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="waitlist_entries")
    psychiatrist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    # Only slots before this time help (their current appointment, or the end of their window).
    wanted_before = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    offer_start = models.DateTimeField(null=True, blank=True)
    offer_end = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    offer_token = models.UUIDField(default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "psychiatrist"],
                condition=models.Q(status__in=["waiting", "offered"]),
                name="one_open_waitlist_entry_per_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"Waitlist {self.patient_id} ({self.get_status_display()})"


def sync_note_signed(appointments=None, *, notes=None) -> int:
    """Set Appointment.note_signed where the linked visit note is signed (all of them, or the
    ``appointments`` queryset/ids, or those linked to the ``notes`` ids). The 10-minute planner
    (appointments.tasks) runs it over every appointment as a safety net for writes that went around
    VisitNote (bulk loads)."""
    rows = Appointment.objects.filter(note_signed=False, visit_note__status=VisitNote.Status.SIGNED)
    if appointments is not None:
        rows = rows.filter(pk__in=appointments)
    if notes is not None:
        rows = rows.filter(visit_note_id__in=notes)
    return Appointment.objects.filter(pk__in=rows.values("pk")).update(note_signed=True)


def _on_visit_notes_signed(sender, note_ids, **kwargs) -> None:
    sync_note_signed(notes=note_ids)


def connect_signals() -> None:
    """Called from AppointmentsConfig.ready(): the record (patients.models) says which visit notes
    were signed; the schedule keeps its flag on the appointments linked to them."""
    visit_notes_signed.connect(_on_visit_notes_signed, dispatch_uid="appointments_sync_note_signed")
