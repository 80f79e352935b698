"""The scheduling pages offer an action only when it can succeed (issue 16, item 15): "+ book" only
on calendar cells that can still be booked, and status buttons only when the status change is
allowed now, labelled in words. The pages read the same rule the booking functions enforce."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from appointments import booking
from appointments.models import Appointment, AppointmentType, WeeklyAvailability
from tests.helpers import log_in

pytestmark = pytest.mark.django_db
NY = zoneinfo.ZoneInfo("America/New_York")
WEDNESDAY_NOON = datetime.datetime(2026, 6, 3, 12, 0, tzinfo=NY)


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 6, day, hour, minute, tzinfo=NY)


@pytest.fixture
def hours(psychiatrist, clinic_admin):
    for user in (psychiatrist, clinic_admin):
        user.time_zone = "America/New_York"
        user.save(update_fields=["time_zone"])
    for weekday in range(5):
        WeeklyAvailability.objects.create(
            psychiatrist=psychiatrist, weekday=weekday, start_time=datetime.time(9), end_time=datetime.time(17)
        )
    return psychiatrist


@pytest.fixture
def follow_up(db):
    return AppointmentType.objects.create(name="Test follow-up", duration_minutes=30)


def book_links(page: str) -> list[str]:
    return re.findall(r'aria-label="(Book [^"]+)">\+ book</a>', page)


def test_week_calendar_offers_book_only_where_booking_can_succeed(client, clinic_admin, hours):
    log_in(client, clinic_admin)
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        this_week = client.get(reverse("appointments:week"), {"psychiatrist": hours.pk, "week": "2026-06-01"})
        last_week = client.get(reverse("appointments:week"), {"psychiatrist": hours.pk, "week": "2026-05-25"})

    assert (this_week.status_code, last_week.status_code) == (200, 200)
    assert book_links(last_week.content.decode()) == []
    offered = book_links(this_week.content.decode())
    # Wednesday from 12:30 (noon itself is "now", refused as past): 9 half-hours; Thursday, Friday 16 each.
    assert len(offered) == 9 + 16 + 16
    assert {"Book Wed 12:00", "Book Wed 11:30", "Book Tue 10:00"}.isdisjoint(offered)
    assert "Book Wed 12:30" in offered


def test_the_offered_slot_books(client, clinic_admin, hours, patient, follow_up):
    log_in(client, clinic_admin)
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        week = client.get(reverse("appointments:week"), {"psychiatrist": hours.pk, "week": "2026-06-01"})
        query = re.search(r'href="/appointments/new/\?([^"]+)" aria-label="Book Wed 12:30"', week.content.decode())
        response = client.post(
            reverse("appointments:book"),
            {"patient": patient.pk, "psychiatrist": hours.pk, "appointment_type": follow_up.pk,
             "start": query.group(1).split("start=")[1]},
        )  # fmt: skip
    assert response.status_code == 302
    assert Appointment.objects.get(patient=patient).start == at(3, 12, 30)


def status_buttons(page: str) -> list[str]:
    return re.findall(r'name="status" value="[a-z_]+" type="submit">([^<]+)</button>', page)


def test_status_buttons_are_those_that_work_now_in_words(client, clinic_admin, hours, patient, follow_up):
    with time_machine.travel(at(1, 8), tick=False):
        today = booking.book(patient=patient, psychiatrist=hours, appointment_type=follow_up, start=at(3, 10),
                             booked_by=clinic_admin)  # fmt: skip
        later = booking.book(patient=patient, psychiatrist=hours, appointment_type=follow_up, start=at(5, 10),
                             booked_by=clinic_admin)  # fmt: skip
    log_in(client, clinic_admin)
    with time_machine.travel(at(3, 10, 5), tick=False):
        started = client.get(reverse("appointments:appointment_detail", args=[today.pk])).content.decode()
        future = client.get(reverse("appointments:appointment_detail", args=[later.pk])).content.decode()
        # What the page no longer offers is still refused by the rule behind it, and said.
        refused = client.post(reverse("appointments:appointment_detail", args=[later.pk]), {"status": "completed"})

    assert status_buttons(started) == ["Mark checked in", "Mark completed", "Mark no-show"]
    assert status_buttons(future) == ["Mark confirmed"]
    assert refused.status_code == 200
    assert "That appointment has not started yet." in refused.content.decode()
    later.refresh_from_db()
    assert later.status == Appointment.Status.SCHEDULED


def test_every_offered_status_succeeds(client, clinic_admin, hours, patient, follow_up):
    with time_machine.travel(at(1, 8), tick=False):
        visit = booking.book(patient=patient, psychiatrist=hours, appointment_type=follow_up, start=at(3, 10),
                             booked_by=clinic_admin)  # fmt: skip
    log_in(client, clinic_admin)
    url = reverse("appointments:appointment_detail", args=[visit.pk])
    with time_machine.travel(at(3, 9, 30), tick=False):
        for label, status in (("Mark checked in", "checked_in"), ("Mark completed", "completed")):
            assert label in status_buttons(client.get(url).content.decode())
            assert client.post(url, {"status": status}).status_code == 302
            visit.refresh_from_db()
            assert visit.status == status
        assert status_buttons(client.get(url).content.decode()) == []


# -- Weekly hours (issue 16, item 14) ----------------------------------------------------------


def test_overlapping_weekly_hours_are_refused_with_the_clash_named(client, clinic_admin, hours):
    log_in(client, clinic_admin)
    url = reverse("appointments:availability", args=[hours.pk])
    monday = {"window-weekday": "0", "add_window": ""}

    overlapping = client.post(url, {**monday, "window-start_time": "16:00", "window-end_time": "18:00"})
    inside = client.post(url, {**monday, "window-start_time": "10:00", "window-end_time": "11:00"})
    adjoining = client.post(url, {**monday, "window-start_time": "17:00", "window-end_time": "19:00"})
    saturday = client.post(
        url, {**monday, "window-weekday": "5", "window-start_time": "09:00", "window-end_time": "12:00"}
    )

    for refused in (overlapping, inside):
        assert refused.status_code == 200
        page = refused.content.decode()
        assert "These hours overlap Monday 09:00–17:00, already in the week." in page
    assert 'value="16:00"' in overlapping.content.decode()  # what was typed is kept
    assert (adjoining.status_code, saturday.status_code) == (302, 302)
    assert sorted(
        WeeklyAvailability.objects.filter(psychiatrist=hours, weekday__in=[0, 5]).values_list(
            "weekday", "start_time", "end_time"
        )
    ) == [
        (0, datetime.time(9), datetime.time(17)),
        (0, datetime.time(17), datetime.time(19)),
        (5, datetime.time(9), datetime.time(12)),
    ]
