"""clinic.dates prints exactly what the template filter prints."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from clinic import dates

LONG = Template('{{ value|date:"M j, Y" }}')
UTC = datetime.UTC


@pytest.mark.parametrize(
    "value",
    [
        datetime.date(2026, 3, 4),
        datetime.date(2025, 12, 31),
        datetime.datetime(2026, 5, 1, 2, 30, tzinfo=UTC),  # Apr 30 in New York: the zone decides the day
        datetime.datetime(2026, 11, 1, 23, 59, tzinfo=UTC),
        None,
    ],
)
@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_long_day_matches_the_date_filter(value, zone, language):
    with timezone.override(zoneinfo.ZoneInfo(zone)), translation.override(language):
        assert dates.long_day(value) == LONG.render(Context({"value": value}))
