"""clinic.dates: one format for every date and time a person reads, in the viewer's zone, with the
year only when it is not this year. The templates' filters are the same functions."""

from __future__ import annotations

import datetime
import pathlib
import re
import zoneinfo

import pytest
import time_machine
from django.conf import settings
from django.template import Context, Template
from django.utils import timezone

from clinic import dates

UTC = datetime.UTC
NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "zone", "shown"),
    [
        (datetime.date(2026, 3, 4), "America/New_York", "Mar 4"),
        (datetime.date(2025, 12, 31), "America/New_York", "Dec 31, 2025"),
        (datetime.date(2027, 1, 5), "America/New_York", "Jan 5, 2027"),
        # Apr 30 in New York, May 1 in Tokyo: the viewer's zone decides the day.
        (datetime.datetime(2026, 5, 1, 2, 30, tzinfo=UTC), "America/New_York", "Apr 30"),
        (datetime.datetime(2026, 5, 1, 2, 30, tzinfo=UTC), "Asia/Tokyo", "May 1"),
        # New Year's Eve in New York is already next year in UTC.
        (datetime.datetime(2027, 1, 1, 3, 0, tzinfo=UTC), "America/New_York", "Dec 31"),
        (None, "America/New_York", ""),
    ],
)
def test_day_is_the_viewers_day_with_the_year_when_not_this_one(value, zone, shown):
    with time_machine.travel(NOW, tick=False), timezone.override(zoneinfo.ZoneInfo(zone)):
        assert dates.day(value) == shown
        assert Template("{{ value|day }}").render(Context({"value": value})) == shown


def test_the_formats_of_a_moment():
    evening = datetime.datetime(2026, 12, 6, 4, 24, 7, 123456, tzinfo=UTC)  # Dec 5, 23:24 in New York
    with time_machine.travel(NOW, tick=False), timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        assert dates.moment(evening) == "Dec 5, 23:24"
        assert dates.moment(evening, seconds=True) == "Dec 5, 23:24:07"
        assert dates.moment(evening.replace(year=2027)) == "Dec 5, 2027, 23:24"
        assert dates.weekday(evening) == "Saturday, December 5"
        assert dates.weekday(evening, short=True) == "Sat, Dec 5"
        assert dates.clock(evening) == "23:24"
        assert dates.clock(datetime.time(9, 5)) == "09:05"
        assert dates.day(datetime.date(2026, 3, 4), year=True) == "Mar 4, 2026"
        assert dates.readable(evening) == "Dec 5, 23:24"
        assert dates.readable(datetime.date(2025, 3, 4)) == "Mar 4, 2025"


# Machine-readable formats stay ISO: a datetime="" attribute, an <input> value, a query string.
MACHINE_FORMATS = {"'c'", "'Y-m-d'", '"Y"', '"M Y"'}
DATE_FILTER = re.compile(r"\|(?:date|time)(?::(\"[^\"]*\"|'[^']*'))?")


def test_templates_print_dates_only_through_the_shared_filters():
    """The ``date`` and ``time`` filters are left only for machine-readable values; people read
    dates through ``|day``, ``|weekday``, ``|moment`` and ``|clock``."""
    templates = pathlib.Path(settings.BASE_DIR, "templates")
    found = [
        f"{path.relative_to(templates)}: {match.group(0)}"
        for path in sorted(templates.rglob("*.html")) + sorted(templates.rglob("*.txt"))
        for match in DATE_FILTER.finditer(path.read_text())
        if match.group(1) not in MACHINE_FORMATS
    ]
    assert found == []
