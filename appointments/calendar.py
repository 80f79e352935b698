"""Server-rendered calendar grids and the ICS feed. Times are shown in the viewer's zone."""

from __future__ import annotations

import datetime
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_noop
from icalendar import Calendar, Event

from appointments import slots
from appointments.models import Appointment, TimeOff, WeeklyAvailability
from clinic import audit
from clinic.links import href
from clinic.models import AuditEvent, CalendarFeed

ROW = datetime.timedelta(minutes=30)
DAY_START = datetime.time(7, 0)
DAY_END = datetime.time(20, 0)
# What a calendar feed says of a visit besides its time (no PHI): by the type's modality.
FEED_KIND = {"telehealth": gettext_noop("Video visit"), "phone": gettext_noop("Phone visit")}


# One reverse() per page instead of one per appointment (a calendar week shows ~180; reverse and
# date filters in the loop were its cost): clinic.links.href.


@dataclass(frozen=True)
class Shown:
    """One appointment as a calendar cell prints it, formatted once in Python."""

    pk: int
    patient_id: int
    start: datetime.datetime
    href: str
    time: str
    name: str
    kind: str
    status: str


@dataclass
class Cell:
    start: datetime.datetime
    available: bool = False
    time_off: bool = False
    appointments: list[Shown] = field(default_factory=list)
    css: str = "cal-closed"
    time: str = ""  # "HH:MM" in the viewer's zone
    book_query: str = ""  # "psychiatrist=..&start=.." of the "+ book" link, when the cell is open
    book_label: str = ""
    html: SafeString = SafeString("")  # cell_html()


def _booked(ids: list[int], first: datetime.datetime, last: datetime.datetime) -> dict[int, list[Shown]]:
    """The psychiatrists' appointments in the range, by psychiatrist and in start order, read as
    plain values: three model instances per appointment were a third of a busy week's time."""
    detail_url = href("appointments:appointment_detail")
    rows = (
        # By start only: a cell lists the appointments that start in it, and a range on start is
        # what appt_psych_start serves ("end > first" made it read the psychiatrist's whole past).
        Appointment.objects.filter(psychiatrist__in=ids, start__gte=first, start__lt=last)
        .exclude(status=Appointment.Status.CANCELLED)
        .order_by("start", "pk")
        .values_list(
            "pk",
            "psychiatrist_id",
            "patient_id",
            "start",
            "status",
            "patient__preferred_name",
            "patient__legal_first_name",
            "patient__legal_last_name",
            "appointment_type__name",
        )
    )
    booked = defaultdict(list)
    for pk, psychiatrist_id, patient_id, start, status, preferred, first_name, last_name, kind in rows:
        booked[psychiatrist_id].append(
            Shown(
                pk=pk,
                patient_id=patient_id,
                start=start,
                href=detail_url(pk),
                time=timezone.localtime(start).strftime("%H:%M"),
                name=f"{preferred or first_name} {last_name}",  # Patient.display_name
                kind=kind + (" · no-show" if status == Appointment.Status.NO_SHOW else ""),
                status=status,
            )
        )
    return booked


_APPOINTMENT = (
    '<a class="d-block small rounded px-1 mb-1 text-decoration-none appt appt-{}" href="{}">{} {}'
    '<span class="d-block">{}</span></a>'
)
_TIME_OFF = SafeString('<span class="small text-body-secondary">Time off</span>')
_EMPTY = SafeString("")


def cell_html(cell: Cell, book_url: str = "") -> SafeString:
    """A cell's contents, written here rather than in a template: a week has 182 cells and ~180
    appointments, and the template engine's per-variable cost made rendering them most of the
    calendar's time. format_html escapes every value. ``book_url``: the "+ book" link, if any."""
    if cell.appointments:
        return format_html_join(
            "", _APPOINTMENT, ((a.status, a.href, a.time, a.name, a.kind) for a in cell.appointments)
        )
    if cell.time_off:
        return _TIME_OFF
    if book_url and cell.book_query:
        return format_html(
            '<a class="small slot-link" href="{}?{}" aria-label="{}">+ book</a>',
            book_url,
            cell.book_query,
            cell.book_label,
        )
    return _EMPTY


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
    weekly, offs = defaultdict(list), defaultdict(list)
    for window in WeeklyAvailability.objects.filter(psychiatrist__in=ids):
        weekly[window.psychiatrist_id].append(window)
    for off in TimeOff.objects.filter(psychiatrist__in=ids, start__lt=last, end__gt=first):
        offs[off.psychiatrist_id].append(off)
    appointments = _booked(ids, first, last)
    now = timezone.now()
    grids = {}
    for psychiatrist in psychiatrists:
        windows = slots.availability_windows(
            psychiatrist, days[0] - datetime.timedelta(days=1), days[-1], weekly=weekly[psychiatrist.pk]
        )
        # Sorted once and bisected per cell: scanning every appointment for each of the 182 cells
        # of a week was the calendar's main cost in a busy week (docs/performance.md).
        mine = appointments[psychiatrist.pk]  # in start order
        instants = [a.start.timestamp() for a in mine]
        columns = {}
        for day in days:
            cells = []
            for start in _rows(day):
                end = start + ROW
                first_in, past_end = bisect_left(instants, start.timestamp()), bisect_left(instants, end.timestamp())
                cell = Cell(
                    start=start,
                    available=any(w_start <= start and end <= w_end for w_start, w_end in windows),
                    time_off=any(o.start < end and start < o.end for o in offs[psychiatrist.pk]),
                    appointments=mine[first_in:past_end],
                    time=timezone.localtime(start).strftime("%H:%M"),
                )
                cell.css = "cal-off" if cell.time_off else "cal-open" if cell.available else "cal-closed"
                if (
                    cell.available
                    and not cell.time_off
                    and not cell.appointments
                    and not slots.too_late_to_book(start, now)
                ):
                    local = timezone.localtime(start)
                    cell.book_query = f"psychiatrist={psychiatrist.pk}&start={local:%Y-%m-%dT%H:%M}"
                    cell.book_label = f"Book {WEEKDAYS_ABBR[local.weekday()]} {local:%H:%M}"
                cells.append(cell)
            columns[day] = cells
        grids[psychiatrist.pk] = columns
    return grids


def week_grid(psychiatrist, monday: datetime.date) -> dict:
    days = [monday + datetime.timedelta(days=i) for i in range(7)]
    columns = _fill([psychiatrist], days)[psychiatrist.pk]
    rows = [[columns[day][index] for day in days] for index in range(len(columns[days[0]]))]
    book_url = reverse("appointments:book")  # open cells link to booking that time
    for row in rows:
        for cell in row:
            cell.html = cell_html(cell, book_url)
    return {"days": days, "rows": rows}


def day_columns(psychiatrists, day: datetime.date) -> dict:
    grids = _fill(psychiatrists, [day])
    columns = [grids[p.pk][day] for p in psychiatrists]
    rows = [[cells[index] for cells in columns] for index in range(len(_rows(day)))]
    for row in rows:
        for cell in row:
            cell.html = cell_html(cell)
    return {"psychiatrists": list(psychiatrists), "rows": rows}


def ics(appointments) -> bytes:
    """Events say where and when, never why: no diagnosis, drug or note leaves in a feed."""
    cal = Calendar()
    cal.add("prodid", "-//Titrate//Appointments//EN")
    cal.add("version", "2.0")
    # In the active language: the feed's owner's (schedule_views.ics_feed), a patient's Spanish too.
    cal.add("x-wr-calname", gettext("Titrate appointments"))
    for appointment in appointments:
        event = Event()
        event.add("uid", f"appointment-{appointment.pk}@titrate")
        event.add("summary", gettext("Appointment — Titrate clinic"))
        event.add("dtstart", appointment.start)
        event.add("dtend", appointment.end)
        event.add("dtstamp", appointment.created_at)
        kind = FEED_KIND.get(appointment.appointment_type.modality, gettext_noop("In person"))
        event.add("description", gettext("%(kind)s. Log in to Titrate for details.") % {"kind": gettext(kind)})
        cal.add_component(event)
    return cal.to_ical()


def replace_feed(request: HttpRequest, patient=None) -> CalendarFeed:
    """A new secret address for the signed-in user's calendar feed; the old one is refused from
    the moment this commits (the feed view looks the token up on every request). Audited as an
    update of the feed, naming the patient when a patient replaces their own."""
    with transaction.atomic():
        old = CalendarFeed.objects.filter(user=request.user).values_list("id", flat=True).first()
        CalendarFeed.objects.filter(user=request.user).delete()
        feed = CalendarFeed.objects.create(user=request.user)
        audit.record(
            AuditEvent.Action.UPDATE,
            request=request,
            patient=patient,
            obj=feed,
            detail={"event": "calendar_feed_replaced", "previous_feed_id": old},
        )
    return feed
