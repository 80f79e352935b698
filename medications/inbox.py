"""What the side-effect inbox reads: the reports of the patients a psychiatrist may open, with
their patients' and drugs' names, in one query (docs/performance.md)."""

from __future__ import annotations

from django.db.models import CharField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat, NullIf

from medications.models import Prescription, SideEffectReport
from patients.models import Patient

LIMIT = 100


def reports(scope: QuerySet[Patient], *, show_all: bool) -> list[SideEffectReport]:
    """The first ``LIMIT`` reports of the patients in ``scope`` (``patients_for``), open ones only
    unless ``show_all``, in inbox order, each with ``patient_name`` and ``drug``."""
    shown = SideEffectReport.objects.filter(patient__in=scope)
    if not show_all:
        shown = shown.unacknowledged()
    # The patient's and the drug's names as correlated subqueries rather than joins: PostgreSQL
    # runs them for the 100 rows kept after the sort, where joining made it hash the whole
    # patient and prescription tables for every open report of the caseload.
    patient = Patient.objects.filter(pk=OuterRef("patient_id")).order_by()
    first_name = Coalesce(NullIf("preferred_name", Value("")), "legal_first_name")  # Patient.display_name
    name = patient.annotate(name=Concat(first_name, Value(" "), "legal_last_name", output_field=CharField()))
    drug = Prescription.objects.filter(pk=OuterRef("prescription_id")).order_by().values("medication__generic_name")
    return list(shown.inbox_order().annotate(patient_name=Subquery(name.values("name")), drug=Subquery(drug))[:LIMIT])
