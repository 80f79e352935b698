"""Booking rules, the waitlist and recurring follow-ups, through appointments.booking."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from appointments import booking, slots, waitlist
from appointments.models import Appointment, AppointmentType, TimeOff, WaitlistEntry, WeeklyAvailability
from clinic.models import Notification
from tests.factories import PatientFactory, PatientUserFactory

pytestmark = pytest.mark.django_db
NY = zoneinfo.ZoneInfo("America/New_York")
# A Monday; the tests travel here so "the future" is fixed.
NOW = datetime.datetime(2026, 6, 1, 8, 0, tzinfo=NY)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def follow_up(db):
    return AppointmentType.objects.create(
        name="Test follow-up", duration_minutes=30, patient_bookable=True, reminder_offsets_hours=[48, 2]
    )


@pytest.fixture
def hours(psychiatrist):
    psychiatrist.time_zone = "America/New_York"
    psychiatrist.save(update_fields=["time_zone"])
    for weekday in range(5):
        WeeklyAvailability.objects.create(
            psychiatrist=psychiatrist, weekday=weekday, start_time=datetime.time(9), end_time=datetime.time(17)
        )
    return psychiatrist


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 6, day, hour, minute, tzinfo=NY)


def book(patient, psychiatrist, appointment_type, start, **kwargs):
    return booking.book(
        patient=patient,
        psychiatrist=psychiatrist,
        appointment_type=appointment_type,
        start=start,
        booked_by=kwargs.pop("booked_by", psychiatrist),
        **kwargs,
    )


def test_books_within_hours_and_plans_reminders(patient, hours, follow_up):
    appointment = book(patient, hours, follow_up, at(3, 10))

    assert (appointment.start, appointment.end) == (at(3, 10), at(3, 10, 30))
    reminders = Notification.objects.about(appointment).filter(kind="appointment_reminder")
    # The type's offsets (48 h, 2 h) on each channel the patient has by default (in-app, email).
    planned = {(n.channel, n.send_at) for n in reminders}
    assert planned == {
        (channel, when)
        for channel in (Notification.Channel.IN_APP, Notification.Channel.EMAIL)
        for when in (at(1, 10), at(3, 8))
    }
    assert all(n.expires_at == appointment.start for n in reminders)


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (at(1, 7), "That time is in the past."),
        (at(3, 8), "outside their hours"),
        (at(6, 10), "is not available then"),  # Saturday
    ],
)
def test_refuses_past_and_out_of_hours(patient, hours, follow_up, start, message):
    with pytest.raises(ValidationError, match=message):
        book(patient, hours, follow_up, start)
    assert not Appointment.objects.exists()


def test_refuses_time_off(patient, hours, follow_up):
    TimeOff.objects.create(psychiatrist=hours, start=at(4, 9), end=at(4, 12), reason="Conference")

    with pytest.raises(ValidationError, match="is away then"):
        book(patient, hours, follow_up, at(4, 10))


def test_refuses_double_booking_the_psychiatrist(patient, hours, follow_up):
    book(patient, hours, follow_up, at(3, 10))
    other = PatientFactory(primary_psychiatrist=hours)

    with pytest.raises(ValidationError, match="already has an appointment"):
        book(other, hours, follow_up, at(3, 10, 15))
    assert Appointment.objects.count() == 1


def test_refuses_overlapping_appointments_for_one_patient(patient, hours, psychiatrist2, follow_up):
    book(patient, hours, follow_up, at(3, 10))
    for weekday in range(5):
        WeeklyAvailability.objects.create(
            psychiatrist=psychiatrist2, weekday=weekday, start_time=datetime.time(9), end_time=datetime.time(17)
        )
    psychiatrist2.time_zone = "America/New_York"
    psychiatrist2.save()

    with pytest.raises(ValidationError, match="already has another appointment"):
        book(patient, psychiatrist2, follow_up, at(3, 10))


def test_back_to_back_is_fine(patient, hours, follow_up):
    book(patient, hours, follow_up, at(3, 10))
    other = PatientFactory(primary_psychiatrist=hours)

    assert book(other, hours, follow_up, at(3, 10, 30)).start == at(3, 10, 30)


def test_cancelled_slot_can_be_booked_again(patient, hours, follow_up):
    first = book(patient, hours, follow_up, at(3, 10))
    booking.cancel(first, by=hours, reason="Patient unwell")

    again = book(patient, hours, follow_up, at(3, 10))

    assert again.pk != first.pk
    # Its reminders and booking notices are withdrawn; what is left tells the patient it is off.
    left = Notification.objects.about(first).exclude(status="cancelled")
    assert set(left.values_list("kind", flat=True)) == {Notification.Kind.VISIT_CANCELLED}


def test_database_refuses_overlaps_on_postgresql(patient, hours, follow_up):
    from tests.helpers import require_service

    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    book(patient, hours, follow_up, at(3, 10))
    other = PatientFactory(primary_psychiatrist=hours)

    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            patient=other, psychiatrist=hours, appointment_type=follow_up, start=at(3, 10, 15), end=at(3, 10, 45),
            booked_by=hours,
        )  # fmt: skip


def test_patient_booking_rules(patient, hours, follow_up):
    with pytest.raises(ValidationError, match="at least 24 hours' notice"):
        book(patient, hours, follow_up, at(1, 15), by_patient=True, booked_by=patient.user)
    with pytest.raises(ValidationError, match="up to 90 days ahead"):
        slots.check_patient_rules(follow_up, at(1, 10) + datetime.timedelta(days=120))
    clinic_only = AppointmentType.objects.create(name="Clinic only", duration_minutes=60, patient_bookable=False)
    with pytest.raises(ValidationError, match="booked by the clinic"):
        book(patient, hours, clinic_only, at(3, 10), by_patient=True, booked_by=patient.user)


def test_patient_booking_notifies_the_psychiatrist(patient, hours, follow_up):
    appointment = book(patient, hours, follow_up, at(3, 10), by_patient=True, booked_by=patient.user)

    assert (
        Notification.objects.about(appointment)
        .filter(kind="appointment_booked", recipient=hours, channel="in_app")
        .exists()
    )


def test_patient_cannot_cancel_inside_the_window(patient, hours, follow_up):
    appointment = book(patient, hours, follow_up, at(1, 15))

    with pytest.raises(ValidationError, match="Online changes close 24 hours before"):
        booking.cancel(appointment, by=patient.user, reason="x", by_patient=True)
    booking.cancel(appointment, by=hours, reason="Clinic cancelled")
    assert Appointment.objects.get(pk=appointment.pk).status == "cancelled"


def test_move_checks_the_new_slot_and_replans(patient, hours, follow_up):
    appointment = book(patient, hours, follow_up, at(3, 10))
    other = book(PatientFactory(primary_psychiatrist=hours), hours, follow_up, at(3, 11))

    with pytest.raises(ValidationError, match="already has an appointment"):
        booking.move(appointment, new_start=at(3, 11), by=hours)
    booking.move(appointment, new_start=at(4, 14), by=hours)

    appointment.refresh_from_db()
    assert appointment.start == at(4, 14)
    assert other.start == at(3, 11)
    live = Notification.objects.about(appointment).filter(kind="appointment_reminder").exclude(status="cancelled")
    assert all(n.expires_at == at(4, 14) for n in live)


def test_free_slots_leave_out_booked_and_time_off(patient, hours, follow_up):
    book(patient, hours, follow_up, at(3, 9))
    TimeOff.objects.create(psychiatrist=hours, start=at(3, 12), end=at(3, 17))

    free = [s for s, _ in slots.free_slots(hours, follow_up, datetime.date(2026, 6, 3), datetime.date(2026, 6, 3))]

    assert at(3, 9) not in free
    assert at(3, 9, 30) in free
    assert at(3, 11, 30) in free
    assert at(3, 12) not in free
    assert free[-1] == at(3, 11, 30)


def test_hours_stay_local_across_the_dst_change(patient, hours, follow_up):
    # New York falls back on 2026-11-01: 09:00 local is 13:00 UTC before, 14:00 UTC after.
    with time_machine.travel(datetime.datetime(2026, 10, 26, 8, tzinfo=NY), tick=False):
        before = slots.free_slots(hours, follow_up, datetime.date(2026, 10, 30), datetime.date(2026, 10, 30))
        after = slots.free_slots(hours, follow_up, datetime.date(2026, 11, 2), datetime.date(2026, 11, 2))
    utc = datetime.UTC
    assert before[0][0].astimezone(utc).hour == 13
    assert after[0][0].astimezone(utc).hour == 14


def test_recurring_follow_ups_report_conflicts_per_date_and_book_only_chosen(patient, hours, follow_up):
    TimeOff.objects.create(psychiatrist=hours, start=at(15, 0), end=at(16, 0))

    plan = booking.plan_series(
        patient=patient, psychiatrist=hours, appointment_type=follow_up, first_start=at(1, 10), every_weeks=1, count=3
    )

    assert [o.start for o in plan] == [at(1, 10), at(8, 10), at(15, 10)]
    assert [bool(o.problem) for o in plan] == [False, False, True]
    assert "away then" in plan[2].problem
    booked = booking.book_series(
        patient=patient, psychiatrist=hours, appointment_type=follow_up,
        starts=[o.start for o in plan if not o.problem], booked_by=hours,
    )  # fmt: skip
    assert len(booked) == 2
    assert len({a.series for a in booked}) == 1


def test_a_series_with_a_conflict_books_nothing(patient, hours, follow_up):
    TimeOff.objects.create(psychiatrist=hours, start=at(15, 0), end=at(16, 0))

    with pytest.raises(ValidationError):
        booking.book_series(
            patient=patient, psychiatrist=hours, appointment_type=follow_up, starts=[at(8, 10), at(15, 10)],
            booked_by=hours,
        )  # fmt: skip
    assert not Appointment.objects.exists()


def test_waitlist_offer_hold_accept_and_expiry(patient, hours, follow_up):
    late = book(patient, hours, follow_up, at(26, 10))
    bob = PatientFactory(user=PatientUserFactory(), primary_psychiatrist=hours)
    carol = PatientFactory(user=PatientUserFactory(), primary_psychiatrist=hours)
    book(bob, hours, follow_up, at(25, 10))
    book(carol, hours, follow_up, at(24, 10))
    early = book(PatientFactory(primary_psychiatrist=hours), hours, follow_up, at(3, 10))
    first = waitlist.join(patient=bob, appointment_type=follow_up, wanted_before=at(25, 10))
    second = waitlist.join(patient=carol, appointment_type=follow_up, wanted_before=at(24, 10))

    booking.cancel(early, by=hours, reason="Moved away")

    first.refresh_from_db()
    assert (first.status, first.offer_start) == ("offered", at(3, 10))
    assert Notification.objects.about(first).filter(kind="waitlist_offer").exists()
    # The slot is held for Bob: nobody else can take it meanwhile.
    with pytest.raises(ValidationError, match="held for a patient on the waitlist"):
        book(patient, hours, follow_up, at(3, 10))

    with time_machine.travel(NOW + datetime.timedelta(hours=5), tick=False):
        assert waitlist.expire_offers() == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status, second.offer_start) == ("waiting", "offered", at(3, 10))

    appointment = booking.accept_offer(second, by=carol.user)
    second.refresh_from_db()
    assert (appointment.patient, appointment.start, second.status) == (carol, at(3, 10), "booked")
    assert late.status == "scheduled"


def test_no_show_plans_a_follow_up_message(patient, hours, follow_up):
    appointment = book(patient, hours, follow_up, at(1, 9, 30))

    with time_machine.travel(at(1, 11), tick=False):
        booking.set_status(appointment, Appointment.Status.NO_SHOW, by=hours)

    assert Notification.objects.about(appointment).filter(kind="no_show_follow_up").exists()
    with pytest.raises(ValidationError, match="cannot become"):
        booking.set_status(appointment, Appointment.Status.CONFIRMED, by=hours)


def test_waitlist_join_twice_is_refused(patient, follow_up):
    waitlist.join(patient=patient, appointment_type=follow_up, wanted_before=at(20, 10))
    with pytest.raises(ValidationError, match="already on the waitlist"):
        waitlist.join(patient=patient, appointment_type=follow_up, wanted_before=at(20, 10))
    assert WaitlistEntry.objects.count() == 1


def test_patient_reschedule_tells_the_psychiatrist_the_new_time(patient, hours, follow_up):
    appointment = book(patient, hours, follow_up, at(3, 10), by_patient=True, booked_by=patient.user)

    booking.move(appointment, new_start=at(5, 14), by=patient.user, by_patient=True)

    notices = Notification.objects.about(appointment).filter(kind="appointment_booked", recipient=hours)
    assert notices.filter(channel="in_app").count() == 2
