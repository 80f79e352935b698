"""Every date and time a person reads, in one format: the viewer's zone (the zone the request
activated, clinic.middleware), the year only when it is not this year, 24-hour clock.

    day        "Mar 4"                 "Mar 4, 2027"
    weekday    "Monday, March 4"       "Monday, March 4, 2027"    (short: "Mon, Mar 4")
    moment     "Mar 4, 14:30"          "Mar 4, 2027, 14:30"       (seconds: "Mar 4, 14:30:05")
    clock      "14:30"

Spanish (the active language is "es": a patient's page or message): "4 mar", "lunes, 4 de
marzo", "4 mar, 14:30"; the clock is the same 24-hour "14:30".

Templates use the filters of the same names (clinic/templatetags/titrate.py, built in); Python
code that formats a row uses these functions. They are plain string building: the ``date`` filter
costs ~30 µs a call (a DateFormat object and a parse of the format each time), and a chart prints
~90 of them. Machine-readable values (``datetime="…"`` attributes, ``<input type="date">``,
exports) keep ISO formats and do not come here.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dates import MONTHS, MONTHS_3, WEEKDAYS, WEEKDAYS_ABBR
from django.utils.translation import get_language


def local(value: datetime.date) -> datetime.date:
    """An aware datetime in the current (viewer's) zone; a date, or a naive value, as it is."""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def _year(value: datetime.date, today: datetime.date | None) -> str:
    this_year = (today or timezone.localdate()).year
    return "" if value.year == this_year else f", {value.year}"


def _spanish() -> bool:
    """Whether the active language is Spanish (a patient's page or message, clinic.languages):
    day before month, lower-case names ("lunes, 4 de marzo de 2027")."""
    return (get_language() or "").startswith("es")


def day(value: datetime.date | None, *, year: bool = False, today: datetime.date | None = None) -> str:
    """ "Mar 4" this year, "Mar 4, 2027" in any other ("" for None). ``year=True`` always prints
    it: for text that is stored and read in later years (a reason, an alert's detail).
    Spanish: "4 mar", "4 mar 2027"."""
    if value is None:
        return ""
    value = local(value)
    shown_year = f", {value.year}" if year else _year(value, today)
    if _spanish():
        return f"{value.day} {MONTHS_3[value.month]}{shown_year.replace(',', '')}"
    return f"{MONTHS_3[value.month].title()} {value.day}{shown_year}"


def weekday(value: datetime.date | None, *, short: bool = False, today: datetime.date | None = None) -> str:
    """ "Monday, March 4" ("Mon, Mar 4" short), with ", 2027" when not this year.
    Spanish: "lunes, 4 de marzo" ("lun, 4 mar"), "… de 2027"."""
    if value is None:
        return ""
    value = local(value)
    if _spanish():
        shown_year = _year(value, today).replace(",", " de" if not short else "")
        if short:
            return f"{WEEKDAYS_ABBR[value.weekday()]}, {value.day} {MONTHS_3[value.month]}{shown_year}"
        return f"{WEEKDAYS[value.weekday()]}, {value.day} de {MONTHS[value.month].lower()}{shown_year}"
    if short:
        return f"{WEEKDAYS_ABBR[value.weekday()]}, {MONTHS_3[value.month].title()} {value.day}{_year(value, today)}"
    return f"{WEEKDAYS[value.weekday()]}, {MONTHS[value.month]} {value.day}{_year(value, today)}"


def clock(value: datetime.datetime | datetime.time | None, *, seconds: bool = False) -> str:
    """ "14:30" in the viewer's zone ("14:30:05" with seconds)."""
    if value is None:
        return ""
    value = local(value)
    return f"{value:%H:%M:%S}" if seconds else f"{value:%H:%M}"


def moment(value: datetime.datetime | None, *, seconds: bool = False, today: datetime.date | None = None) -> str:
    """ "Mar 4, 14:30", "Mar 4, 2027, 14:30": a day and a time, in the viewer's zone."""
    if value is None:
        return ""
    value = local(value)
    if not isinstance(value, datetime.datetime):
        return day(value, today=today)
    return f"{day(value, today=today)}, {clock(value, seconds=seconds)}"


def readable(value: object) -> str:
    """Any value as a person reads it: dates and times through the functions above, the rest as
    ``str`` (what a note's fields hold)."""
    if isinstance(value, datetime.datetime):
        return moment(value)
    if isinstance(value, datetime.date):
        return day(value)
    if isinstance(value, datetime.time):
        return clock(value)
    return "" if value is None else str(value)


# --- The clinical date policy: one rule for every form that takes a clinical date
# (clinic/date_forms.py gives the fields; each form names its dates events or plans).
#
# An event (a visit, an evaluation, an onset, a lab sample) has happened: not after today in the
# viewer's zone. A plan (a booking, a prescription's start or end, a dose change, a due date) may
# be ahead, up to PLAN_YEARS. Neither is before the patient's birth, nor before EARLIEST when the
# patient is not known yet: such a year is a typo, and signed notes are legal records.
EARLIEST = datetime.date(1900, 1, 1)
PLAN_YEARS = 2


def plan_horizon(today: datetime.date) -> datetime.date:
    """The last day a plan may fall on: the same day PLAN_YEARS on (Feb 28 for Feb 29)."""
    year = today.year + PLAN_YEARS
    return today.replace(year=year, day=28) if (today.month, today.day) == (2, 29) else today.replace(year=year)


def check_clinical_day(
    value: datetime.date,
    *,
    plan: bool = False,
    born: datetime.date | None = None,
    today: datetime.date | None = None,
) -> None:
    """Raise a ValidationError, worded for the person typing, if ``value`` breaks the policy."""
    value = local(value)
    if isinstance(value, datetime.datetime):
        value = value.date()
    today = today or timezone.localdate()
    if born is not None and value < born:
        raise ValidationError(
            f"Check the date: it is before the patient's date of birth ({day(born, year=True)}).", code="before_birth"
        )
    if value < EARLIEST:
        raise ValidationError(f"Check the year: use a date after {EARLIEST.year}.", code="too_early")
    if plan:
        latest = plan_horizon(today)
        if value > latest:
            raise ValidationError(
                f"Check the date: plans reach at most two years ahead (until {day(latest, year=True)}).",
                code="too_far_ahead",
            )
    elif value > today:
        raise ValidationError(
            f"Check the date: this has already happened, so it cannot be after today ({day(today, year=True)}).",
            code="in_the_future",
        )
