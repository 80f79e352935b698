"""Scheduling pages as the front desk, psychiatrists and patients use them."""

from __future__ import annotations

import datetime
import threading
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.urls import reverse

from appointments import booking
from appointments.models import Appointment, AppointmentType, WeeklyAvailability
from appointments.tasks import plan_reminders
from clinic.models import CalendarFeed
from tests import factories
from tests.factories import PatientFactory
from tests.helpers import log_in, require_service

NY = zoneinfo.ZoneInfo("America/New_York")
NOW = datetime.datetime(2026, 6, 1, 8, 0, tzinfo=NY)


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 6, day, hour, minute, tzinfo=NY)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def follow_up(db):
    return AppointmentType.objects.create(name="Test follow-up", duration_minutes=30, patient_bookable=True)


@pytest.fixture
def hours(psychiatrist):
    psychiatrist.time_zone = "America/New_York"
    psychiatrist.save(update_fields=["time_zone"])
    for weekday in range(5):
        WeeklyAvailability.objects.create(
            psychiatrist=psychiatrist, weekday=weekday, start_time=datetime.time(9), end_time=datetime.time(17)
        )
    return psychiatrist


def local(moment: datetime.datetime) -> str:
    return moment.astimezone(NY).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.django_db
def test_admin_sets_hours_books_and_is_refused_a_double_booking(client, clinic_admin, hours, patient, follow_up, clock):
    clinic_admin.time_zone = "America/New_York"
    clinic_admin.save()
    log_in(client, clinic_admin)
    client.post(
        reverse("appointments:availability", args=[hours.pk]),
        {"window-weekday": "5", "window-start_time": "09:00", "window-end_time": "12:00", "add_window": ""},
    )
    assert WeeklyAvailability.objects.filter(psychiatrist=hours, weekday=5).exists()
    form = {
        "patient": patient.pk,
        "psychiatrist": hours.pk,
        "appointment_type": follow_up.pk,
        "start": local(at(3, 10)),
    }

    first = client.post(reverse("appointments:book"), form)
    assert first.status_code == 302
    other = PatientFactory(primary_psychiatrist=hours)
    second = client.post(reverse("appointments:book"), {**form, "patient": other.pk})

    assert second.status_code == 200
    assert "already has an appointment" in second.content.decode()
    assert f'value="{local(at(3, 10))}"' in second.content.decode()
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
def test_admin_moves_and_cancels_from_the_detail_page(client, clinic_admin, hours, patient, follow_up, clock):
    clinic_admin.time_zone = "America/New_York"
    clinic_admin.save()
    appointment = booking.book(patient=patient, psychiatrist=hours, appointment_type=follow_up, start=at(3, 10),
                               booked_by=clinic_admin)  # fmt: skip
    log_in(client, clinic_admin)
    url = reverse("appointments:appointment_detail", args=[appointment.pk])

    bad = client.post(url, {"move-start": local(at(3, 7)), "move": ""})
    assert "is not available then" in bad.content.decode()
    client.post(url, {"move-start": local(at(4, 15)), "move": ""})
    appointment.refresh_from_db()
    assert appointment.start == at(4, 15)
    client.post(url, {"cancel-reason": "Patient asked", "cancel": ""})
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancel_reason) == ("cancelled", "Patient asked")


@pytest.mark.django_db
def test_week_and_day_calendars_show_bookings_and_time_off(client, clinic_admin, hours, patient, follow_up, clock):
    from appointments.models import TimeOff

    clinic_admin.time_zone = "America/New_York"
    clinic_admin.save()
    booking.book(patient=patient, psychiatrist=hours, appointment_type=follow_up, start=at(3, 10),
                 booked_by=clinic_admin)  # fmt: skip
    TimeOff.objects.create(psychiatrist=hours, start=at(4, 9), end=at(4, 13))
    log_in(client, clinic_admin)

    week = client.get(reverse("appointments:week"), {"psychiatrist": hours.pk, "week": "2026-06-03"})
    day = client.get(reverse("appointments:day"), {"day": "2026-06-03"})

    assert patient.display_name in week.content.decode()
    assert "Time off" in week.content.decode()
    assert patient.display_name in day.content.decode()


@pytest.mark.django_db
def test_patient_self_books_cancels_and_joins_the_waitlist(client, hours, patient, follow_up, clock):
    patient.user.time_zone = "America/New_York"
    patient.user.save()
    log_in(client, patient.user)

    page = client.get(reverse("appointments:my_book"), {"type": follow_up.pk})
    assert page.status_code == 200
    first_day = next(iter(page.context["days"]))
    assert first_day == datetime.date(2026, 6, 2)  # 24 h notice
    response = client.post(reverse("appointments:my_book"), {"type": follow_up.pk, "start": at(5, 14).isoformat()})
    assert response["Location"] == reverse("appointments:my_appointments")
    appointment = Appointment.objects.get(patient=patient)
    assert appointment.booked_by == patient.user

    client.post(reverse("appointments:my_waitlist"), {"action": "join", "type": follow_up.pk})
    assert patient.waitlist_entries.get().wanted_before == at(5, 14)

    client.post(reverse("appointments:my_cancel", args=[appointment.pk]), {"reason": "Feeling better"})
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"


@pytest.mark.django_db
def test_patient_cannot_touch_another_patients_appointment(client, hours, patient, patient2, follow_up, clock):
    theirs = booking.book(patient=patient2, psychiatrist=hours, appointment_type=follow_up, start=at(3, 10),
                          booked_by=hours)  # fmt: skip
    log_in(client, patient.user)

    response = client.post(reverse("appointments:my_cancel", args=[theirs.pk]), {"reason": "x"})

    assert response.status_code == 404
    assert Appointment.objects.get(pk=theirs.pk).status == "scheduled"


@pytest.mark.django_db
def test_ics_feed_has_times_but_no_clinical_content(client, hours, patient, follow_up, clock):
    factories.start(patient, hours)
    booking.book(patient=patient, psychiatrist=hours, appointment_type=follow_up, start=at(3, 10),
                 booked_by=hours)  # fmt: skip
    feed = CalendarFeed.objects.create(user=patient.user)

    response = client.get(reverse("appointments:ics_feed", args=[feed.token]))

    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert "SUMMARY:Appointment — Titrate clinic" in body
    assert "DTSTART:20260603T140000Z" in body
    for secret in ("sertraline", patient.legal_last_name, hours.last_name):
        assert secret not in body


@pytest.mark.django_db
def test_unknown_feed_token_is_404(client):
    import uuid

    assert client.get(reverse("appointments:ics_feed", args=[uuid.uuid4()])).status_code == 404


@pytest.mark.django_db
def test_psychiatrist_writes_the_note_for_an_appointment(client, hours, patient, follow_up):
    with time_machine.travel(NOW, tick=False):
        appointment = booking.book(patient=patient, psychiatrist=hours, appointment_type=follow_up, start=at(1, 10),
                                   booked_by=hours)  # fmt: skip
    with time_machine.travel(at(1, 10, 40), tick=False):
        booking.set_status(appointment, Appointment.Status.COMPLETED, by=hours)
        log_in(client, hours)
        home = client.get(reverse("psychiatrist_home"))
        assert [a.pk for a in home.context["unnoted"]] == [appointment.pk]
        client.post(
            reverse("appointments:visit_create", args=[patient.pk]),
            {"appointment": appointment.pk, "visit_at": "2026-06-01T10:00", "modality": "in_person",
             "interval_history": "Doing well.", "adherence": "as_prescribed"},
        )  # fmt: skip
        appointment.refresh_from_db()
        assert appointment.visit_note.interval_history == "Doing well."


@pytest.mark.django_db
def test_prescription_start_offers_a_follow_up(client, hours, patient):
    log_in(client, hours)
    data = {
        "medication": factories.medication("sertraline").pk, "form": "tablet", "route": "oral", "strength_mg": "25",
        "dose_mg": "25", "frequency": "qam", "quantity": "30", "refills": "0", "start_date": "2026-06-01",
        "steps-TOTAL_FORMS": "0", "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "12",
    }  # fmt: skip

    response = client.post(reverse("medications:prescription_start", args=[patient.pk]), data, follow=True)

    assert "Book a follow-up in about 4 weeks" in response.content.decode()


def _race(bookings: list[dict]) -> list[str]:
    """Run the bookings at the same moment, one thread each; returns each one's outcome."""
    barrier = threading.Barrier(len(bookings))
    outcomes: list[str] = []

    def attempt(kwargs):
        try:
            barrier.wait(timeout=10)
            booking.book(**kwargs)
            outcomes.append("booked")
        except ValidationError:
            outcomes.append("refused")
        except Exception as exc:  # surfaced by the assertion
            outcomes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(kwargs,)) for kwargs in bookings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


# Several rounds: PostgreSQL can otherwise turn such a race into a deadlock now and then.
@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("contested", ["psychiatrist", "patient"])
def test_concurrent_bookings_of_one_slot_one_wins(patient, patient2, psychiatrist, psychiatrist2, contested):
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    follow_up = AppointmentType.objects.create(name="Race follow-up", duration_minutes=30)
    for doctor in (psychiatrist, psychiatrist2):
        doctor.time_zone = "America/New_York"
        doctor.save()
        for weekday in range(7):
            WeeklyAvailability.objects.create(
                psychiatrist=doctor, weekday=weekday, start_time=datetime.time(0), end_time=datetime.time(23, 59)
            )
    day = datetime.datetime.now(tz=NY) + datetime.timedelta(days=2)
    for hour in range(8, 14):
        start = day.replace(hour=hour, minute=0, second=0, microsecond=0)
        common = {"appointment_type": follow_up, "start": start, "booked_by": psychiatrist}
        if contested == "psychiatrist":  # two patients want one psychiatrist's slot
            pairs = [(patient, psychiatrist), (patient2, psychiatrist)]
        else:  # one patient booked with two psychiatrists at once
            pairs = [(patient, psychiatrist), (patient, psychiatrist2)]
        outcomes = _race([{"patient": who, "psychiatrist": doctor, **common} for who, doctor in pairs])

        assert sorted(outcomes) == ["booked", "refused"], f"round at {hour}:00"
        assert Appointment.objects.filter(start=start).count() == 1


@pytest.mark.django_db
def test_day_view_costs_the_same_for_one_or_many_psychiatrists(client, clinic_admin, hours, patient, follow_up, clock):
    from django.test.utils import CaptureQueriesContext

    from tests.factories import PsychiatristFactory

    log_in(client, clinic_admin)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("appointments:day"), {"day": "2026-06-03"})
    PsychiatristFactory.create_batch(3)
    with CaptureQueriesContext(connection) as four:
        client.get(reverse("appointments:day"), {"day": "2026-06-03"})

    assert len(four.captured_queries) == len(one.captured_queries)


@pytest.mark.django_db
def test_home_lists_a_completed_visit_until_its_note_is_signed(client, hours, patient, follow_up):
    """Appointment.note_signed (the partial index appt_unnoted) follows the note: a draft keeps the
    visit on the list, signing it through the page takes it off, and the hourly rebuild repairs a
    flag a bulk load left unset."""
    from patients.models import VisitNote

    with time_machine.travel(NOW, tick=False):
        appointment = booking.book(patient=patient, psychiatrist=hours, appointment_type=follow_up, start=at(1, 10),
                                   booked_by=hours)  # fmt: skip
    with time_machine.travel(at(1, 10, 40), tick=False):
        booking.set_status(appointment, Appointment.Status.COMPLETED, by=hours)
        note = factories.visit(patient, hours, appointment=appointment, visit_at=at(1, 10))
        log_in(client, hours)
        draft = client.get(reverse("psychiatrist_home"))
        assert [a.pk for a in draft.context["unnoted"]] == [appointment.pk]
        assert b"Note missing" in draft.content

        client.post(reverse("appointments:visit_sign", args=[patient.pk, note.pk]))

        appointment.refresh_from_db()
        assert VisitNote.objects.get(pk=note.pk).status == VisitNote.Status.SIGNED
        assert appointment.note_signed is True
        signed = client.get(reverse("psychiatrist_home"))
        assert signed.context["unnoted"] == []
        assert b"Note missing" not in signed.content

        # A bulk load that wrote around VisitNote: the page stays right, the 10-minute planner sets the flag.
        Appointment.objects.filter(pk=appointment.pk).update(note_signed=False)
        assert client.get(reverse("psychiatrist_home")).context["unnoted"] == []
        assert plan_reminders()["notes_flagged"] == 1
        appointment.refresh_from_db()
        assert appointment.note_signed is True
