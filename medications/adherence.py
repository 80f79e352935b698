"""Patient-reported adherence: every TITRATE_ADHERENCE_DAYS days (7 by default) the patient is asked,
per active medicine, "In the last N days, how many days did you miss a dose of …?", with optional
reasons (forgot, side effects, cost, felt better, ran out).

What it feeds: the chart's trend (:func:`trend`), the visit note's interval history
(:func:`since_text`), the psychiatrist home's "persistent non-adherence" (:func:`persistent_among`)
and the reminder the planner sends through the outbox (:func:`plan_reminders`, PHI-free: "your
weekly medicine check-in is open").

Non-adherence here is missing more than a fifth of the window's days (adherence below 80%, the
usual research cut-off for "adherent" ?), and *persistent* when the last two check-ins both say so.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic import audit, dates
from clinic.models import AuditEvent, Notification, User
from medications.models import AdherenceAnswer, AdherenceCheckIn, AdherenceReason, Prescription
from notifications import kinds, messages, outbox
from patients.models import Patient

# Missing more than this share of the window's days is non-adherence (below 80% adherence ?).
NON_ADHERENT_SHARE = 0.2
# Non-adherence in this many check-ins in a row is persistent (shown on the psychiatrist home).
PERSISTENT_CHECK_INS = 2
# The chart's trend shows at most this many check-ins (about three months of weekly ones).
TREND_LIMIT = 13
# A reminder not opened before the next one is due is no longer wanted.
REMINDER_TTL = datetime.timedelta(days=2)


def window_days() -> int:
    return settings.TITRATE_ADHERENCE_DAYS


def non_adherent(missed_days: int, days: int) -> bool:
    return missed_days > days * NON_ADHERENT_SHARE


def last_check_in(patient: Patient) -> AdherenceCheckIn | None:
    return patient.adherence_check_ins.order_by("-submitted_at", "-pk").first()


def next_open(patient: Patient, now: datetime.datetime | None = None) -> datetime.datetime | None:
    """When the next check-in opens, or None if one is open now."""
    now = now or timezone.now()
    last = last_check_in(patient)
    if last is None:
        return None
    opens = last.submitted_at + datetime.timedelta(days=window_days())
    return opens if opens > now else None


@transaction.atomic
def submit(patient: Patient, answers: dict[int, tuple[int, list[str]]], *, by: User, request=None) -> AdherenceCheckIn:
    """``answers``: prescription id -> (days missed, reasons), one per active prescription."""
    days = window_days()
    # One check-in at a time per patient: two tabs submit once.
    list(Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk", flat=True))
    opens = next_open(patient)
    if opens is not None:
        raise ValidationError(
            _("You already checked in. The next check-in opens on %(day)s.") % {"day": dates.day(opens)}
        )
    active = {rx.pk: rx for rx in Prescription.objects.active().filter(patient=patient)}
    if not active or set(answers) != set(active):
        raise ValidationError(_("Answer for each of your current medicines."))
    for missed, reasons in answers.values():
        if not 0 <= missed <= days:
            raise ValidationError(_("Days missed must be from 0 to %(days)d.") % {"days": days})
        if set(reasons) - set(AdherenceReason.values):
            raise ValidationError(_("Choose reasons from the list."))
    check_in = AdherenceCheckIn.objects.create(patient=patient, days=days, submitted_by=by)
    AdherenceAnswer.objects.bulk_create(
        AdherenceAnswer(check_in=check_in, prescription_id=rx_id, missed_days=missed, reasons=sorted(set(reasons)))
        for rx_id, (missed, reasons) in sorted(answers.items())
    )
    audit.record(AuditEvent.Action.CREATE, request=request, actor=by, patient=patient, obj=check_in)
    if patient.user_id is not None:
        outbox.settle(key_prefix=f"adherence-due:{patient.pk}:", recipient_id=patient.user_id)
    return check_in


@dataclass(frozen=True)
class Point:
    """One check-in's answer for one medicine, as the chart draws it."""

    when: datetime.datetime
    drug: str
    missed_days: int
    days: int
    reasons: tuple[str, ...]
    cost: bool

    @property
    def non_adherent(self) -> bool:
        return non_adherent(self.missed_days, self.days)


def trend(patient: Patient, limit: int = TREND_LIMIT) -> list[Point]:
    """The newest ``limit`` check-ins' answers, oldest first. One query."""
    recent = patient.adherence_check_ins.order_by("-submitted_at", "-pk").values("pk")[:limit]
    answers = (
        AdherenceAnswer.objects.filter(check_in__in=recent)
        .select_related("check_in", "prescription__medication")
        .order_by("check_in__submitted_at", "check_in_id", "prescription__medication__generic_name")
    )
    return [
        Point(
            a.check_in.submitted_at,
            a.prescription.medication.generic_name,
            a.missed_days,
            a.check_in.days,
            tuple(a.reason_labels),
            a.cost_concern,
        )
        for a in answers
    ]


def since_text(patient: Patient, since: datetime.datetime | None) -> str:
    """The check-ins since ``since`` (the last visit) in words, for the visit note's interval
    history: "Patient-reported adherence (2 check-ins): 3 Dec: sertraline missed 2 of 7 days
    (I forgot, Cost); …". Empty without a check-in. One query."""
    points = [p for p in trend(patient) if since is None or p.when > since]
    if not points:
        return ""
    by_check_in: dict[datetime.datetime, list[Point]] = defaultdict(list)
    for point in points:
        by_check_in[point.when].append(point)
    parts = []
    for when, group in by_check_in.items():
        said = "; ".join(
            f"{p.drug} missed {p.missed_days} of {p.days} days"
            + (f" ({', '.join(p.reasons).lower()})" if p.reasons else "")
            for p in group
        )
        parts.append(f"{dates.day(when)}: {said}")
    return f"Patient-reported adherence ({len(by_check_in)} check-in{'s' if len(by_check_in) != 1 else ''}): " + (
        "; ".join(parts) + "."
    )


@dataclass(frozen=True)
class Persistent:
    patient_id: int
    worst_missed: int
    days: int
    last_at: datetime.datetime


def persistent_among(patient_ids, now: datetime.datetime | None = None) -> list[Persistent]:
    """Patients (of ``patient_ids``) whose last PERSISTENT_CHECK_INS check-ins each missed too many
    doses of some medicine, newest first. One query over the recent check-ins only (the last
    windows' worth), grouped per check-in in SQL."""
    now = now or timezone.now()
    since = now - datetime.timedelta(days=window_days() * (PERSISTENT_CHECK_INS + 2))
    rows = (
        AdherenceAnswer.objects.filter(check_in__patient_id__in=patient_ids, check_in__submitted_at__gte=since)
        .values("check_in_id", "check_in__patient_id", "check_in__submitted_at", "check_in__days")
        .annotate(worst=Max("missed_days"))
    )
    per_patient: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        per_patient[row["check_in__patient_id"]].append(row)
    found = []
    for patient_id, check_ins in per_patient.items():
        check_ins.sort(key=lambda r: (r["check_in__submitted_at"], r["check_in_id"]), reverse=True)
        last = check_ins[:PERSISTENT_CHECK_INS]
        if len(last) == PERSISTENT_CHECK_INS and all(non_adherent(r["worst"], r["check_in__days"]) for r in last):
            found.append(
                Persistent(patient_id, last[0]["worst"], last[0]["check_in__days"], last[0]["check_in__submitted_at"])
            )
    return sorted(found, key=lambda p: p.last_at, reverse=True)


def plan_reminders(now: datetime.datetime | None = None) -> list[Notification]:
    """Tell each patient on a medicine whose check-in is open (none in the last window) that it
    is: one reminder per patient per window and channel (the key names the window), so running
    it again creates nothing. Two queries plus the insert."""
    now = now or timezone.now()
    days = window_days()
    recent = Q(adherence_check_ins__submitted_at__gt=now - datetime.timedelta(days=days))
    patients = (
        Patient.objects.filter(is_active=True, user__isnull=False, user__is_active=True)
        .filter(pk__in=Prescription.objects.active().values("patient_id"))
        .exclude(recent)
        .select_related("user__notification_preference")
    )
    window = timezone.localdate(now).toordinal() // days
    rows: list[Notification] = []
    for patient in patients:
        rows += outbox.send_now_rows(
            patient.user,
            key=f"adherence-due:{patient.pk}:{window}",
            kind=Notification.Kind.ADHERENCE_DUE,
            expires_at=now + REMINDER_TTL,
            patient=patient,
        )
    return outbox.insert(rows)


def _due_context(row: Notification, tz, absolute: bool) -> dict[str, str]:
    return {"details_url": messages.url("medications:my_adherence", absolute=absolute)}


def register_kinds() -> None:
    """Called from MedicationsConfig.ready()."""
    kinds.register(Notification.Kind.ADHERENCE_DUE, context=_due_context)
