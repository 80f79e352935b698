"""The outbox row's visit and waitlist offer became a generic subject (clinic/migrations/0012-0014):
rows written under the old foreign keys migrate forward to the same visit and offer as their
subject, and back to the old columns. Runs on PostgreSQL, as production does.

Only clinic's migrations move: the visit and the offer are made with today's models before the
schema goes back, and the test ends with every app at its latest migration, so migrations other
apps add later neither break it nor stay unapplied for the tests after it."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from appointments.models import WaitlistEntry
from tests.factories import AppointmentFactory, PatientFactory, PatientUserFactory
from tests.helpers import require_service

BEFORE = [("clinic", "0011_notification_fewer_index_writes")]
AFTER = [("clinic", "0014_notification_subject_only")]


def notification_columns() -> dict[str, str | None]:
    """Column -> the table its foreign key points at (None for a plain column)."""
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, "clinic_notification")}
        constraints = connection.introspection.get_constraints(cursor, "clinic_notification")
    targets = {c["columns"][0]: c["foreign_key"][0] for c in constraints.values() if c["foreign_key"]}
    return {column: targets.get(column) for column in columns}


def index_names() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, "clinic_notification"))


@pytest.mark.services
def test_visits_and_offers_become_subjects_and_back(migrator):
    require_service("PostgreSQL", connection.vendor == "postgresql")
    patient = PatientFactory(user=PatientUserFactory())
    visit = AppointmentFactory(patient=patient, psychiatrist=patient.primary_psychiatrist)
    now = timezone.now()
    slot = now + datetime.timedelta(days=1)
    offer = WaitlistEntry.objects.create(
        patient=patient, psychiatrist=patient.primary_psychiatrist, appointment_type=visit.appointment_type,
        wanted_before=visit.start, status=WaitlistEntry.Status.OFFERED, offer_start=slot,
        offer_end=slot + datetime.timedelta(minutes=30), offer_expires_at=now + datetime.timedelta(hours=4),
    )  # fmt: skip
    old = migrator(BEFORE)
    assert notification_columns()["appointment_id"] == "appointments_appointment"
    Notification = old.get_model("clinic", "Notification")

    def row(key, kind, **about):
        return Notification.objects.create(
            idempotency_key=key, kind=kind, channel="email", recipient_id=patient.user_id, patient_id=patient.pk,
            send_at=now, expires_at=now + datetime.timedelta(days=1), **about,
        ).pk  # fmt: skip

    about_visit = row("mig:visit", "appointment_reminder", appointment_id=visit.pk)
    about_offer = row("mig:offer", "waitlist_offer", waitlist_entry_id=offer.pk)
    about_nothing = row("mig:lab", "lab_due")

    new = migrator(AFTER)
    columns = notification_columns()
    assert "appointment_id" not in columns and "waitlist_entry_id" not in columns
    assert columns["subject_type_id"] == "django_content_type" and columns["subject_id"] is None
    assert "notification_subject" in index_names() and "notification_waitlist_entry" not in index_names()
    ContentType = new.get_model("contenttypes", "ContentType")
    visit_type = ContentType.objects.get(app_label="appointments", model="appointment").pk
    offer_type = ContentType.objects.get(app_label="appointments", model="waitlistentry").pk
    subjects = {
        pk: (subject_type, subject_id)
        for pk, subject_type, subject_id in new.get_model("clinic", "Notification").objects.values_list(
            "pk", "subject_type_id", "subject_id"
        )
    }
    assert subjects == {
        about_visit: (visit_type, visit.pk),
        about_offer: (offer_type, offer.pk),
        about_nothing: (None, None),
    }

    back = migrator(BEFORE)
    columns = notification_columns()
    assert "subject_type_id" not in columns and "subject_id" not in columns
    assert columns["appointment_id"] == "appointments_appointment"
    assert columns["waitlist_entry_id"] == "appointments_waitlistentry"
    assert "notification_waitlist_entry" in index_names()
    links = {
        pk: (appointment, entry)
        for pk, appointment, entry in back.get_model("clinic", "Notification").objects.values_list(
            "pk", "appointment_id", "waitlist_entry_id"
        )
    }
    assert links == {about_visit: (visit.pk, None), about_offer: (None, offer.pk), about_nothing: (None, None)}
