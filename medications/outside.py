"""Outside medications: what a patient takes that this clinic did not prescribe (another prescriber,
over the counter, a supplement), recorded by a clinician so the prescribing checks see it.

A typed name is coded to a formulary drug only when it *is* that drug: its generic name, an
unambiguous brand, a declared alias, or either with salt, release-form or strength words after it
("sertraline hydrochloride", "Seroquel XR", "ibuprofen 400"), ignoring case and punctuation —
medications.formulary's one resolver, with its ISMP look-alike pairs. Anything else is never
mapped silently: :func:`match_name` offers close names for the
clinician to pick, or the name is kept as typed, uncoded, and every check result says it was not
checked (medications.safety.CheckResult.not_checked).

:func:`match_name` is the one place the typed name meets the formulary. Each write saves and
writes its audit row in one transaction.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEvent, User
from medications import formulary
from medications.models import Medication, OutsideMedication
from patients.models import Patient

MAX_SUGGESTIONS = 4
# difflib's ratio a name must reach to be offered: near-typos ("sertralin", "Seroquil") are; names
# that only share letters ("Kratom" ~ "Aptiom") are not, since each offer invites a pick.
SIMILAR_ENOUGH = 0.75


@dataclass(frozen=True)
class Suggestion:
    generic_name: str
    # "Celexa (citalopram)": the generic is always named, and a known look-alike says so.
    label: str


@dataclass(frozen=True)
class NameMatch:
    generic_name: str | None  # the formulary drug this name is exactly, or None
    suggestions: tuple[Suggestion, ...] = field(default=())
    # The ISMP look-alike/sound-alike warning for the name matched, or "".
    lasa_warning: str = ""


def match_name(typed: str) -> NameMatch:
    """The formulary drug ``typed`` names exactly, else close names to offer (never chosen for the
    user). Both come from the one resolver the checks and triage share (medications.formulary)."""
    index = formulary.names()
    found = index.resolve(typed)
    if found is not None:
        return NameMatch(found.generic_name, lasa_warning=found.lasa_warning())
    offered = index.suggest(typed, n=MAX_SUGGESTIONS, cutoff=SIMILAR_ENOUGH)
    return NameMatch(None, tuple(Suggestion(s.generic_name, str(s)) for s in offered))


def formulary_row(generic_name: str | None) -> Medication | None:
    return Medication.objects.filter(generic_name=generic_name).first() if generic_name else None


@transaction.atomic
def record(patient: Patient, outside: OutsideMedication, *, by: User, request=None) -> OutsideMedication:
    """``outside`` is unsaved (a form's instance); its ``medication`` is the clinician's pick among
    the suggestions, or None to keep the name uncoded. A name that is exactly a formulary drug is
    coded to that drug whatever was picked, so the checks can never miss it."""
    exact = formulary_row(match_name(outside.name).generic_name)
    if exact is not None:
        outside.medication = exact
    outside.name = outside.name.strip()
    outside.patient = patient
    outside.recorded_by = by
    outside.save()
    audit.record(
        AuditEvent.Action.CREATE,
        request=request,
        actor=by,
        patient=patient,
        obj=outside,
        detail={"coded": outside.medication_id is not None},
    )
    return outside


@transaction.atomic
def record_from_patient(patient: Patient, outside: OutsideMedication, *, by: User, request=None) -> OutsideMedication:
    """ "Something I take", added by the patient: coded only by an exact name (a patient is offered
    no look-alike to pick), marked patient-reported until a clinician confirms it. It joins the
    checks at once when coded: a drug not yet confirmed is still a drug the patient takes."""
    outside.patient_reported = True
    outside.medication = None
    return record(patient, outside, by=by, request=request)


@transaction.atomic
def confirm(outside: OutsideMedication, *, by: User, request=None) -> OutsideMedication:
    """A clinician went through a patient-reported entry with the patient (or their records)."""
    updated = OutsideMedication.objects.filter(
        pk=outside.pk, patient_reported=True, confirmed_at__isnull=True, stopped_on__isnull=True
    ).update(confirmed_by=by, confirmed_at=timezone.now())
    if updated:
        _changed(outside, by, request, "confirmed")
        outside.refresh_from_db()
    return outside


def _changed(outside: OutsideMedication, by: User, request, change: str) -> None:
    audit.record(
        AuditEvent.Action.UPDATE,
        request=request,
        actor=by,
        patient=outside.patient,
        obj=outside,
        detail={"change": change},
    )


@transaction.atomic
def stop(outside: OutsideMedication, *, by: User, on: datetime.date | None = None, request=None) -> OutsideMedication:
    """No longer taken (or entered in error): kept in the record, no longer checked against."""
    outside.stopped_on = on or timezone.localdate()
    outside.stopped_by = by
    outside.save(update_fields=["stopped_on", "stopped_by"])
    _changed(outside, by, request, "stopped")
    return outside


@transaction.atomic
def code_known_names() -> int:
    """After the formulary grows (``manage.py load_formulary``): each active uncoded outside
    medication whose name is now exactly a formulary drug is coded to it, so the checks see it from
    now on; one system audit row each. Returns how many were coded."""
    coded = []
    for row in OutsideMedication.objects.active().filter(medication__isnull=True).select_for_update():
        medication = formulary_row(match_name(row.name).generic_name)
        if medication is not None:
            row.medication = medication
            row.save(update_fields=["medication"])
            coded.append((row.patient_id, row, {"change": "coded", "by": "formulary_update"}))
    audit.record_many(AuditEvent.Action.UPDATE, coded)
    return len(coded)
