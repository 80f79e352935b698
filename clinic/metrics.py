"""Clinic metrics (issue 24): how the clinic, or one psychiatrist, did over a range of days.

Every figure is defined in docs/metrics.md; the names here follow it. ``compute`` runs a fixed
number of queries whatever the size of the clinic (six; tests/clinic/test_metrics.py pins it).
On PostgreSQL the database computes every figure, medians and 90th percentiles included
(percentile_cont), and each query returns a handful of rows; on SQLite, which has no
percentile_cont, the response and acknowledgement times come back as rows and are computed here
(``in_database``; a test checks both paths agree).

Scope: ``psychiatrist=None`` is the whole clinic; a psychiatrist's figures are their own visits
(Appointment.psychiatrist), reminders of those visits, and what concerns their own patients
(Patient.primary_psychiatrist): reports, messages, alerts, coverage, overdue items.

This module reads every domain and writes nothing; it sits above them all in .importlinter.
"""

from __future__ import annotations

import datetime
import functools
import math
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import (
    Aggregate,
    BooleanField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.utils import timezone

from appointments.models import Appointment, WaitlistEntry
from clinic import contact
from clinic.models import Alert, MetricsDay, Notification, PsychiatristMetricsDay, User
from medications.models import MessageThread, SideEffectReport
from patients import questionnaires
from patients.models import Patient, QuestionnaireResponse

# A range longer than a year is refused by the form (metrics_views.RangeForm): the figures are
# meant for a month or a quarter, and the page's cost grows with the range.
MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
# Measurement-based care: an active patient is covered by a PHQ-9 or GAD-7 within this many days.
MBC_WINDOW_DAYS = 90
MBC_INSTRUMENTS = questionnaires.MEASUREMENT_INSTRUMENTS
REMINDER_CHANNELS = tuple(Notification.Channel)
STAFF_ROLES = tuple(role for role in User.Role if role != User.Role.PATIENT)
# Reminders whose outcome is known: delivered, or given up on (the denominator of delivery).
SETTLED = (Notification.Status.SENT, Notification.Status.FAILED, Notification.Status.UNKNOWN)


def late_cancel_hours() -> int:
    """A cancellation less than this many hours before the start is late (TITRATE_LATE_CANCEL_HOURS)."""
    return settings.TITRATE_LATE_CANCEL_HOURS


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` as a percentage with one decimal; None when there is nothing to divide."""
    return round(100 * part / whole, 1) if whole else None


def percentile(values: list[float], q: float, unit: float = 1) -> float | None:
    """The q-th percentile (0-100) of ``value / unit`` by linear interpolation between the closest
    ranks, the same as PostgreSQL's percentile_cont and Python's statistics.quantiles(method=
    "inclusive"). Dividing by a positive unit keeps the order, so only the two ranks used are
    divided: the same floats as dividing every value first (seconds to hours: 40,000 of them a page)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    below, above = ordered[low] / unit, ordered[high] / unit
    return below + (above - below) * (position - low)


def in_database() -> bool:
    """Percentiles and the business-day rule are computed by the database on PostgreSQL (only
    counts and percentiles come back); SQLite, the zero-setup path, has no percentile_cont, so
    there the rows come back and ``percentile``/``promise_deadline`` compute the same figures."""
    return connection.vendor == "postgresql"


class Percentile(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``: linear
    interpolation between the closest ranks, the same as ``percentile``; NULLs are left out."""

    function = "PERCENTILE_CONT"
    name = "Percentile"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        # A float from the code, never user input: written into the SQL as a literal.
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def _elapsed(since: str, until: str, unit_seconds: int) -> Func:
    """``until - since`` in hours or minutes as a float (NULL when ``until`` is NULL)."""
    gap = ExpressionWrapper(F(until) - F(since), output_field=DurationField())
    return Func(gap, template=f"EXTRACT(EPOCH FROM %(expressions)s) / {unit_seconds}", output_field=FloatField())


# Pure, and asked once per request of the range: the range has few distinct days.
@functools.lru_cache(maxsize=1024)
def promise_deadline(day: datetime.date, business_days: int) -> datetime.date:
    """The last day an answer keeps the promise "within N business days" for a request made on
    ``day`` (clinic-local): N weekdays after it, a weekend request counted from the Monday (as if
    sent on the Friday after closing). Public holidays are not known to the portal."""
    if day.weekday() >= 5:
        day -= datetime.timedelta(days=day.weekday() - 4)
    left = business_days
    while left > 0:
        day += datetime.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


@dataclass(frozen=True)
class Scope:
    """A range of clinic-local days (both ends included), for the clinic or one psychiatrist."""

    first_day: datetime.date
    last_day: datetime.date
    psychiatrist: User | None = None
    now: datetime.datetime = field(default_factory=timezone.now)
    # The clinic's set-up (time zone, promise), read once: each read is a round trip to the cache.
    clinic: contact.Clinic = field(default_factory=contact.clinic, compare=False, repr=False)

    @functools.cached_property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.clinic.time_zone or settings.TITRATE_DEFAULT_TIME_ZONE)

    @property
    def promise_days(self) -> int:
        return self.clinic.response_business_days

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.combine(self.first_day, datetime.time.min, tzinfo=self.zone)

    @property
    def end(self) -> datetime.datetime:
        """The end of the range, or now if that is earlier: a visit still ahead has no outcome."""
        after = self.last_day + datetime.timedelta(days=1)
        last = datetime.datetime.combine(after, datetime.time.min, tzinfo=self.zone)
        return min(last, self.now)

    def local_day(self, moment: datetime.datetime) -> datetime.date:
        return moment.astimezone(self.zone).date()

    def patients(self, prefix: str = "patient__") -> Q:
        """The patients whose figures count: all, or the psychiatrist's own."""
        if self.psychiatrist is None:
            return Q()
        return Q(**{f"{prefix}primary_psychiatrist": self.psychiatrist})


# -- Visits -----------------------------------------------------------------------------------


class VisitRates:
    """The two rates of a group of booked visits (Outcomes, ChannelOutcomes)."""

    booked: int
    no_show: int
    late_cancel: int

    @property
    def no_show_rate(self) -> float | None:
        return rate(self.no_show, self.booked)

    @property
    def late_cancel_rate(self) -> float | None:
        return rate(self.late_cancel, self.booked)


@dataclass
class Outcomes(VisitRates):
    """Visits that started in the range, by what became of them. ``booked`` leaves out visits
    cancelled in time (the slot could be given to someone else): it is the denominator of the
    no-show and late-cancel rates."""

    label: str
    booked: int = 0
    completed: int = 0
    checked_in: int = 0
    no_show: int = 0
    late_cancel: int = 0
    unmarked: int = 0  # still "scheduled" or "confirmed" after the start: nobody recorded the outcome
    early_cancel: int = 0


@dataclass
class ChannelOutcomes(VisitRates):
    """Booked visits (as in Outcomes) that had at least one reminder delivered by this channel
    ("none": no reminder delivered by any channel). A visit reminded by email and by text message
    counts under both, so the rows do not add up to the total."""

    channel: str
    label: str
    booked: int = 0
    no_show: int = 0
    late_cancel: int = 0
    confirmed: int = 0

    @property
    def confirmation_rate(self) -> float | None:
        return rate(self.confirmed, self.booked)


def _visits(scope: Scope):
    rows = Appointment.objects.filter(start__gte=scope.start, start__lt=scope.end)
    if scope.psychiatrist is not None:
        rows = rows.filter(psychiatrist=scope.psychiatrist)
    return rows


def _late_cancel() -> Q:
    # A cancellation with no time recorded is counted early: nothing says the slot was lost.
    window = datetime.timedelta(hours=late_cancel_hours())
    return Q(status=Appointment.Status.CANCELLED, cancelled_at__gt=F("start") - window)


OUTCOME_COUNTS = ("booked", "completed", "checked_in", "no_show", "late_cancel", "unmarked", "early_cancel")


def _reminder_rows():
    """Reminders of visits (the generic subject is the appointment)."""
    return Notification.objects.filter(
        kind=Notification.Kind.APPOINTMENT_REMINDER,
        subject_type=ContentType.objects.get_for_model(Appointment),
    )


def _visit_rows(scope: Scope, by_psychiatrist: bool = False) -> list[list]:
    """One query for the range's visits, counted by what decides every one of their figures: rows
    of ``[type, status, late, confirmed, [channels that delivered a reminder], n]`` (the
    psychiatrist's id appended when ``by_psychiatrist``, for the nightly count), which
    ``_tally_visits`` adds up by type and by reminder channel.

    Each channel's EXISTS runs once per visit, as a grouping key (counting each channel in its own
    FILTER made the database run 36 subplans). The grouping replaces two queries whose seven and
    four FILTERed counts cost 16 ms each at 20,000 patients (19,200 visits in 30 days); grouped by
    the columns themselves the visits cost ~8 ms (docs/performance.md)."""
    delivered = _reminder_rows().filter(status=Notification.Status.SENT, subject_id=OuterRef("pk"))
    flags = {f"by_{channel}": Exists(delivered.filter(channel=channel)) for channel in REMINDER_CHANNELS}
    keys = ["type_name", "status", "late", "confirmed", *flags, *(["psychiatrist_id"] if by_psychiatrist else [])]
    rows = (
        _visits(scope)
        .annotate(
            type_name=F("appointment_type__name"),
            late=ExpressionWrapper(_late_cancel(), output_field=BooleanField()),
            confirmed=ExpressionWrapper(Q(confirmed_at__isnull=False), output_field=BooleanField()),
            **flags,
        )
        .values(*keys)
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [
        [
            row["type_name"],
            row["status"],
            bool(row["late"]),  # NULL: cancelled with no time recorded, counted in time
            bool(row["confirmed"]),
            [channel for channel in REMINDER_CHANNELS if row[f"by_{channel}"]],
            row["n"],
            *([row["psychiatrist_id"]] if by_psychiatrist else []),
        ]
        for row in rows
    ]


def _tally_visits(rows: Iterable[list]) -> tuple[list[Outcomes], Outcomes, list[ChannelOutcomes]]:
    """The visits by type (and their sum) and by reminder channel, from ``_visit_rows``' rows."""
    by_type: dict[str, Outcomes] = {}
    labels = {**dict(Notification.Channel.choices), "any": "Any channel", "none": "No reminder delivered"}
    channels = {key: ChannelOutcomes(channel=key, label=str(label)) for key, label in labels.items()}
    status = Appointment.Status
    for type_name, state, late, confirmed, reached, n, *_ in rows:
        early = state == status.CANCELLED and not late
        no_show = state == status.NO_SHOW
        outcome = by_type.setdefault(type_name, Outcomes(label=type_name))
        outcome.booked += 0 if early else n
        outcome.completed += n if state == status.COMPLETED else 0
        outcome.checked_in += n if state == status.CHECKED_IN else 0
        outcome.no_show += n if no_show else 0
        outcome.late_cancel += n if late else 0
        outcome.unmarked += n if state in (status.SCHEDULED, status.CONFIRMED) else 0
        outcome.early_cancel += n if early else 0
        if early:  # not booked: the slot was free again
            continue
        for key in [*reached, "any"] if reached else ["none"]:
            group = channels[key]
            group.booked += n
            group.no_show += n if no_show else 0
            group.late_cancel += n if late else 0
            group.confirmed += n if confirmed else 0
    total = Outcomes(label="All types")
    for outcome in by_type.values():
        for name in OUTCOME_COUNTS:
            setattr(total, name, getattr(total, name) + getattr(outcome, name))
    return sorted(by_type.values(), key=lambda row: row.label), total, list(channels.values())


def visit_outcomes(scope: Scope) -> tuple[list[Outcomes], Outcomes, list[ChannelOutcomes]]:
    """One query for the visits by type (and their sum) and by reminder channel."""
    return _tally_visits(_visit_rows(scope))


@dataclass
class Delivery:
    """Reminders of the visits that started in the range (any outcome), by channel and status."""

    channel: str
    label: str
    planned: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0  # opted out, quiet hours past the visit, or expired
    cancelled: int = 0  # the visit was cancelled or moved first
    open: int = 0  # still pending or being sent

    @property
    def delivery_rate(self) -> float | None:
        return rate(self.sent, self.sent + self.failed + self.unknown)


def _delivery_rows(scope: Scope, by_psychiatrist: bool = False) -> list[list]:
    """One query: reminder rows of the range's visits, counted as ``[channel, status, n]`` (the
    visit's psychiatrist appended when ``by_psychiatrist``)."""
    rows = _reminder_rows().filter(subject_id__in=_visits(scope).values("pk"))
    keys = ["channel", "status"]
    if by_psychiatrist:
        visit = Appointment.objects.filter(pk=OuterRef("subject_id")).values("psychiatrist_id")[:1]
        rows = rows.annotate(who=Subquery(visit))
        keys.append("who")
    rows = rows.values(*keys).annotate(n=Count("pk")).order_by()
    return [[row["channel"], row["status"], row["n"], *([row["who"]] if by_psychiatrist else [])] for row in rows]


def _tally_delivery(rows: Iterable[list]) -> list[Delivery]:
    by_channel = {
        channel: Delivery(channel=channel, label=str(label)) for channel, label in Notification.Channel.choices
    }
    status_field = {
        Notification.Status.SENT: "sent",
        Notification.Status.FAILED: "failed",
        Notification.Status.UNKNOWN: "unknown",
        Notification.Status.SKIPPED: "skipped",
        Notification.Status.CANCELLED: "cancelled",
    }
    for channel, state, n, *_ in rows:
        delivery = by_channel[channel]
        delivery.planned += n
        name = status_field.get(state, "open")
        setattr(delivery, name, getattr(delivery, name) + n)
    return list(by_channel.values())


def reminder_delivery(scope: Scope) -> list[Delivery]:
    """One query: reminder rows of the range's visits, counted by channel and status."""
    return _tally_delivery(_delivery_rows(scope))


# -- Response times ---------------------------------------------------------------------------


@dataclass
class ResponseTimes:
    """Requests made in the range and the care team's first response to each. Times are wall-clock
    hours; "within promise" compares clinic-local days against the clinic's business days."""

    label: str
    promise_days: int
    received: int = 0
    answered: int = 0
    waiting: int = 0  # no response yet
    within_promise: int = 0
    promise_due: int = 0  # answered, or unanswered with the promised day already past
    median_hours: float | None = None
    p90_hours: float | None = None

    @property
    def within_promise_rate(self) -> float | None:
        return rate(self.within_promise, self.promise_due)


def _new_requests() -> dict:
    return {"received": 0, "answered": 0, "within": 0, "waiting": 0, "seconds": []}


def _compact(seconds: float) -> float | int:
    """A time as stored by the nightly count: whole seconds as an int (shorter JSON, read faster);
    divided later exactly as the live figures divide ``total_seconds()``."""
    return int(seconds) if seconds.is_integer() else seconds


def _seconds(gap: datetime.timedelta) -> float | int:
    return _compact(gap.total_seconds())


def _request_day_rows(scope: Scope, by_psychiatrist: bool = False) -> list[list]:
    """One query: the range's requests counted per kind and per clinic-local day of the request,
    as ``[what, day, received, answered, within, waiting, [seconds to each answer]]`` rows (the
    patient's psychiatrist appended when ``by_psychiatrist``). "Within promise" and an answer's
    time are fixed once a request is answered; whether a waiting request's promise is past depends
    on today, so ``_response_times`` decides it from the day when it adds the days up.

    On PostgreSQL the database counts and returns each answer's seconds in an array: reading
    20,000 requests' two timestamps as rows took 190 ms (Django's time-zone-aware loader parses
    each in Python), their counts and seconds 17 ms."""
    reports, messages = _request_rows(scope, by_psychiatrist)
    if in_database():
        return _request_day_rows_in_database(scope, reports.union(messages, all=True), by_psychiatrist)
    promise = scope.promise_days
    counts: dict[tuple, list] = {}
    for what, asked, answered, *who in reports.union(messages, all=True):
        day = scope.local_day(asked)
        row = counts.setdefault((what, day.isoformat(), *who), [0, 0, 0, 0, []])
        row[0] += 1
        if answered is None:
            row[3] += 1
            continue
        row[1] += 1
        row[4].append(_seconds(answered - asked))
        if scope.local_day(answered) <= promise_deadline(day, promise):
            row[2] += 1
    return [[what, day, *row, *who] for (what, day, *who), row in counts.items()]


# ``_request_day_rows`` in SQL: each request's day found by binary search among the range's local
# midnights (width_bucket over ``bounds``), "within" compared with the end of that day's promised
# day (``ends``, from ``promise_deadline``), as in ``_TIMES_SQL`` below.
_DAYS_SQL = """
SELECT what, day_index, COUNT(*), COUNT(answered),
       COUNT(*) FILTER (WHERE answered < (%s::timestamptz[])[day_index]),
       COALESCE(ARRAY_AGG(date_part('epoch', answered - asked)) FILTER (WHERE answered IS NOT NULL), '{{}}'){who}
FROM (
    SELECT *, width_bucket(asked, %s::timestamptz[]) AS day_index
    FROM ({requests}) AS requests (what, asked, answered{who})
) AS counted
GROUP BY what, day_index{who}
"""


def _request_day_rows_in_database(scope: Scope, requests, by_psychiatrist: bool) -> list[list]:
    days, bounds, ends = _promised_days(scope)
    sql, params = requests.query.get_compiler(using=requests.db).as_sql()
    statement = _DAYS_SQL.format(requests=sql, who=", who" if by_psychiatrist else "")
    with connection.cursor() as cursor:
        # The SQL is this module's and Django's compiled querysets; every value is a parameter.
        cursor.execute(statement, [ends, bounds, *params])
        found = cursor.fetchall()
    return [
        [
            what,
            days[index - 1].isoformat(),
            received,
            answered,
            within,
            received - answered,
            [_compact(value) for value in seconds],
            *who,
        ]
        for what, index, received, answered, within, seconds, *who in found
    ]


def _promised_days(scope: Scope) -> tuple[list[datetime.date], list[datetime.datetime], list[datetime.datetime]]:
    """What the SQL of the response times needs: the range's days, their local midnights and the
    one after the last (``bounds``, for width_bucket), and for each day the end of its promised
    day (``ends``)."""
    days = [scope.first_day + datetime.timedelta(days=n) for n in range((scope.last_day - scope.first_day).days + 1)]
    bounds = [_local_midnight(scope, day) for day in [*days, scope.last_day + datetime.timedelta(days=1)]]
    after = datetime.timedelta(days=1)
    ends = [_local_midnight(scope, promise_deadline(day, scope.promise_days) + after) for day in days]
    return days, bounds, ends


def _request_days(rows: Iterable[list]) -> dict[str, dict[str, dict]]:
    """``_request_day_rows``' rows as ``{what: {day: counts}}``, the rows of one day added up."""
    days: dict[str, dict[str, dict]] = {"report": {}, "message": {}}
    for what, day, received, answered, within, waiting, seconds, *_ in rows:
        counts = days[what].setdefault(day, _new_requests())
        counts["received"] += received
        counts["answered"] += answered
        counts["within"] += within
        counts["waiting"] += waiting
        counts["seconds"] += seconds
    return days


def _response_times(scope: Scope, label: str, days: Iterable[tuple[str, dict]]) -> ResponseTimes:
    """The figures of one kind of request from its per-day counts (``_request_days``)."""
    promise = scope.promise_days
    figures = ResponseTimes(label=label, promise_days=promise)
    today = scope.local_day(scope.now)
    seconds: list[float] = []
    for day, counts in days:
        figures.received += counts["received"]
        figures.answered += counts["answered"]
        figures.waiting += counts["waiting"]
        figures.within_promise += counts["within"]
        past = promise_deadline(datetime.date.fromisoformat(day), promise) < today
        figures.promise_due += counts["answered"] + (counts["waiting"] if past else 0)
        seconds += counts["seconds"]
    figures.median_hours = _round(percentile(seconds, 50, unit=3600))
    figures.p90_hours = _round(percentile(seconds, 90, unit=3600))
    return figures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _started_by_a_patient(scope: Scope) -> Q:
    """A conversation started by a patient. For one psychiatrist's few hundred, each starter's role
    is looked up; for the whole clinic, the starter is not one of the few staff users (a hashed set
    read from user_role_name): joining 20,000 patients' user rows to test each role took ~15 ms."""
    if scope.psychiatrist is not None:
        return Q(created_by__role=User.Role.PATIENT)
    return ~Q(created_by__in=User.objects.filter(role__in=STAFF_ROLES).values("pk"))


def _request_rows(scope: Scope, by_psychiatrist: bool = False):
    """One query for the side-effect reports and the patients' messages (a UNION ALL).

    A side-effect report's first response is its acknowledgement or the first reply from the care
    team in its thread, whichever came first. A message's is the care team's first message in a
    conversation the patient started (not a report's thread); later messages are not timed.

    Both are facts recorded at write time, in the transaction of the acknowledgement or the message
    (``first_response_at``: medications.side_effects.acknowledge, medications.threads.post), so the
    range is an index-only scan of ``ser_created_response`` and ``thread_started_response``: probing
    each of 40,000 reports' threads for its first reply took 525 ms at 20,000 patients
    (docs/performance.md, "First responses recorded at write time")."""
    who = ["patient__primary_psychiatrist_id"] if by_psychiatrist else []
    columns = ["what", "created_at", "first_response_at", *who]
    reports = (
        SideEffectReport.objects.filter(scope.patients(), created_at__gte=scope.start, created_at__lt=scope.end)
        .annotate(what=Value("report"))
        .values_list(*columns)
        .order_by()
    )
    messages = (
        MessageThread.objects.filter(
            scope.patients(),
            kind=MessageThread.Kind.PATIENT,
            side_effect_report__isnull=True,
            created_at__gte=scope.start,
            created_at__lt=scope.end,
        )
        .filter(_started_by_a_patient(scope))
        .annotate(what=Value("message"))
        .values_list(*columns)
        .order_by()
    )
    return reports, messages


REQUEST_LABELS = {"report": "Side-effect reports", "message": "Messages from patients"}


def responses(scope: Scope) -> tuple[ResponseTimes, ResponseTimes]:
    """The side-effect reports' and the patients' messages' figures, in one query."""
    reports, messages = _request_rows(scope)
    labels = REQUEST_LABELS
    if in_database():
        found = {row.label: row for row in _times_in_database(scope, {"report": reports, "message": messages}, labels)}
        promise = scope.promise_days
        return tuple(found.get(label) or ResponseTimes(label=label, promise_days=promise) for label in labels.values())
    days = _request_days(_request_day_rows(scope))
    return tuple(_response_times(scope, labels[what], days[what].items()) for what in labels)


# The figures of ``_request_days`` and ``_response_times`` in SQL over one kind's (what, asked,
# answered) rows; one such SELECT per kind, side by side in one query. "Within promise" compares
# instants, not local days: the range's local midnights (``bounds``) find each request's day by
# binary search (width_bucket), and ``ends`` holds, for each day, the end of its promised day
# (``promise_deadline``, the rule the Python path uses). Converting every request and answer to
# clinic-local days and computing the deadline per row cost ~100 ms at 20,000 patients (60,000
# requests in 30 days); this ~10 ms (docs/performance.md, "First responses recorded at write time").
_TIMES_SQL = """
SELECT COUNT(*),
       COUNT(answered),
       COUNT(*) FILTER (WHERE answered IS NOT NULL OR deadline_end <= %s),
       COUNT(*) FILTER (WHERE answered < deadline_end),
       PERCENTILE_CONT(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY date_part('epoch', answered - asked) / 3600)
FROM (
    SELECT asked, answered, (%s::timestamptz[])[width_bucket(asked, %s::timestamptz[])] AS deadline_end
    FROM ({requests}) AS requests (what, asked, answered)
) AS promised
"""


def _local_midnight(scope: Scope, day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=scope.zone)


def _times_in_database(scope: Scope, requests: dict, labels: dict[str, str]) -> list[ResponseTimes]:
    """``_response_times`` for each kind of request (a queryset of (what, asked, answered) rows
    each) over the whole range, computed by PostgreSQL in one query that returns one row."""
    promise = scope.promise_days
    _, bounds, ends = _promised_days(scope)
    today = _local_midnight(scope, scope.local_day(scope.now))
    parts, params = [], []
    for what, rows in requests.items():
        sql, rows_params = rows.query.get_compiler(using=rows.db).as_sql()
        parts.append(f"({_TIMES_SQL.replace('{requests}', sql)}) AS {what}")
        params += [today, ends, bounds, *rows_params]
    with connection.cursor() as cursor:
        # One row, the kinds side by side: a UNION ALL of the two aggregates made PostgreSQL start
        # parallel workers (a Parallel Append), ~14 ms of start-up for one psychiatrist's 1,000 rows.
        # The SQL is this module's and Django's compiled querysets; every value is a parameter.
        cursor.execute("SELECT * FROM " + " CROSS JOIN ".join(parts), params)  # noqa: S608
        row = cursor.fetchone()
    figures = []
    for n, what in enumerate(requests):
        received, answered, promise_due, within, percentiles = row[5 * n : 5 * n + 5]
        if not received:
            continue
        median, p90 = percentiles or (None, None)
        figures.append(
            ResponseTimes(
                label=labels[what],
                promise_days=promise,
                received=received,
                answered=answered,
                waiting=received - answered,
                within_promise=within,
                promise_due=promise_due,
                median_hours=_round(median),
                p90_hours=_round(p90),
            )
        )
    return figures


# -- Alerts -----------------------------------------------------------------------------------


@dataclass
class AlertFigures:
    label: str
    raised: int = 0
    acknowledged: int = 0
    escalated: int = 0
    open: int = 0
    median_minutes: float | None = None
    p90_minutes: float | None = None


def alerts(scope: Scope) -> list[AlertFigures]:
    """One query: safety alerts raised in the range, per level, and time to acknowledgement."""
    rows = Alert.objects.filter(scope.patients(), created_at__gte=scope.start, created_at__lt=scope.end)
    figures = {level: AlertFigures(label=str(label)) for level, label in Alert.Level.choices}
    if in_database():
        minutes = _elapsed("created_at", "acknowledged_at", 60)
        counted = (
            rows.values("level")
            .annotate(
                raised=Count("pk"),
                acknowledged=Count("acknowledged_at"),
                escalated=Count("escalated_at"),
                median_minutes=Percentile(minutes, 0.5),
                p90_minutes=Percentile(minutes, 0.9),
            )
            .order_by()
        )
        for row in counted:
            item = figures[row["level"]]
            item.raised, item.acknowledged, item.escalated = row["raised"], row["acknowledged"], row["escalated"]
            item.open = item.raised - item.acknowledged
            item.median_minutes, item.p90_minutes = _round(row["median_minutes"]), _round(row["p90_minutes"])
        return list(figures.values())
    return _alert_figures(_alert_counts(_alert_rows(scope)))


def _alert_rows(scope: Scope, by_psychiatrist: bool = False):
    rows = Alert.objects.filter(scope.patients(), created_at__gte=scope.start, created_at__lt=scope.end)
    who = ["patient__primary_psychiatrist_id"] if by_psychiatrist else []
    return rows.values_list("level", "created_at", "acknowledged_at", "escalated_at", *who).order_by()


def _alert_counts(rows: Iterable[tuple]) -> dict[str, dict]:
    """``(level, created, acknowledged, escalated, ...)`` rows counted per level, with the time
    to each acknowledgement kept for the percentiles."""
    counts: dict[str, dict] = {}
    for level, created, acknowledged, escalated, *_ in rows:
        item = counts.setdefault(level, {"raised": 0, "acknowledged": 0, "escalated": 0, "seconds": []})
        item["raised"] += 1
        item["escalated"] += escalated is not None
        if acknowledged is not None:
            item["acknowledged"] += 1
            item["seconds"].append(_seconds(acknowledged - created))
    return counts


def _alert_figures(*parts: dict[str, dict]) -> list[AlertFigures]:
    figures = {level: AlertFigures(label=str(label)) for level, label in Alert.Level.choices}
    seconds: dict[str, list[float]] = {level: [] for level in figures}
    for counts in parts:
        for level, item in counts.items():
            figure = figures[level]
            figure.raised += item["raised"]
            figure.acknowledged += item["acknowledged"]
            figure.escalated += item["escalated"]
            seconds[level] += item["seconds"]
    for level, figure in figures.items():
        figure.open = figure.raised - figure.acknowledged
        figure.median_minutes = _round(percentile(seconds[level], 50, unit=60))
        figure.p90_minutes = _round(percentile(seconds[level], 90, unit=60))
    return list(figures.values())


# -- The caseload today -----------------------------------------------------------------------


@dataclass
class Caseload:
    """Active patients at the end of the range: measured (a PHQ-9 or GAD-7 in the MBC window
    before the range's end) and, as of today, with overdue monitoring or an overdue review."""

    active: int = 0
    measured: int = 0
    labs_overdue: int = 0
    reviews_overdue: int = 0

    @property
    def coverage_rate(self) -> float | None:
        return rate(self.measured, self.active)

    @property
    def labs_overdue_rate(self) -> float | None:
        return rate(self.labs_overdue, self.active)

    @property
    def reviews_overdue_rate(self) -> float | None:
        return rate(self.reviews_overdue, self.active)


def caseload(scope: Scope) -> Caseload:
    """One pass over the active patients, reading dates recorded on each at write time
    (Patient.last_measured_at by patients.questionnaires.submit; lab_overdue_from and
    review_overdue_from by medications.due from the per-patient work list, at most an hour stale):
    probing each of 20,000 patients' questionnaires and work list took 123 ms (docs/performance.md).

    The recorded date answers "measured in the 90 days before the range's end" only for a range
    that ends now (the default): for a range that ended earlier, a later questionnaire may have
    replaced the one that counted, so those ranges probe each patient's responses in the window."""
    today = scope.local_day(scope.now)
    since = scope.end - datetime.timedelta(days=MBC_WINDOW_DAYS)
    if scope.end >= scope.now:
        measured = Q(last_measured_at__gte=since)
    else:
        responses = QuestionnaireResponse.objects.filter(
            patient=OuterRef("pk"), instrument__in=MBC_INSTRUMENTS, submitted_at__gte=since, submitted_at__lt=scope.end
        )
        measured = Q(Exists(responses))
    figures = (
        Patient.objects.active()
        .filter(scope.patients(prefix=""))
        # Counts of a constant, not of the id: the id is not in patient_active_caseload, and the
        # whole clinic's count is an index-only scan of it.
        .aggregate(
            active=Count(Value(1)),
            measured=Count(Value(1), filter=measured),
            labs_overdue=Count(Value(1), filter=Q(lab_overdue_from__lte=today)),
            reviews_overdue=Count(Value(1), filter=Q(review_overdue_from__lte=today)),
        )
    )
    return Caseload(**figures)


@dataclass
class Waitlist:
    filled: int = 0  # freed slots in the range taken by a patient from the waitlist
    waiting_now: int = 0


def _filled_rows(scope: Scope, by_psychiatrist: bool = False) -> list[list]:
    """Slots in the range filled from the waitlist, as ``[n]`` (``[n, psychiatrist]`` per
    psychiatrist when ``by_psychiatrist``), for the nightly count."""
    rows = WaitlistEntry.objects.filter(
        status=WaitlistEntry.Status.BOOKED, offer_start__gte=scope.start, offer_start__lt=scope.end
    )
    if scope.psychiatrist is not None:
        rows = rows.filter(psychiatrist=scope.psychiatrist)
    if not by_psychiatrist:
        return [[rows.count()]]
    per_psychiatrist = rows.values("psychiatrist_id").annotate(n=Count("pk")).order_by()
    return [[row["n"], row["psychiatrist_id"]] for row in per_psychiatrist]


def waitlist(scope: Scope) -> Waitlist:
    """One query: slots in the range filled from the waitlist, and who waits today."""
    rows = WaitlistEntry.objects.all()
    if scope.psychiatrist is not None:
        rows = rows.filter(psychiatrist=scope.psychiatrist)
    figures = rows.aggregate(
        filled=Count(
            "pk",
            filter=Q(status=WaitlistEntry.Status.BOOKED, offer_start__gte=scope.start, offer_start__lt=scope.end),
        ),
        waiting_now=Count("pk", filter=Q(status__in=[WaitlistEntry.Status.WAITING, WaitlistEntry.Status.OFFERED])),
    )
    return Waitlist(**figures)


# -- Everything -------------------------------------------------------------------------------


@dataclass
class Metrics:
    scope: Scope
    by_type: list[Outcomes]
    visits: Outcomes
    by_channel: list[ChannelOutcomes]
    delivery: list[Delivery]
    reports: ResponseTimes
    messages: ResponseTimes
    alerts: list[AlertFigures]
    caseload: Caseload
    waitlist: Waitlist
    # The nightly count's days used (docs/metrics.md): up to this day, counted at (the earliest)
    # this time; later days live. None: every day counted live.
    counted_through: datetime.date | None = None
    counted_at: datetime.datetime | None = None

    @property
    def live_from(self) -> datetime.date | None:
        """The first day counted live after the nightly count's days, if any."""
        if self.counted_through is None or self.counted_through >= self.scope.last_day:
            return None
        return self.counted_through + datetime.timedelta(days=1)

    @property
    def delivery_total(self) -> Delivery:
        total = Delivery(channel="all", label="All channels")
        for row in self.delivery:
            for name in ("planned", "sent", "failed", "unknown", "skipped", "cancelled", "open"):
                setattr(total, name, getattr(total, name) + getattr(row, name))
        return total

    @property
    def reminded(self) -> ChannelOutcomes:
        """Booked visits with a reminder delivered by any channel, each once: the confirmation rate."""
        return next(row for row in self.by_channel if row.channel == "any")


def compute(scope: Scope) -> Metrics:
    """Every figure of the metrics page, in seven queries whatever the clinic's size (the content
    type of Appointment is cached by Django after its first look-up): the nightly count's days
    (``counted_days``), then the rest of the range counted live."""
    counted = counted_days(scope)
    if not counted:
        return _live(scope)
    live = Scope(
        first_day=counted[-1].day + datetime.timedelta(days=1),
        last_day=scope.last_day,
        psychiatrist=scope.psychiatrist,
        now=scope.now,
        clinic=scope.clinic,
    )
    tallies = [day.figures for day in counted]
    if live.first_day <= live.last_day:
        tallies.append(
            _tally(
                live,
                visits=_visit_rows(live),
                delivery=_delivery_rows(live),
                requests=_request_day_rows(live),
                alerts=_alert_rows(live),
                filled=[],  # counted by ``waitlist`` below, with who waits now
            )
        )
    by_type, visits, by_channel = _tally_visits(row for tally in tallies for row in tally["visits"])
    reports_, messages_ = (
        _response_times(scope, label, (item for tally in tallies for item in tally["requests"][what].items()))
        for what, label in REQUEST_LABELS.items()
    )
    waiting = waitlist(live)  # its range is empty when every day was counted: who waits now
    waiting.filled += sum(tally["filled"] for tally in tallies)
    return Metrics(
        scope=scope,
        by_type=by_type,
        visits=visits,
        by_channel=by_channel,
        delivery=_tally_delivery(row for tally in tallies for row in tally["delivery"]),
        reports=reports_,
        messages=messages_,
        alerts=_alert_figures(*(tally["alerts"] for tally in tallies)),
        caseload=caseload(scope),
        waitlist=waiting,
        counted_through=counted[-1].day,
        counted_at=min(day.counted_at for day in counted),
    )


def _live(scope: Scope) -> Metrics:
    by_type, visits, by_channel = visit_outcomes(scope)
    reports, messages = responses(scope)
    return Metrics(
        scope=scope,
        by_type=by_type,
        visits=visits,
        by_channel=by_channel,
        delivery=reminder_delivery(scope),
        reports=reports,
        messages=messages,
        alerts=alerts(scope),
        caseload=caseload(scope),
        waitlist=waitlist(scope),
    )


# -- The nightly count ------------------------------------------------------------------------


def _tally(scope: Scope, *, visits, delivery, requests, alerts, filled) -> dict:
    """The figures of a scope's rows in the shape stored by the nightly count (MetricsDay) and
    added up by ``compute``: JSON, the visit and reminder rows as counted, the requests per day."""
    return {
        "visits": _collapse(visits, lambda row: (*row[:4], tuple(row[4]))),
        "delivery": _collapse(delivery, lambda row: tuple(row[:2])),
        "requests": _request_days(requests),
        "alerts": _alert_counts(alerts),
        "filled": sum(row[0] for row in filled),
    }


def _collapse(rows: Iterable[list], key) -> list[list]:
    """Counted rows with the same key added up (a day's rows come grouped by psychiatrist too):
    the clinic's day then holds a dozen visit rows instead of one per psychiatrist and group."""
    added: dict[tuple, list] = {}
    for row in rows:
        *fields, n = row
        group = added.setdefault(key(row), [*fields, 0])
        group[-1] += n
    return list(added.values())


EMPTY_TALLY = {"visits": [], "delivery": [], "requests": {"report": {}, "message": {}}, "alerts": {}, "filled": 0}


def day_tallies(scope: Scope) -> dict[int | None, dict]:
    """One clinic-local day's figures (a scope of one day, the whole clinic): the clinic's (key
    None) and each psychiatrist's with something that day (their visits; their patients' requests
    and alerts), in five queries."""
    rows = {
        "visits": _visit_rows(scope, by_psychiatrist=True),
        "delivery": _delivery_rows(scope, by_psychiatrist=True),
        "requests": _request_day_rows(scope, by_psychiatrist=True),
        "alerts": list(_alert_rows(scope, by_psychiatrist=True)),
        "filled": _filled_rows(scope, by_psychiatrist=True),
    }
    tallies = {None: _tally(scope, **{name: [row[:-1] for row in part] for name, part in rows.items()})}
    for who in {row[-1] for part in rows.values() for row in part} - {None}:
        mine = {name: [row[:-1] for row in part if row[-1] == who] for name, part in rows.items()}
        tallies[who] = _tally(scope, **mine)
    return tallies


@dataclass(frozen=True)
class CountedDay:
    day: datetime.date
    counted_at: datetime.datetime
    figures: dict


def counted_days(scope: Scope) -> list[CountedDay]:
    """One query: the nightly count's days at the start of the range, in order, up to the first
    day it has not counted (today never is) or counted too long ago or under other settings."""
    last = min(scope.last_day, scope.local_day(scope.now) - datetime.timedelta(days=1))
    if last < scope.first_day:
        return []
    rows = MetricsDay.objects.filter(
        day__gte=scope.first_day,
        day__lte=last,
        counted_at__gte=scope.now - datetime.timedelta(hours=settings.TITRATE_METRICS_COUNT_MAX_AGE_HOURS),
        counted_at__lte=scope.now,
        time_zone=scope.zone.key,
        late_cancel_hours=late_cancel_hours(),
        promise_days=scope.promise_days,
    )
    if scope.psychiatrist is None:
        rows = rows.values_list("day", "counted_at", "clinic")
    else:
        share = PsychiatristMetricsDay.objects.filter(day=OuterRef("pk"), psychiatrist=scope.psychiatrist)
        rows = rows.annotate(figures=Subquery(share.values("figures"))).values_list("day", "counted_at", "figures")
    found = {day: (at, figures) for day, at, figures in rows}
    counted = []
    day = scope.first_day
    while day in found:
        at, figures = found[day]
        counted.append(CountedDay(day=day, counted_at=at, figures=figures or EMPTY_TALLY))
        day += datetime.timedelta(days=1)
    return counted
