"""appointments/migrations/0015 adds Appointment.confirmed_at (issue 24's confirmation rate) and fills
it for visits confirmed before it existed from the audit trail: the earliest "confirmed" change of
each visit (booking.set_status wrote one audit row per change). Runs on PostgreSQL, as production does."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from django.db import connection
from django.utils import timezone

from tests.helpers import require_service

# Every other app at its newest, so the old state's models match the tables they write to.
LATEST = [
    ("clinic", "0026_i22i18n_language"),
    ("patients", "0016_i22i18n_preferred_language"),
    ("medications", "0022_i20refills_refills_adherence_cabinet"),
]
BEFORE = [("appointments", "0014_i19setup_phone_modality"), *LATEST]
AFTER = [("appointments", "0015_i24metrics_confirmed_at"), *LATEST]


@pytest.mark.services
def test_confirmations_are_filled_from_the_audit_trail(migrator):
    require_service("PostgreSQL", connection.vendor == "postgresql")
    old = migrator(BEFORE)
    User = old.get_model("clinic", "User")
    Patient = old.get_model("patients", "Patient")
    Appointment = old.get_model("appointments", "Appointment")
    AppointmentType = old.get_model("appointments", "AppointmentType")
    AuditEvent = old.get_model("clinic", "AuditEvent")

    doctor = User.objects.create(email="confirm-doctor@example.test", role="psychiatrist")
    patient = Patient.objects.create(
        mrn="CONF0001", legal_first_name="Ada", legal_last_name="Confirmed",
        date_of_birth=datetime.date(1980, 1, 1), primary_psychiatrist=doctor,
    )  # fmt: skip
    kind = AppointmentType.objects.create(name="Confirm visit", duration_minutes=30)
    start = timezone.now() - datetime.timedelta(days=3)

    def appointment(hours: int, status: str):
        begins = start + datetime.timedelta(hours=hours)
        return Appointment.objects.create(
            patient=patient, psychiatrist=doctor, appointment_type=kind, start=begins,
            end=begins + datetime.timedelta(minutes=30), booked_by=doctor, status=status,
        )  # fmt: skip

    confirmed_then_completed = appointment(0, "completed")
    never_confirmed = appointment(2, "completed")
    first = start - datetime.timedelta(days=2)

    head = [AuditEvent.objects.order_by("-id").values_list("row_hash", flat=True).first() or "0" * 64]

    def change(visit, what: str, at: datetime.datetime):
        # Chained (the table refuses a fork); the hash's content does not matter to the migration.
        row_hash = hashlib.sha256(f"{head[0]}{visit.pk}{what}{at.isoformat()}".encode()).hexdigest()
        AuditEvent.objects.create(
            occurred_at=at, actor=doctor, actor_role="psychiatrist", patient=patient, action="update",
            object_type="appointments.Appointment", object_id=str(visit.pk), detail={"change": what},
            prev_hash=head[0], row_hash=row_hash,
        )  # fmt: skip
        head[0] = row_hash

    change(confirmed_then_completed, "confirmed", first + datetime.timedelta(hours=5))
    change(confirmed_then_completed, "confirmed", first)  # the earliest counts, whatever the row order
    change(confirmed_then_completed, "completed", start)
    change(never_confirmed, "completed", start)

    new = migrator(AFTER)
    Appointment = new.get_model("appointments", "Appointment")
    assert Appointment.objects.get(pk=confirmed_then_completed.pk).confirmed_at == first
    assert Appointment.objects.get(pk=never_confirmed.pk).confirmed_at is None
