from __future__ import annotations

import functools
import json
import operator
import uuid
import zoneinfo

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic import prescriber_ids


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("role", User.Role.CLINIC_ADMIN)
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in. Email is the login; the role decides what they see."""

    class Role(models.TextChoices):
        PSYCHIATRIST = "psychiatrist", _("Psychiatrist / psychiatric NP")
        PATIENT = "patient", _("Patient")
        CLINIC_ADMIN = "clinic_admin", _("Clinic admin")

    email = models.EmailField("email address", unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.PATIENT)
    # Credentials shown after a prescriber's name ("MD", "PMHNP-BC").
    credentials = models.CharField(max_length=40, blank=True)
    # A psychiatrist's fixed video room, used for their telehealth visits when the clinic's video
    # provider is "personal rooms" (appointments.telehealth).
    video_room_url = models.URLField("personal video room", blank=True)
    # A prescriber's identifiers, printed on prescriptions (clinic.prescriber_ids checks them).
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[prescriber_ids.validate_npi])
    dea_number = models.CharField("DEA number", max_length=9, blank=True, validators=[prescriber_ids.validate_dea])
    time_zone = models.CharField(max_length=64, default=settings.TITRATE_DEFAULT_TIME_ZONE)
    # The language a patient reads pages and messages in (clinic.languages; mirrors the record's
    # preferred_language, and is read from here so choosing it costs no query per request).
    language = models.CharField(max_length=5, choices=settings.LANGUAGES, default="en")
    is_staff = models.BooleanField(
        "Django admin access", default=False, help_text="May log in to the Django admin site."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["last_name", "first_name", "email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["psychiatrist", "patient", "clinic_admin"]),
                name="user_role_valid",
            ),
            # An NPI names one person: two accounts with it would be a typo or a shared login.
            models.UniqueConstraint(
                fields=["npi"],
                condition=~models.Q(npi=""),
                name="user_npi_unique",
                violation_error_message="Another account already has this NPI.",
            ),
        ]
        indexes = [
            # The psychiatrists by name (appointments.schedule_views._psychiatrists: the calendars,
            # the front desk home): without it every calendar read the whole user table.
            models.Index(fields=["role", "last_name", "first_name"], name="user_role_name"),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @property
    def display_name(self) -> str:
        name = self.get_full_name() or self.email
        return f"{name}, {self.credentials}" if self.credentials else name

    @property
    def is_psychiatrist(self) -> bool:
        return self.role == self.Role.PSYCHIATRIST

    @property
    def is_patient(self) -> bool:
        return self.role == self.Role.PATIENT

    @property
    def is_clinic_admin(self) -> bool:
        return self.role == self.Role.CLINIC_ADMIN

    @property
    def requires_mfa(self) -> bool:
        """Anyone who can see more than their own record must use a second factor."""
        return self.role != self.Role.PATIENT or self.is_staff or self.is_superuser

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The user's own time zone; the clinic's default if theirs is missing or unknown. Reminders
        fire, hours are laid out and pages are shown in it."""
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo(settings.TITRATE_DEFAULT_TIME_ZONE)


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs):
        raise PermissionError("Audit events are append-only.")

    def delete(self):
        raise PermissionError("Audit events are append-only.")


class AuditEvent(models.Model):
    """Append-only record of who did what, to which patient, when and from where."""

    class Action(models.TextChoices):
        LOGIN = "login", _("Logged in")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOGOUT = "logout", _("Logged out")
        MFA_ADDED = "mfa_added", _("Authenticator added")
        MFA_REMOVED = "mfa_removed", _("Authenticator removed")
        MFA_RESET = "mfa_reset", _("Authenticator reset")
        MFA_USED = "mfa_used", _("Second factor passed")
        MFA_FAILED = "mfa_failed", _("Second factor failed")
        VIEW = "view", _("Viewed")
        CREATE = "create", _("Created")
        UPDATE = "update", _("Updated")
        DELETE = "delete", _("Deleted")
        EXPORT = "export", _("Exported")
        BREAK_GLASS = "break_glass", _("Emergency access started")
        BREAK_GLASS_REFUSED = "break_glass_refused", _("Emergency access refused")
        ACCESS_DENIED = "access_denied", _("Access refused")

    occurred_at = models.DateTimeField(default=timezone.now, editable=False)
    # PROTECT: an audit row must outlive any attempt to delete what it names.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_role = models.CharField(max_length=20, blank=True)
    patient = models.ForeignKey("patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    # Identifiers and event names only, never clinical text.
    detail = models.JSONField(default=dict, blank=True)
    # Hash chain (clinic.audit.chain_hash): row_hash covers this row's fields and prev_hash,
    # prev_hash is the row_hash of the row before it. Unique: two rows can never follow
    # the same predecessor, so the chain cannot fork even if the append lock is bypassed.
    prev_hash = models.CharField(max_length=64, editable=False)
    row_hash = models.CharField(max_length=64, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # "Who accessed this patient's record", newest first (privacy officer view).
            models.Index(fields=["patient", "-occurred_at"], name="audit_patient_time"),
            # "What did this user do" and failed-login review.
            models.Index(fields=["actor", "-occurred_at"], name="audit_actor_time"),
        ]
        constraints = [models.UniqueConstraint(fields=["prev_hash"], name="audit_chain_no_fork")]
        # Held by privacy officers (a clinic admin in the "Privacy officer" group) and superusers.
        permissions = [("view_audit_log", "Can review the audit log")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_id or '-'} at {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are append-only.")


class NotificationQuerySet(models.QuerySet["Notification"]):
    def unread_in_app(self, user):
        return self.filter(recipient=user, channel=Notification.Channel.IN_APP, status="sent", read_at__isnull=True)

    def about(self, *subjects):
        """Rows about any of these model instances (a generic subject cannot be filtered on by
        itself): one subject type and id pair per model (index notification_subject)."""
        by_type: dict[int, list] = {}
        for subject in subjects:
            by_type.setdefault(ContentType.objects.get_for_model(subject).pk, []).append(subject.pk)
        if not by_type:
            return self.none()
        return self.filter(
            functools.reduce(
                operator.or_, (models.Q(subject_type_id=t, subject_id__in=ids) for t, ids in by_type.items())
            )
        )


class Notification(models.Model):
    """The outbox. A reminder is a row before it is a message (DESIGN.md, "Background work").

    ``id`` doubles as the provider idempotency key; ``idempotency_key`` (unique) is what
    makes every planner safe to run twice.
    """

    class Kind(models.TextChoices):
        APPOINTMENT_REMINDER = "appointment_reminder", "Appointment reminder"
        APPOINTMENT_BOOKED = "appointment_booked", "Appointment booked by a patient"
        APPOINTMENT_CANCELLED = "appointment_cancelled", "Appointment cancelled by a patient"
        WAITLIST_OFFER = "waitlist_offer", "Earlier slot offered"
        NO_SHOW_FOLLOW_UP = "no_show_follow_up", "Missed appointment follow-up"
        PRESCRIPTION_REVIEW_DUE = "prescription_review_due", "Prescription review due"
        LAB_DUE = "lab_due", "Lab test or measurement due"
        QUESTIONNAIRE_DUE = "questionnaire_due", "Questionnaire to fill in"
        SAFETY_ALERT = "safety_alert", "Urgent patient report"
        ALERT_ESCALATED = "alert_escalated", "Unacknowledged urgent report escalated"
        BREAK_GLASS_USED = "break_glass_used", "Emergency access used"
        # To the patient: a change to their visit they did not make themselves (appointments.reminders).
        VISIT_BOOKED = "visit_booked", "Appointment booked by the clinic"
        VISIT_MOVED = "visit_moved", "Appointment moved by the clinic"
        VISIT_CANCELLED = "visit_cancelled", "Appointment cancelled by the clinic"
        # Secure messages (medications.messaging): "you have a new message", never its words.
        MESSAGE_FOR_PATIENT = "message_for_patient", "New message from the care team"
        MESSAGE_FOR_STAFF = "message_for_staff", "New message from a patient"
        SUMMARY_SHARED = "summary_shared", "Summary link sent to a care contact"
        # To the patient: a signed visit note's after-visit summary is in the portal (patients.notes).
        AFTER_VISIT_SUMMARY = "after_visit_summary", "After-visit summary ready"
        # To the patient: their refill request was answered (medications.refills).
        REFILL_ANSWERED = "refill_answered", "Refill request answered"
        # To the patient: the weekly medicine check-in is open (medications.adherence).
        ADHERENCE_DUE = "adherence_due", "Medicine check-in"
        # To the patient: the record they asked for is ready to download (records.requests).
        RECORD_READY = "record_ready", "Record ready to download"

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("Text message")
        IN_APP = "in_app", _("In the portal")

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ENQUEUED = "enqueued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        SKIPPED = "skipped", "Skipped"  # opted out, or expired before it could go
        UNKNOWN = "unknown", "Outcome unknown"  # provider may have accepted; see docs/reminders.md

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # No index of its own: notification_inbox starts with recipient (its PROTECT check and the inbox).
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications", db_index=False
    )
    # An outside recipient's address (a patient's therapist, patients.sharing): the email goes here,
    # not to ``recipient`` (the staff member who sent it), and the recipient's own channel settings
    # do not apply; the kind's still_wanted hook checks the patient's consent instead.
    to_address = models.EmailField(blank=True)
    # Its FK index: the PROTECT check when a patient row is deleted.
    patient = models.ForeignKey("patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # What the row is about (a visit, a waitlist offer), if anything: a generic subject, because
    # the outbox sits below the domains that send (docs/architecture.md, "Layers"). Both or
    # neither (notification_subject_complete). Indexed by notification_subject, which also serves
    # the content type's PROTECT check (its leading column). Deleting a subject while rows are
    # about it is refused by notifications.outbox.protect_subjects (a pre_delete receiver).
    subject_type = models.ForeignKey(
        "contenttypes.ContentType", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    subject_id = models.PositiveBigIntegerField(null=True, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    send_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The language the message was written in (the recipient's, clinic.languages): the delivery
    # report shows it. Set when the row is planned and again when it is rendered.
    language = models.CharField(max_length=5, choices=settings.LANGUAGES, default="en")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-send_at"]
        indexes = [
            # The dispatcher's claim (due pending rows, stale leases) and the delivery report's open
            # UNKNOWN rows. Partial: a row leaving for SENT/SKIPPED/... (every row, once) adds no
            # entry to it, and it stays as small as the backlog.
            models.Index(
                fields=["status", "send_at"],
                name="notification_open_due",
                condition=models.Q(status__in=["pending", "enqueued", "sending", "unknown"]),
            ),
            # The in-app badge and list; also the recipient FK's PROTECT check (leading column).
            models.Index(fields=["recipient", "channel", "read_at"], name="notification_inbox"),
            # outbox.cancel(kinds=, subject=) and the subject's delete guard (subject type and id;
            # kind and status are filtered among a visit's few rows), and the content type FK's
            # PROTECT check. Partial: rows about nothing (alerts, labs, questionnaires) add no entry.
            models.Index(
                fields=["subject_type", "subject_id"],
                name="notification_subject",
                condition=models.Q(subject_type__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(send_at__lt=models.F("expires_at")), name="notification_sends_before_expiry"
            ),
            # A subject is a type and an id, or nothing.
            models.CheckConstraint(
                condition=models.Q(subject_type__isnull=True, subject_id__isnull=True)
                | models.Q(subject_type__isnull=False, subject_id__isnull=False),
                name="notification_subject_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.channel} ({self.status})"


class NotificationPreference(models.Model):
    """A user's reminder channels and quiet hours. Consent changes are kept in ConsentRecord."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email_enabled = models.BooleanField("email reminders", default=True)
    sms_enabled = models.BooleanField("text message reminders", default=False)
    sms_phone = models.CharField("mobile number for texts", max_length=32, blank=True)
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="No texts or emails from this time…")
    quiet_hours_end = models.TimeField(null=True, blank=True, help_text="…until this time (your time zone).")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Notification preferences of {self.user_id}"


class ConsentRecord(models.Model):
    """Append-only history of opting in to or out of a channel, with when and by whom."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consent_records")
    channel = models.CharField(max_length=8, choices=Notification.Channel.choices, blank=True)
    granted = models.BooleanField()
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Consent to share a summary with an outside care contact (patients.sharing) rather than to a
    # channel: the row names the contact and leaves the channel empty.
    care_contact = models.ForeignKey(
        "patients.CareContact", null=True, blank=True, on_delete=models.PROTECT, related_name="consent_records"
    )

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(care_contact__isnull=True) & ~models.Q(channel=""))
                | (models.Q(care_contact__isnull=False) & models.Q(channel="")),
                name="consent_channel_or_contact",
            ),
        ]

    def __str__(self) -> str:
        what = f"sharing with contact {self.care_contact_id}" if self.care_contact_id else self.channel
        return f"{'Opt-in' if self.granted else 'Opt-out'} {what} by {self.user_id}"


class CalendarFeed(models.Model):
    """The secret in a user's private calendar (ICS) URL. Delete the row to revoke it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user_id}"


class AlertQuerySet(models.QuerySet["Alert"]):
    def open(self):
        return self.filter(acknowledged_at__isnull=True)

    def overdue(self, now):
        """Unacknowledged, not yet escalated, past their deadline (patients.alerts.escalate_overdue)."""
        return self.filter(acknowledged_at__isnull=True, escalated_at__isnull=True, escalate_after__lte=now)


class Alert(models.Model):
    """A safety alert about one patient: something they reported (or a result) that a clinician
    must look at today. Raised by patients.alerts.raise_alert, acknowledged by the care team,
    escalated once to the on-call contact if nobody acknowledges it in time."""

    class Level(models.TextChoices):
        EMERGENCY = "emergency", "Emergency"
        URGENT = "urgent", "Urgent"

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="alerts")
    level = models.CharField(max_length=10, choices=Level.choices)
    # Human-readable reasons from the triage rules (clinical text: shown in the portal only).
    reasons = models.JSONField(default=list, blank=True)
    # What raised it (a side-effect report, a questionnaire response, a lab result).
    source_type = models.ForeignKey(
        "contenttypes.ContentType", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_id = models.CharField(max_length=64, blank=True)
    source = GenericForeignKey("source_type", "source_id")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # When the sweep escalates it if nobody has acknowledged it by then.
    escalate_after = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    # The on-call user it went to (None: nobody was configured; clinic admins were told instead).
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The escalation sweep (every minute): open alerts past their deadline.
            models.Index(
                fields=["escalate_after"],
                condition=models.Q(acknowledged_at__isnull=True, escalated_at__isnull=True),
                name="alert_escalation_due",
            ),
            # The psychiatrist home and alert list: a patient's open alerts.
            models.Index(fields=["patient", "acknowledged_at"], name="alert_patient_ack"),
        ]
        constraints = [
            # One alert per thing that raised it: a retried submission cannot page twice.
            models.UniqueConstraint(fields=["source_type", "source_id"], name="alert_one_per_source"),
            models.CheckConstraint(condition=models.Q(level__in=["emergency", "urgent"]), name="alert_level_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} alert {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None


class BreakGlassGrantQuerySet(models.QuerySet["BreakGlassGrant"]):
    def active(self, now=None):
        return self.filter(expires_at__gt=now or timezone.now())


class BreakGlassGrant(models.Model):
    """Emergency access: a psychiatrist not on a patient's care team opens the chart for a
    stated reason, for TITRATE_BREAK_GLASS_MINUTES. While it lasts ``patients_for``
    includes the patient and every audit row about them carries ``{"break_glass": id}``.
    Never edited: a new emergency is a new grant."""

    class Reason(models.TextChoices):
        CRISIS = "crisis", "Patient in crisis or in the emergency department"
        SAFETY = "safety", "Urgent risk to the patient's or someone else's safety"
        COVERING = "covering", "Covering for the treating psychiatrist, who cannot be reached"
        MEDICATION = "medication", "Urgent medication question (overdose, interaction, pharmacy call)"
        OTHER = "other", "Another clinical emergency (explained below)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    # Empty on grants made before the list existed (issue 18).
    reason_code = models.CharField("reason", max_length=20, choices=Reason.choices, blank=True)
    # Free text seen by privacy officers in the portal only (never in the audit detail or emails).
    reason = models.TextField("details", max_length=1000)
    # Over the daily cap a second psychiatrist co-signs, authenticating on the spot (patients.break_glass).
    cosigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()

    objects = BreakGlassGrantQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # The scope check's "does this user hold a live grant for this patient?" (clinic.access).
            models.Index(fields=["user", "patient", "expires_at"], name="break_glass_active"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(expires_at__gt=models.F("started_at")), name="break_glass_ends")
        ]

    def __str__(self) -> str:
        return f"Emergency access {self.pk} by {self.user_id} to {self.patient_id}"

    @property
    def is_active(self) -> bool:
        return self.expires_at > timezone.now()


CLINIC_PROFILE_CACHE_KEY = "clinic-profile:v1"


class ClinicProfile(models.Model):
    """The clinic's own identity, set in the portal (or by ``bootstrap_clinic``) rather than in the
    environment: one row, pk 1. Until it is saved the settings' TITRATE_CLINIC_* values stand in
    (clinic.contact.clinic()). Read through that function, which caches it and drops the cache on
    save."""

    name = models.CharField(max_length=120)
    phone = models.CharField(max_length=40, help_text="The number patients are told to call.")
    hours = models.CharField(
        "phone hours", max_length=200, blank=True, help_text="When the phone is answered, e.g. Mon–Fri 9 am–5 pm."
    )
    after_hours = models.CharField(
        "after-hours instruction",
        max_length=300,
        blank=True,
        help_text="What a patient should do when the clinic is closed.",
    )
    time_zone = models.CharField(max_length=64, default=settings.TITRATE_DEFAULT_TIME_ZONE)
    on_call = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Told when an urgent alert goes unacknowledged; empty: every clinic admin.",
    )
    # Shown to patients beside "send a message": "we answer within N business days".
    response_business_days = models.PositiveSmallIntegerField(default=2)

    class VideoProvider(models.TextChoices):
        NONE = "none", "No automatic link (staff type one per visit)"
        TEMPLATE = "template", "A new room per visit, from an address template"
        PERSONAL = "personal", "Each psychiatrist's personal room"

    # How a telehealth visit gets its video link when it is booked (appointments.telehealth).
    video_provider = models.CharField(max_length=10, choices=VideoProvider.choices, default=VideoProvider.NONE)
    video_url_template = models.URLField(
        "room address template",
        # A visit's link (Appointment.telehealth_url) holds 200: room names are 16 characters.
        max_length=180,
        blank=True,
        help_text="An https address with {room} where the visit's own room name goes, "
        "e.g. https://meet.example.com/clinic-{room}.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="clinic_profile_single_row")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)
        # Every process reads it through the shared cache (clinic.contact), so a change shows at once.
        cache.delete(CLINIC_PROFILE_CACHE_KEY)


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def open(self):
        """Neither accepted nor revoked (an expired one is still open: it can be resent)."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)


class Invitation(models.Model):
    """A clinic admin's emailed invitation to make an account (clinic.invitations).

    The link carries a random token; only its SHA-256 is stored, so a copy of the database opens
    no account. Single use (accepted_at), expiring (expires_at), resent with a new token (the old
    one is dead the moment its hash is replaced) and revocable. A patient's invitation names the
    record the new login is linked to: there are no free-floating patient accounts.
    """

    class Role(models.TextChoices):
        PSYCHIATRIST = "psychiatrist", "Psychiatrist / psychiatric NP"
        CLINIC_ADMIN = "clinic_admin", "Clinic admin"
        PRIVACY_OFFICER = "privacy_officer", "Privacy officer (a clinic admin who reviews the audit log)"
        PATIENT = "patient", "Patient"

    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    credentials = models.CharField(max_length=40, blank=True, help_text='Shown after the name, e.g. "MD", "PMHNP-BC".')
    # Its FK index: the "one open invitation per record" constraint's look-up and the PROTECT check.
    patient = models.ForeignKey("patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(default=timezone.now)
    send_count = models.PositiveSmallIntegerField(default=1)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The account the invitation made.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A second invitation to the same address while one is open would leave two live links.
            models.UniqueConstraint(
                fields=["email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True, patient__isnull=False),
                name="invitation_one_open_per_patient",
            ),
            # A patient's invitation always names their record; a staff invitation never does.
            models.CheckConstraint(
                condition=models.Q(role="patient", patient__isnull=False)
                | (~models.Q(role="patient") & models.Q(patient__isnull=True)),
                name="invitation_patient_iff_patient_role",
            ),
            models.CheckConstraint(
                condition=models.Q(accepted_at__isnull=True) | models.Q(revoked_at__isnull=True),
                name="invitation_not_accepted_and_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation {self.pk} ({self.get_role_display()})"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.is_expired else "pending"


class MFAResetRequest(models.Model):
    """A clinic admin asks to remove a user's second factor; a second clinic admin approves it
    (clinic.staff). Until then the user's authenticators stay."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # Its index also serves "the open request for this user" on the user's page.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(approved_at__isnull=True, cancelled_at__isnull=True),
                name="mfa_reset_one_open_per_user",
            ),
            # Two different people: the one who asks is never the one who approves, and nobody
            # asks for or approves the reset of their own factor.
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True)
                | (~models.Q(approved_by=models.F("requested_by")) & ~models.Q(approved_by=models.F("user"))),
                name="mfa_reset_second_admin",
            ),
            models.CheckConstraint(condition=~models.Q(requested_by=models.F("user")), name="mfa_reset_not_own"),
        ]

    def __str__(self) -> str:
        return f"MFA reset {self.pk} for {self.user_id}"

    @property
    def is_open(self) -> bool:
        return self.approved_at is None and self.cancelled_at is None


class Heartbeat(models.Model):
    """When a periodic task last ran (clinic.health). One row per name, written by the task beat
    sends every minute: a stale row means beat stopped ticking or no worker takes its messages.
    A table, not a cache key: a restarted Redis must not look like a stopped beat."""

    name = models.CharField(max_length=40, primary_key=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class JSONText(models.Field):
    """JSON kept in a text column: for documents only Python reads whole, never queried inside. A
    month of the metrics' days came back in 4.3 ms from jsonb (its output function rebuilds the
    text) and in 0.7 ms from text (docs/performance.md, "The nightly count"). Not a TextField:
    nobody types these, so the length limit of typed text (tests/test_text_limits.py) is not theirs."""

    def get_internal_type(self) -> str:
        return "TextField"

    def from_db_value(self, value, expression, connection):
        return None if value is None else json.loads(value)

    def to_python(self, value):
        return json.loads(value) if isinstance(value, str) else value

    def get_prep_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"))


class MetricsDay(models.Model):
    """One clinic-local day's metrics figures for the whole clinic, counted by the nightly job
    (clinic.metrics_count) so the metrics pages add up days instead of recounting their records.

    ``clinic`` holds counts and the response and acknowledgement times themselves (percentiles do
    not add up), in the shape clinic.metrics merges. A row is used only while it is younger than
    TITRATE_METRICS_COUNT_MAX_AGE_HOURS and was counted under the clinic's current time zone,
    late-cancel hours and promise; otherwise the page counts that day live (docs/metrics.md)."""

    day = models.DateField(primary_key=True)
    counted_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64)
    late_cancel_hours = models.PositiveIntegerField()
    promise_days = models.PositiveSmallIntegerField()
    clinic = JSONText()

    def __str__(self) -> str:
        return f"Metrics of {self.day} counted at {self.counted_at:%Y-%m-%d %H:%M}"


class PsychiatristMetricsDay(models.Model):
    """One psychiatrist's share of a MetricsDay (their visits, and their patients' requests and
    alerts): a row only for a psychiatrist with something that day."""

    day = models.ForeignKey(MetricsDay, on_delete=models.CASCADE, related_name="psychiatrists")
    psychiatrist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    figures = JSONText()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["psychiatrist", "day"], name="metrics_day_psychiatrist")]

    def __str__(self) -> str:
        return f"Metrics of {self.day_id} for user {self.psychiatrist_id}"
