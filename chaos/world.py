"""The harness's clinic, built with the project's factories and domain functions, and the
ORM-side checks (reconciliation). Runs inside the driver process after ``django.setup()``."""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field

PASSWORD = "correct-horse-battery-9"  # tests/factories.DEMO_LIKE_PASSWORD


def configure_beat(dispatch_seconds: int = 2, plan_seconds: int = 15, heartbeat_seconds: int = 2) -> None:
    """Short sweep intervals for the harness: the dispatcher every 2 s (production: 60 s), the
    planners every 15 s and beat's heartbeat every 2 s (so /healthz notices a stopped beat within
    CHAOS_BEAT_MAX_AGE_SECONDS); the nightly and hourly jobs are left out of the runs. The other
    safety tasks (clinic.schedules.SAFETY_TASKS) stay on at their own pace: /healthz requires them."""
    from django.core.management import call_command
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from clinic.schedules import SAFETY_TASKS

    call_command("sync_periodic_tasks", verbosity=0)
    fast = {"Dispatch notifications": dispatch_seconds, "Plan reminders": plan_seconds,
            "Beat heartbeat": heartbeat_seconds}  # fmt: skip
    for task in PeriodicTask.objects.all():
        if task.name in fast:
            task.interval, _ = IntervalSchedule.objects.get_or_create(every=fast[task.name], period="seconds")
            task.crontab = None
            task.enabled = True
        else:
            task.enabled = task.name in SAFETY_TASKS
        task.save()


@dataclass
class People:
    patients: list = field(default_factory=list)  # (email, patient id)
    psychiatrists: list = field(default_factory=list)  # (email, [patient ids])
    admins: list = field(default_factory=list)  # emails
    psychiatrist_ids: list = field(default_factory=list)
    type_id: int = 0


def seed(patients: int, psychiatrists: int, admins: int, *, domain: str = "chaos.test") -> People:
    """The harness's clinic; ``domain`` names its users' email domain (chaos/loadtest/run.py refuses a database
    holding users of any other domain than its own, the demo's and the bench's)."""
    from django.utils import timezone

    from appointments.models import AppointmentType, WeeklyAvailability
    from clinic.models import NotificationPreference
    from patients import questionnaires
    from tests import factories

    people = People()
    visit_type, _ = AppointmentType.objects.get_or_create(
        name="Chaos follow-up",
        # One offset, 48 h: a visit booked tomorrow gets its reminder now (the catch-up rule), so
        # each booking in the harness puts due rows in the outbox on every channel.
        defaults={
            "duration_minutes": 30,
            "patient_bookable": True,
            "reminder_offsets_hours": [48],
            "min_notice_hours": 2,
        },  # fmt: skip
    )
    people.type_id = visit_type.pk
    doctors = []
    for n in range(psychiatrists):
        doctor = factories.PsychiatristFactory(email=f"chaos-psy{n}@{domain}", time_zone="UTC")
        for weekday in range(7):
            WeeklyAvailability.objects.create(
                psychiatrist=doctor, weekday=weekday, start_time=datetime.time(0), end_time=datetime.time(23, 30)
            )
        doctors.append(doctor)
        people.psychiatrist_ids.append(doctor.pk)
    for n in range(admins):
        people.admins.append(factories.ClinicAdminFactory(email=f"chaos-admin{n}@{domain}", time_zone="UTC").email)
    charts: dict[int, list[int]] = {d.pk: [] for d in doctors}
    for n in range(patients):
        doctor = doctors[n % len(doctors)]
        user = factories.PatientUserFactory(email=f"chaos-pt{n}@{domain}", time_zone="UTC")
        patient = factories.PatientFactory(user=user, primary_psychiatrist=doctor)
        NotificationPreference.objects.update_or_create(
            user=user, defaults={"email_enabled": True, "sms_enabled": True, "sms_phone": f"+1202555{n:04d}"}
        )
        factories.start(patient, doctor)
        for instrument in ("phq9", "gad7"):
            questionnaires.assign(patient=patient, instrument=instrument, assigned_by=doctor,
                                  due_on=timezone.localdate())  # fmt: skip
        people.patients.append((user.email, patient.pk))
        charts[doctor.pk].append(patient.pk)
    people.psychiatrists = [(d.email, charts[d.pk]) for d in doctors]
    return people


def plan_due_reminders(count: int, seed: int = 0) -> int:
    """Book ``count`` visits 2-46 hours ahead through the booking module: each plans its reminders
    in the booking's transaction, one due now per channel (inside the 48 h offset: the catch-up
    rule). Slots are walked from a seeded point so successive scenarios spread over the diaries."""
    import random

    from django.utils import timezone

    from appointments import booking
    from appointments.models import Appointment, AppointmentType
    from clinic.models import User
    from patients.models import Patient

    visit_type = AppointmentType.objects.get(name="Chaos follow-up")
    admin = User.objects.filter(role=User.Role.CLINIC_ADMIN).first()
    now = timezone.now()
    first = now.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=3)
    slots = [first + datetime.timedelta(minutes=30 * k) for k in range(86)]  # up to 46 h ahead
    rng = random.Random(seed)
    patients = list(Patient.objects.filter(user__isnull=False).select_related("primary_psychiatrist"))
    rng.shuffle(patients)
    busy = set(Appointment.objects.active().filter(start__gt=now).values_list("psychiatrist_id", "start"))
    busy |= set(Appointment.objects.active().filter(start__gt=now).values_list("patient_id", "start"))
    booked = 0
    for i in range(count):
        patient = patients[i % len(patients)]
        doctor = patient.primary_psychiatrist
        offset = rng.randrange(len(slots))
        for start in slots[offset:] + slots[:offset]:
            if (doctor.pk, start) in busy or (patient.pk, start) in busy:
                continue
            try:
                booking.book(patient=patient, psychiatrist=doctor, appointment_type=visit_type, start=start,
                             booked_by=admin)  # fmt: skip
            except Exception:  # noqa: S112 (refused by a booking rule: try the next slot)
                continue
            busy |= {(doctor.pk, start), (patient.pk, start)}
            booked += 1
            break
    return booked


# -- Reconciliation --------------------------------------------------------------------------


def open_rows() -> dict[str, int]:
    """Rows the pipeline still owes work on now: due PENDING, or ENQUEUED/SENDING at all."""
    from django.db.models import Q
    from django.utils import timezone

    from clinic.models import Notification

    S = Notification.Status
    now = timezone.now()
    rows = Notification.objects.filter(
        Q(status=S.PENDING, send_at__lte=now, expires_at__gt=now) | Q(status__in=(S.ENQUEUED, S.SENDING))
    )
    return dict(Counter(rows.values_list("status", flat=True)))


def email_deliveries(mail_dir) -> Counter:
    counts: Counter = Counter()
    for path in mail_dir.glob("*.log"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("X-Titrate-Notification:"):
                counts[line.split(":", 1)[1].strip()] += 1
    return counts


def reconcile(since, mail_dir, sms_stats: dict) -> tuple[dict, list[str]]:
    """Check every Notification created since ``since`` against what reached the fake providers.

    Policy (docs/reminders.md §3): SENT email 1 delivery (2 only after a crash between the
    provider and the SENT commit, same Message-ID, attempts > 1); SENT SMS exactly 1 distinct text
    (the gateway dedupes by key); UNKNOWN SMS at most 1; FAILED/SKIPPED/CANCELLED nothing on email;
    nothing PENDING-and-due, ENQUEUED or SENDING; one audit row per SENT row.
    """
    from django.utils import timezone

    from clinic.models import AuditEvent, Notification

    S, C = Notification.Status, Notification.Channel
    now = timezone.now()
    email = email_deliveries(mail_dir)
    sms = sms_stats["delivered"]
    sms_requests = sms_stats["requests"]
    rows = list(
        Notification.objects.filter(created_at__gte=since).values_list(
            "id", "status", "channel", "attempts", "send_at", "expires_at"
        )
    )
    ids = [str(r[0]) for r in rows]
    audits = Counter(
        AuditEvent.objects.filter(object_id__in=ids, detail__event="notification_sent").values_list(
            "object_id", flat=True
        )
    )
    problems: list[str] = []
    figures = Counter()
    for pk, status, channel, attempts, send_at, expires_at in rows:
        key = str(pk)
        figures[f"{channel}:{status}"] += 1
        figures["rows"] += 1
        delivered = email.get(key, 0) if channel == C.EMAIL else sms.get(key, 0) if channel == C.SMS else None
        if channel == C.EMAIL and delivered == 2:
            figures["email duplicates (policy: same Message-ID)"] += 1
        if channel == C.SMS and sms_requests.get(key, 0) > 1:
            figures["sms retried requests"] += sms_requests[key] - 1
        if status == S.PENDING and send_at <= now and expires_at > now or status in (S.ENQUEUED, S.SENDING):
            problems.append(f"stuck {status} {channel} {key}")
        elif status == S.SENT:
            if audits.get(key, 0) != 1:
                problems.append(f"SENT {channel} {key} has {audits.get(key, 0)} audit rows")
            if channel == C.SMS and delivered != 1:
                problems.append(f"SENT sms {key} delivered {delivered} times")
            if channel == C.EMAIL and not (delivered == 1 or (delivered == 2 and attempts > 1)):
                problems.append(f"SENT email {key} delivered {delivered} times (attempts {attempts})")
        elif status == S.UNKNOWN:
            figures["unknown (policy)"] += 1
            if delivered is not None and delivered > (2 if channel == C.EMAIL else 1):
                problems.append(f"UNKNOWN {channel} {key} delivered {delivered} times")
        elif status in (S.SKIPPED, S.CANCELLED) and delivered:
            problems.append(f"{status} {channel} {key} was delivered {delivered} times")
        elif status == S.FAILED:
            figures["failed"] += 1
    sent = sum(v for k, v in figures.items() if k.endswith(":sent"))
    figures["sent"] = sent
    return dict(figures), problems
