"""Who gets a message, on which channels, and when: a user's channel consent, time zone and quiet
hours. The outbox (notifications.outbox) and every domain's planner read these."""

from __future__ import annotations

import datetime
import zoneinfo

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.translation import gettext

from clinic import dates
from clinic.models import Notification, NotificationPreference, User

UTC = datetime.UTC
Channel = Notification.Channel

# Quiet hours hold back messages that buzz a phone or an inbox; the portal is silent.
QUIET_CHANNELS = (Channel.EMAIL, Channel.SMS)
# A moved-earlier message goes this long before quiet hours start: the dispatcher runs once a
# minute and providers take a moment, so "just before" must leave some room.
QUIET_MARGIN = datetime.timedelta(minutes=10)
# What planning reads of a NotificationPreference (enabled_channels, quiet hours).
PREFERENCE_FIELDS = ("email_enabled", "sms_enabled", "sms_phone", "quiet_hours_start", "quiet_hours_end")


def preferences(user: User) -> NotificationPreference:
    """The user's preferences, or the defaults (email on, SMS off) if they never saved any."""
    try:
        return user.notification_preference
    except ObjectDoesNotExist:
        return NotificationPreference(user=user)


def enabled_channels(user: User, prefs: NotificationPreference | None = None, *, sms: bool = True) -> list[str]:
    if user is None or not user.is_active:
        return []
    prefs = prefs or preferences(user)
    channels = [Channel.IN_APP]
    if prefs.email_enabled and user.email:
        channels.append(Channel.EMAIL)
    if sms and prefs.sms_enabled and prefs.sms_phone:
        channels.append(Channel.SMS)
    return channels


def format_when(moment: datetime.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """A message's time, as the pages print it (clinic.dates), in the recipient's zone."""
    with timezone.override(tz):
        # The active language's wording: a message renders under its row's language.
        return gettext("%(day)s at %(time)s") % {"day": dates.weekday(moment, short=True), "time": dates.clock(moment)}


def utc_stamp(moment: datetime.datetime) -> str:
    """A moment as text for idempotency keys: the same instant gives the same key in any zone."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def reminder_time(start: datetime.datetime, offset_hours: float, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    """When a reminder ``offset_hours`` before ``start`` fires, in UTC.

    Whole days are counted on the recipient's wall clock ("48 h before a 10:00 visit" is
    10:00 two days before, even across a DST change); other offsets are exact hours.
    Same-zone aware arithmetic in Python is wall-clock arithmetic; astimezone() then
    resolves the offset for that local date (fold=0 for a time skipped or repeated by DST).
    """
    if offset_hours % 24 == 0:
        local = start.astimezone(tz) - datetime.timedelta(days=offset_hours // 24)
        return local.astimezone(UTC)
    return start - datetime.timedelta(hours=offset_hours)


def _quiet_period(moment: datetime.datetime, prefs: NotificationPreference, tz) -> tuple | None:
    """(start, end) in UTC of the quiet period ``moment`` falls in, or None."""
    begin, end = prefs.quiet_hours_start, prefs.quiet_hours_end
    if begin is None or end is None or begin == end:
        return None
    local = moment.astimezone(tz)
    now = local.time()
    wraps = begin > end  # e.g. 21:00–08:00
    if not (begin <= now < end if not wraps else now >= begin or now < end):
        return None
    first_day = local.date() - datetime.timedelta(days=1) if wraps and now < end else local.date()
    last_day = first_day + datetime.timedelta(days=1) if wraps else first_day
    return (
        datetime.datetime.combine(first_day, begin, tzinfo=tz).astimezone(UTC),
        datetime.datetime.combine(last_day, end, tzinfo=tz).astimezone(UTC),
    )


def before_quiet(moment: datetime.datetime, prefs, tz) -> datetime.datetime:
    """A reminder inside quiet hours moves earlier, so it still arrives before the visit."""
    period = _quiet_period(moment, prefs, tz)
    return period[0] - QUIET_MARGIN if period else moment


def after_quiet(moment: datetime.datetime, prefs, tz) -> datetime.datetime:
    """A send-now message cannot move into the past: it waits for the quiet period to end."""
    period = _quiet_period(moment, prefs, tz)
    return period[1] if period else moment
