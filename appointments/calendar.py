"""Server-rendered calendar grids and the ICS feed. Times are shown in the viewer's zone."""

from __future__ import annotations

import datetime
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils import timezone
from icalendar import Calendar, Event

from appointments import booking
from appointments.models import Appointment, TimeOff, WeeklyAvailability

ROW = datetime.timedelta(minutes=30)
DAY_START = datetime.time(7, 0)
DAY_END = datetime.time(20, 0)


@dataclass
class Cell:
    start: datetime.datetime
    available: bool = False
    time_off: bool = False
    appointments: list = field(default_factory=list)


def _rows(day: datetime.date) -> list[datetime.datetime]:
    tz = timezone.get_current_timezone()
    moment = datetime.datetime.combine(day, DAY_START, tzinfo=tz)
    end = datetime.datetime.combine(day, DAY_END, tzinfo=tz)
    rows = []
    while moment < end:
        rows.append(moment)
        moment += ROW
    return rows


def _fill(psychiatrists, days: list[datetime.date]) -> dict[int, dict[datetime.date, list[Cell]]]:
    """Cells for each psychiatrist and day: three queries whatever the number of psychiatrists."""
    first = datetime.datetime.combine(days[0], datetime.time.min, tzinfo=timezone.get_current_timezone())
    last = datetime.datetime.combine(days[-1], datetime.time.max, tzinfo=timezone.get_current_timezone())
    ids = [p.pk for p in psychiatrists]
    weekly, offs, appointments = defaultdict(list), defaultdict(list), defaultdict(list)
    for window in WeeklyAvailability.objects.filter(psychiatrist__in=ids):
        weekly[window.psychiatrist_id].append(window)
    for off in TimeOff.objects.filter(psychiatrist__in=ids, start__lt=last, end__gt=first):
        offs[off.psychiatrist_id].append(off)
    booked = (
        Appointment.objects.filter(psychiatrist__in=ids, start__lt=last, end__gt=first)
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("patient", "appointment_type")
    )
    for appointment in booked:
        appointments[appointment.psychiatrist_id].append(appointment)
    grids = {}
    for psychiatrist in psychiatrists:
        windows = booking.availability_windows(
            psychiatrist, days[0] - datetime.timedelta(days=1), days[-1], weekly=weekly[psychiatrist.pk]
        )
        # Sorted once and bisected per cell: scanning every appointment for each of the 182 cells
        # of a week was the calendar's main cost in a busy week (docs/performance.md).
        mine = sorted(appointments[psychiatrist.pk], key=lambda a: a.start)
        instants = [a.start.timestamp() for a in mine]
        columns = {}
        for day in days:
            cells = []
            for start in _rows(day):
                end = start + ROW
                first_in, past_end = bisect_left(instants, start.timestamp()), bisect_left(instants, end.timestamp())
                cells.append(
                    Cell(
                        start=start,
                        available=any(w_start <= start and end <= w_end for w_start, w_end in windows),
                        time_off=any(o.start < end and start < o.end for o in offs[psychiatrist.pk]),
                        appointments=mine[first_in:past_end],
                    )
                )
            columns[day] = cells
        grids[psychiatrist.pk] = columns
    return grids


def week_grid(psychiatrist, monday: datetime.date) -> dict:
    days = [monday + datetime.timedelta(days=i) for i in range(7)]
    columns = _fill([psychiatrist], days)[psychiatrist.pk]
    rows = [[columns[day][index] for day in days] for index in range(len(columns[days[0]]))]
    return {"days": days, "rows": rows}


def day_columns(psychiatrists, day: datetime.date) -> dict:
    grids = _fill(psychiatrists, [day])
    columns = [grids[p.pk][day] for p in psychiatrists]
    rows = [[cells[index] for cells in columns] for index in range(len(_rows(day)))]
    return {"psychiatrists": list(psychiatrists), "rows": rows}


def ics(appointments) -> bytes:
    """Events say where and when, never why: no diagnosis, drug or note leaves in a feed."""
    cal = Calendar()
    cal.add("prodid", "-//Titrate//Appointments//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Titrate appointments")
    for appointment in appointments:
        event = Event()
        event.add("uid", f"appointment-{appointment.pk}@titrate")
        event.add("summary", "Appointment — Titrate clinic")
        event.add("dtstart", appointment.start)
        event.add("dtend", appointment.end)
        event.add("dtstamp", appointment.created_at)
        kind = "Video visit" if appointment.appointment_type.modality == "telehealth" else "In person"
        event.add("description", f"{kind}. Log in to Titrate for details.")
        cal.add_component(event)
    return cal.to_ical()
