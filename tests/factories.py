from __future__ import annotations

import datetime

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.models import Group, Permission

from clinic.models import User
from patients.models import Patient
from tests.totp import DEMO_TOTP_SECRET

DEMO_LIKE_PASSWORD = "correct-horse-battery-9"
TOTP_SECRET = DEMO_TOTP_SECRET
# Every patient name and clinical free text made here carries this marker; tests/conftest.py
# fails any test whose logs, emails, SMS, calendar feeds or URL query strings contain it.
PHI_MARKER = "Qzphi"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = factory.Sequence(lambda n: f"Last{n}")
    role = User.Role.PATIENT
    password = factory.django.Password(DEMO_LIKE_PASSWORD)

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)

    @factory.post_generation
    def totp(self, create, extracted, **kwargs):
        """Staff get a TOTP authenticator by default (pass totp=False to leave it out)."""
        if create and self.requires_mfa and extracted is not False:
            TOTP.activate(self, TOTP_SECRET)


class PsychiatristFactory(UserFactory):
    role = User.Role.PSYCHIATRIST
    credentials = "MD"


class ClinicAdminFactory(UserFactory):
    role = User.Role.CLINIC_ADMIN


def privacy_officer(**fields) -> User:
    """A clinic admin in the "Privacy officer" group, as the clinic grants it."""
    user = ClinicAdminFactory(**fields)
    group, _ = Group.objects.get_or_create(name="Privacy officer")
    # Transactional tests elsewhere flush the data migration's rows.
    group.permissions.add(Permission.objects.get(codename="view_audit_log", content_type__app_label="clinic"))
    user.groups.add(group)
    return user


class PatientUserFactory(UserFactory):
    role = User.Role.PATIENT
    last_name = factory.Sequence(lambda n: f"Last{n}{PHI_MARKER}")


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    legal_first_name = factory.Sequence(lambda n: f"Given{n}")
    legal_last_name = factory.Sequence(lambda n: f"Family{n}{PHI_MARKER}")
    date_of_birth = datetime.date(1990, 5, 17)
    mrn = factory.Sequence(lambda n: f"T{n:06d}")
    primary_psychiatrist = factory.SubFactory(PsychiatristFactory)


# -- Clinical records, built through the domain modules as the app builds them. ------------


def medication(name: str):
    from medications.models import Medication

    return Medication.objects.get(generic_name=name)


def start(patient, prescriber, drug="sertraline", dose="25", strength="25", frequency="qam", form="tablet", **extra):
    from decimal import Decimal

    from medications import prescribing

    return prescribing.start_prescription(
        patient=patient,
        medication=medication(drug),
        prescriber=prescriber,
        form=form,
        route="oral",
        strength_mg=Decimal(strength),
        dose_mg=Decimal(dose),
        frequency=frequency,
        quantity=30,
        **extra,
    )


def outside_medication(patient, recorded_by, name: str, *, pick: str | None = None, **fields):
    """Recorded through the domain: coded when ``name`` is exactly a formulary drug (or to ``pick``)."""
    from medications import outside
    from medications.models import OutsideMedication

    row = OutsideMedication(name=name, medication=medication(pick) if pick else None, **fields)
    return outside.record(patient, row, by=recorded_by)


def evaluation(patient, author, *, signed=False, **fields):
    from patients import notes
    from patients.models import Evaluation

    defaults = {
        "presenting_symptoms": f"Low mood for three months since {PHI_MARKER} left.",
        "mental_status_exam": "Calm, cooperative, mood low.",
        "suicide_risk": "low",
        "violence_risk": "low",
        "risk_rationale": f"Denies suicidal ideation; engaged in care. {PHI_MARKER}",
    }
    note = notes.save_draft(Evaluation(patient=patient, **{**defaults, **fields}), actor=author)
    return notes.sign(note, actor=author) if signed else note


def visit(patient, author, *, signed=False, appointment=None, **fields):
    """A visit note, written for ``appointment`` if given (linked as the note form links it)."""
    from appointments import booking
    from patients import notes
    from patients.models import VisitNote

    defaults = {
        "interval_history": f"Sleeping better; back at work with {PHI_MARKER}.",
        "mental_status_exam": "Brighter.",
        "suicide_risk": "low",
        "violence_risk": "low",
        "risk_rationale": f"No ideation. {PHI_MARKER}",
    }
    note = notes.save_draft(VisitNote(patient=patient, **{**defaults, **fields}), actor=author)
    if appointment is not None:
        assert booking.link_visit_note(appointment, note), "the appointment cannot take this note"
    return notes.sign(note, actor=author) if signed else note


def report(patient, reporter=None, prescription=None, symptoms=("nausea",), severity="moderate", other_symptoms=None):
    import datetime

    from django.utils import timezone

    from medications import side_effects

    return side_effects.submit_report(
        patient=patient,
        reporter=reporter or patient.user,
        prescription=prescription,
        symptoms=list(symptoms),
        other_symptoms=f"Worse after lunch with {PHI_MARKER}." if other_symptoms is None else other_symptoms,
        severity=severity,
        onset_date=timezone.localdate() - datetime.timedelta(days=2),
        ongoing=True,
    )


# -- Scheduling: appointments made directly (not through booking), for the reminder tests. --


def _soon(n: int):
    from django.utils import timezone

    # A week out, an hour apart: never overlapping (PostgreSQL's exclusion constraints).
    return timezone.now().replace(microsecond=0) + datetime.timedelta(days=7, hours=n)


class AppointmentTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "appointments.AppointmentType"

    name = factory.Sequence(lambda n: f"Visit type {n}")
    duration_minutes = 30
    patient_bookable = True
    reminder_offsets_hours = factory.LazyFunction(lambda: [48, 2])


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "appointments.Appointment"

    patient = factory.SubFactory(PatientFactory, user=factory.SubFactory(PatientUserFactory))
    psychiatrist = factory.LazyAttribute(lambda o: o.patient.primary_psychiatrist)
    appointment_type = factory.SubFactory(AppointmentTypeFactory)
    start = factory.Sequence(_soon)
    end = factory.LazyAttribute(lambda o: o.start + datetime.timedelta(minutes=o.appointment_type.duration_minutes))
    booked_by = factory.LazyAttribute(lambda o: o.psychiatrist)


# -- Measures and notifications several test modules build. --------------------------------------


def submit_phq9(patient, each, item9=0, by=None):
    from patients import questionnaires

    return questionnaires.submit(
        patient=patient,
        instrument="phq9",
        answers={str(n): each for n in range(1, 9)} | {"9": item9},
        completed_by=by or patient.user,
        context="visit" if by else "portal",
    )


def sertraline_history(patient, psychiatrist):
    """Sertraline 50 mg from 8 weeks ago, 100 mg from 4 weeks ago; PHQ-9 16 → 12 → 6; one report."""
    from decimal import Decimal

    import time_machine
    from django.utils import timezone

    from medications import prescribing
    from medications.models import ChangeReason
    from patients import questionnaires
    from patients.models import Diagnosis

    now = timezone.now()
    with time_machine.travel(now - datetime.timedelta(weeks=8), tick=False):
        Diagnosis.objects.create(patient=patient, icd10_code="F33.1", description="MDD", recorded_by=psychiatrist)
        rx = start(patient, psychiatrist, dose="50", strength="50")
        submit_phq9(patient, 2)
    with time_machine.travel(now - datetime.timedelta(weeks=4), tick=False):
        prescribing.change_dose(rx, actor=psychiatrist, dose_mg=Decimal(100), reason=ChangeReason.INEFFECTIVE)
        report(patient, prescription=rx)
        questionnaires.submit(
            patient=patient,
            instrument="phq9",
            answers={str(n): (2 if n <= 4 else 1) for n in range(1, 9)} | {"9": 0},
            completed_by=psychiatrist,
            context="visit",
        )
    questionnaires.submit(
        patient=patient,
        instrument="phq9",
        answers={str(n): (1 if n <= 6 else 0) for n in range(1, 9)} | {"9": 0},
        completed_by=patient.user,
        context="portal",
    )
    return rx


PHONE = "+16175550123"


def due_reminders(count: int, channels_=None, **prefs):
    """``count`` patients, each with a visit in 3 days and a reminder on each channel, due now."""
    from django.utils import timezone

    from clinic.models import Notification, NotificationPreference

    Channel = Notification.Channel
    channels_ = (Channel.EMAIL, Channel.IN_APP) if channels_ is None else channels_
    now = timezone.now()
    kind = AppointmentTypeFactory(reminder_offsets_hours=[24])
    rows = []
    for i in range(count):
        patient = PatientFactory(user=PatientUserFactory())
        NotificationPreference.objects.create(
            user=patient.user,
            email_enabled=Channel.EMAIL in channels_,
            sms_enabled=Channel.SMS in channels_,
            sms_phone=PHONE,
            **prefs,
        )
        appt = AppointmentFactory(
            patient=patient,
            psychiatrist=patient.primary_psychiatrist,
            appointment_type=kind,
            start=now.replace(microsecond=0) + datetime.timedelta(days=3, minutes=i),
        )
        rows += [
            Notification(
                idempotency_key=f"batch-test:{appt.pk}:{channel}",
                kind=Notification.Kind.APPOINTMENT_REMINDER,
                channel=channel,
                recipient=patient.user,
                patient=patient,
                subject=appt,
                send_at=now - datetime.timedelta(seconds=1),
                expires_at=appt.start,
            )
            for channel in channels_
        ]
    return Notification.objects.bulk_create(rows)


def statuses(rows) -> dict[str, str]:
    """Each row's current status, by id."""
    from clinic.models import Notification

    return {
        str(pk): status
        for pk, status in Notification.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", "status")
    }


# -- Rows with a past outcome, for the clinic metrics (tests/clinic/test_metrics.py, the e2e journey). --


def visit_reminder(appointment, channel: str, status: str, *, hours_before: float = 48):
    """The outbox row of an appointment reminder as the planner makes it, already in ``status``."""
    from django.contrib.contenttypes.models import ContentType

    from appointments.models import Appointment
    from clinic.models import Notification

    send_at = appointment.start - datetime.timedelta(hours=hours_before)
    return Notification.objects.create(
        idempotency_key=f"visit-reminder-{appointment.pk}-{channel}-{hours_before}",
        kind=Notification.Kind.APPOINTMENT_REMINDER,
        channel=channel,
        recipient=appointment.patient.user,
        patient=appointment.patient,
        subject_type=ContentType.objects.get_for_model(Appointment),
        subject_id=appointment.pk,
        send_at=send_at,
        expires_at=appointment.start,
        status=status,
    )


def past_report(patient, created_at, acknowledged_at=None):
    """A routine side-effect report made at ``created_at`` (no triage, no outbox: a row of the past),
    acknowledged at ``acknowledged_at`` by the patient's psychiatrist through
    side_effects.acknowledge with the clock there, as the inbox does: so the facts that path records
    (the first response) are those of a real acknowledgement."""
    import time_machine

    from medications import side_effects
    from medications.models import SideEffectReport

    report = SideEffectReport.objects.create(
        patient=patient,
        symptoms=["nausea"],
        severity="mild",
        onset_date=created_at.date(),
        reported_by=patient.user,
        created_at=created_at,
    )
    if acknowledged_at is not None:
        with time_machine.travel(acknowledged_at, tick=False):
            side_effects.acknowledge(report, actor=patient.primary_psychiatrist)
    return report


def past_thread(patient, created_at, *, by=None, report=None, category="medication"):
    """A PATIENT thread started at ``created_at`` by ``by`` (default: the patient), or a report's
    thread, with no message yet: add them with ``past_message``."""
    from medications.models import MessageThread

    return MessageThread.objects.create(
        patient=patient,
        category=MessageThread.Category.SIDE_EFFECT if report is not None else category,
        subject="Side effect" if report is not None else "Question",
        side_effect_report=report,
        created_by=by or patient.user,
        created_at=created_at,
        last_message_at=created_at,
    )


def past_message(thread, author, at, text="Answer."):
    """A message written at ``at`` through medications.messaging.send (the thread page's path) with
    the clock there: a staff author's first message records the first response as in production."""
    import time_machine

    from medications import messaging

    with time_machine.travel(at, tick=False):
        return messaging.send(thread, author=author, text=text)


# -- The FHIR API's apps and tokens (issue 23). ---------------------------------------------------

APP_REDIRECT = "https://app.example.test/callback"


def health_app(name: str = "Health app", **fields):
    """A public SMART app registered for the authorization-code flow."""
    from oauth2_provider.models import Application

    return Application.objects.create(
        name=name,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=APP_REDIRECT,
        **fields,
    )


def app_token(user, app, scopes: str = "launch/patient patient/*.rs", *, minutes: float = 10) -> str:
    """An access token of ``app`` for ``user`` expiring in ``minutes`` (negative: already expired);
    returns the raw token (the table stores only its hash)."""
    import secrets

    from django.utils import timezone
    from oauth2_provider.models import AccessToken

    raw = secrets.token_urlsafe(30)
    AccessToken.objects.create(
        user=user,
        application=app,
        token=raw,
        expires=timezone.now() + datetime.timedelta(minutes=minutes),
        scope=scopes,
    )
    return raw
