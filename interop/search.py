"""FHIR searches and reads over the records a token may see, and the ``$everything`` bundle.

Scoping first: every search starts from the patients the caller passes in (``Grant.patients()``, the
portal's own ``clinic.access.patients_for``), so an id outside them is simply not found (404), the
same as a missing one. Each resource type reads a page with a fixed number of queries (a count, the
page, and at most one prefetch), whatever the size of the record; tests/interop/test_query_budget.py
pins the numbers.

Search parameters (docs/api.md lists them per type): ``_id``, ``_lastUpdated`` (prefixes eq, gt, ge,
lt, le; repeatable), ``patient`` / ``subject``, ``_count`` (1-200, default 50) and ``_offset`` for
paging, and per type ``status``, ``clinical-status``, ``category``, ``code``, ``date``,
``identifier``. Unknown parameters are ignored and left out of the ``self`` link, as FHIR servers do.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from appointments.models import Appointment
from clinic.models import User
from interop import codes, fhir
from medications.models import Allergy, LabResult, OutsideMedication, PrescriptionEvent
from patients import instruments
from patients.models import Diagnosis, Patient, QuestionnaireResponse

DEFAULT_COUNT, MAX_COUNT = 50, 200
PREFIXES = ("eq", "ge", "gt", "le", "lt")


class SearchError(ValueError):
    """A search parameter that cannot be read: the API answers 400 with an OperationOutcome."""


@dataclass
class Query:
    """The parsed request: what to filter on, and the page."""

    params: dict[str, list[str]]
    count: int = DEFAULT_COUNT
    offset: int = 0
    used: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, querydict) -> Query:
        params = {key: querydict.getlist(key) for key in querydict}
        try:
            count = int(params.pop("_count", [DEFAULT_COUNT])[0])
            offset = int(params.pop("_offset", [0])[0])
        except ValueError:
            raise SearchError("_count and _offset are whole numbers.") from None
        if count < 1 or offset < 0:
            raise SearchError("_count must be at least 1 and _offset at least 0.")
        return cls(params, min(count, MAX_COUNT), offset)

    def values(self, name: str) -> set[str]:
        """The comma-separated values of every ``name`` parameter (FHIR's "or" within one)."""
        return {value for part in self.get(name) for value in part.split(",")}

    def get(self, name: str) -> list[str]:
        values = [value for value in self.params.get(name, []) if value != ""]
        if values:
            self.used[name] = values
        return values


@dataclass
class Page:
    resources: list[dict]
    total: int
    patient_ids: set[int]


def _moment(value: str, *, end: bool) -> datetime.datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        date = parse_date(value)
        if date is None:
            raise SearchError(f"“{value}” is not a date (YYYY-MM-DD) or an instant.")
        parsed = datetime.datetime.combine(date, datetime.time.max if end else datetime.time.min)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, datetime.UTC)
    return parsed


def date_filter(field_name: str, values: list[str], *, dates: bool = False) -> Q:
    """FHIR date search on one field: ``ge2026-01-01``, ``lt2026-02-01T00:00:00Z``, a bare day."""
    condition = Q()
    for raw in values:
        prefix, value = (raw[:2], raw[2:]) if raw[:2] in PREFIXES else ("eq", raw)
        start, stop = _moment(value, end=False), _moment(value, end=True)
        if dates:
            start, stop = start.date(), stop.date()
        condition &= {
            "eq": Q(**{f"{field_name}__gte": start, f"{field_name}__lte": stop}),
            "ge": Q(**{f"{field_name}__gte": start}),
            "gt": Q(**{f"{field_name}__gt": stop}),
            "le": Q(**{f"{field_name}__lte": stop}),
            "lt": Q(**{f"{field_name}__lt": start}),
        }[prefix]
    return condition


def _patient_ids(query: Query) -> list[int] | None:
    values = query.get("patient") + query.get("subject")
    if not values:
        return None
    ids = []
    for value in values:
        value = value.removeprefix("Patient/")
        if not value.isdigit():
            return []
        ids.append(int(value))
    return ids


def _int_ids(values: list[str], prefix: str = "") -> list[int]:
    ids = []
    for value in values:
        for part in value.split(","):
            # Observation ids name their table ("qr-12", "lab-7"): a bare or other-table id is not ours.
            if prefix and not part.startswith(prefix):
                continue
            part = part.removeprefix(prefix)
            if part.isdigit():
                ids.append(int(part))
    return ids


@dataclass(frozen=True)
class Search:
    """One resource type's search over a model: its scoped queryset, its own filters, how a row
    becomes resources, and the field that stands for meta.lastUpdated."""

    queryset: Callable[[QuerySet[Patient], User], QuerySet]
    last_updated: str
    patient_field: str
    render: Callable[[list, str], list[dict]]
    filters: Callable[[Query], Q] = lambda query: Q()
    patient_of: Callable = lambda row: row.patient_id
    id_prefix: str = ""


def _status(query: Query, field_name: str, mapping: dict[str, str] | None = None) -> Q:
    values = query.get("status") + query.get("clinical-status")
    if not values:
        return Q()
    wanted = [(mapping or {}).get(value, value) for part in values for value in part.split(",")]
    return Q(**{f"{field_name}__in": wanted})


# -- Per type -----------------------------------------------------------------------------------


def _patients(scope, user):
    return scope


def _identifier(field_name: str) -> Callable[[Query], Q]:
    """``identifier=[system|]value`` on one field (the MRN, the NPI)."""

    def filters(query: Query) -> Q:
        condition = Q()
        for value in query.get("identifier"):
            condition &= Q(**{field_name: value.rsplit("|", 1)[-1]})
        return condition

    return filters


def _team_of(patients) -> Q:
    """Users on the care team of ``patients`` (a queryset or ids): their primary psychiatrists and
    the shared members. Two id subqueries, not an OR across two joins: the joins' OR made PostgreSQL
    read every patient row (a sequential scan of 20,000 at bench scale, 12 ms a request)."""
    members = Patient.care_team.through.objects.filter(patient__in=patients).values("user_id")
    return Q(pk__in=Patient.objects.filter(pk__in=patients).values("primary_psychiatrist_id")) | Q(pk__in=members)


def _practitioners(scope, user):
    team = _team_of(scope)
    if user.role == User.Role.PSYCHIATRIST:
        team |= Q(pk=user.pk)
    return User.objects.filter(team, role=User.Role.PSYCHIATRIST)


def _care_teams(scope, user):
    return scope.select_related("primary_psychiatrist").prefetch_related("care_team")


def _medication_requests(scope, user):
    later = PrescriptionEvent.objects.filter(
        prescription=OuterRef("prescription"), kind__in=fhir.DOSE_EVENTS, pk__gt=OuterRef("pk")
    )
    return (
        PrescriptionEvent.objects.filter(prescription__patient__in=scope, kind__in=fhir.DOSE_EVENTS)
        .annotate(superseded=Exists(later))
        .select_related("prescription__medication")
    )


def _medication_request_filters(query: Query) -> Q:
    condition = Q()
    statuses = query.values("status")
    if statuses:
        active = Q(prescription__status="active", superseded=False)
        wanted = Q(pk__in=[])
        if "active" in statuses:
            wanted |= active
        if "stopped" in statuses:
            wanted |= ~active
        condition &= wanted
    intents = query.values("intent")
    if intents and "order" not in intents:
        condition &= Q(pk__in=[])
    return condition


def _render_medication_requests(rows, base_url):
    # One extra query for the page: every event of the prescriptions on it, to link and date them.
    prescriptions = {row.prescription_id: row.prescription for row in rows}
    events: dict[int, list] = {pk: [] for pk in prescriptions}
    for event in PrescriptionEvent.objects.filter(prescription_id__in=prescriptions, kind__in=fhir.DOSE_EVENTS):
        events[event.prescription_id].append(event)
    wanted = {row.pk for row in rows}
    built = {}
    for pk, prescription in prescriptions.items():
        for resource in fhir.medication_requests(prescription, events[pk], base_url=base_url):
            if int(resource["id"]) in wanted:
                built[int(resource["id"])] = resource
    return [built[row.pk] for row in rows]


def _outside_filters(query: Query) -> Q:
    statuses = query.values("status")
    if not statuses:
        return Q()
    wanted = Q(pk__in=[])
    if "active" in statuses:
        wanted |= Q(stopped_on__isnull=True)
    if "stopped" in statuses:
        wanted |= Q(stopped_on__isnull=False)
    return wanted


def _appointment_filters(query: Query) -> Q:
    condition = date_filter("start", query.get("date"))
    statuses = query.values("status")
    if statuses:
        ours = [key for key, value in fhir.APPOINTMENT_STATUS.items() if value in statuses]
        condition &= Q(status__in=ours)
    return condition


def _questionnaire_filters(query: Query) -> Q:
    condition = date_filter("submitted_at", query.get("authored"))
    statuses = query.values("status")
    if statuses and "completed" not in statuses:
        condition &= Q(pk__in=[])
    return condition


SEARCHES: dict[str, Search] = {
    "Patient": Search(
        _patients,
        "created_at",
        "pk",
        lambda rows, base: [fhir.patient(row, base_url=base) for row in rows],
        _identifier("mrn"),
        patient_of=lambda row: row.pk,
    ),
    "Practitioner": Search(
        _practitioners,
        "date_joined",
        "",
        lambda rows, base: [fhir.practitioner(row) for row in rows],
        _identifier("npi"),
        patient_of=lambda row: None,
    ),
    "CareTeam": Search(
        _care_teams,
        "created_at",
        "pk",
        lambda rows, base: [fhir.care_team(row) for row in rows],
        lambda query: Q(is_active=True) if "active" in query.get("status") else Q(),
        patient_of=lambda row: row.pk,
    ),
    "Condition": Search(
        lambda scope, user: Diagnosis.objects.filter(patient__in=scope),
        "recorded_at",
        "patient_id",
        lambda rows, base: [fhir.condition(row) for row in rows],
        lambda query: _status(query, "status"),
    ),
    "AllergyIntolerance": Search(
        lambda scope, user: Allergy.objects.filter(patient__in=scope).select_related("medication"),
        "recorded_at",
        "patient_id",
        lambda rows, base: [fhir.allergy(row) for row in rows],
        lambda query: Q(is_active=query.get("clinical-status")[0] == "active") if query.get("clinical-status") else Q(),
    ),
    "MedicationRequest": Search(
        _medication_requests,
        "created_at",
        "prescription__patient_id",
        _render_medication_requests,
        _medication_request_filters,
        patient_of=lambda row: row.prescription.patient_id,
    ),
    "MedicationStatement": Search(
        lambda scope, user: OutsideMedication.objects.filter(patient__in=scope).select_related("medication"),
        "recorded_at",
        "patient_id",
        lambda rows, base: [fhir.medication_statement(row) for row in rows],
        _outside_filters,
    ),
    "QuestionnaireResponse": Search(
        lambda scope, user: QuestionnaireResponse.objects.filter(patient__in=scope),
        "submitted_at",
        "patient_id",
        lambda rows, base: [fhir.questionnaire_response(row, base_url=base) for row in rows],
        _questionnaire_filters,
    ),
    "Appointment": Search(
        lambda scope, user: Appointment.objects.filter(patient__in=scope).select_related("appointment_type"),
        "created_at",
        "patient_id",
        lambda rows, base: [fhir.appointment(row) for row in rows],
        _appointment_filters,
    ),
}

# Observation reads two tables: questionnaire totals ("qr-<id>") and lab results ("lab-<id>").
SCORES = Search(
    lambda scope, user: QuestionnaireResponse.objects.filter(patient__in=scope),
    "submitted_at",
    "patient_id",
    lambda rows, base: [fhir.score_observation(row, base_url=base) for row in rows],
    id_prefix="qr-",
)
LABS = Search(
    lambda scope, user: LabResult.objects.filter(patient__in=scope),
    "created_at",
    "patient_id",
    lambda rows, base: [fhir.lab_observation(row) for row in rows],
    id_prefix="lab-",
)
RESOURCE_TYPES = (*SEARCHES, "Observation")


def _filtered(search: Search, scope, user, query: Query) -> QuerySet:
    queryset = search.queryset(scope, user)
    ids = query.get("_id")
    if ids:
        queryset = queryset.filter(pk__in=_int_ids(ids, search.id_prefix))
    patient_ids = _patient_ids(query)
    if patient_ids is not None:
        if search.patient_field:
            queryset = queryset.filter(**{f"{search.patient_field}__in": patient_ids})
        else:
            # Only patients the token may read: the care team of anyone else's patient is not the
            # caller's to learn, even among practitioners the caller may see.
            queryset = queryset.filter(_team_of(scope.filter(pk__in=patient_ids)))
    queryset = queryset.filter(date_filter(search.last_updated, query.get("_lastUpdated")))
    return queryset.filter(search.filters(query))


def _observation_parts(query: Query) -> list[tuple[Search, Q]]:
    """The tables an Observation search reads, each with its own filter for category/code/date."""
    categories = query.values("category")
    wanted_codes = {value.rsplit("|", 1)[-1] for value in query.values("code")}
    dates = query.get("date")
    parts = []
    if not categories or "survey" in categories:
        condition = date_filter("submitted_at", dates)
        if wanted_codes:
            matching = [
                code
                for code in instruments.INSTRUMENTS
                if code in wanted_codes or codes.total_loinc(code)[0] in wanted_codes
            ]
            condition &= Q(instrument__in=matching)
        parts.append((SCORES, condition))
    lab_categories = {"laboratory", "vital-signs", "exam"}
    if not categories or categories & lab_categories:
        tests = codes.data()["tests"]
        condition = date_filter("collected_on", dates, dates=True)
        if categories:
            condition &= Q(test_code__in=[t for t, e in tests.items() if e["category"] in categories])
        if wanted_codes:
            condition &= Q(
                test_code__in=[t for t, e in tests.items() if t in wanted_codes or e["loinc"] in wanted_codes]
            )
        parts.append((LABS, condition))
    return parts


def search(
    resource_type: str, scope: QuerySet[Patient], user: User, query: Query, *, base_url: str, counted: bool = True
) -> Page:
    """One page of ``resource_type`` among ``scope``'s records, newest change first. ``counted=False``
    when the page is everything there is (``$everything``): the total is then the rows read, and
    the COUNT query a searchset's ``total`` needs is saved."""
    if resource_type == "Observation":
        return _search_observations(scope, user, query, base_url=base_url, counted=counted)
    spec = SEARCHES[resource_type]
    queryset = _filtered(spec, scope, user, query)
    rows = list(queryset.order_by(f"-{spec.last_updated}", "-pk")[query.offset : query.offset + query.count])
    total = queryset.count() if counted else len(rows)
    patient_ids = {spec.patient_of(row) for row in rows} - {None}
    return Page(spec.render(rows, base_url), total, patient_ids)


def _search_observations(scope, user, query: Query, *, base_url: str, counted: bool = True) -> Page:
    # Each table gives its first offset+count rows; merged newest first, the page is the slice.
    # Two tables, two counts: the query count stays fixed as the record grows.
    ids = query.get("_id")
    merged, total = [], 0
    for spec, condition in _observation_parts(query):
        if ids and not any(part.startswith(spec.id_prefix) for value in ids for part in value.split(",")):
            continue
        queryset = _filtered(spec, scope, user, query).filter(condition)
        rows = list(queryset.order_by(f"-{spec.last_updated}", "-pk")[: query.offset + query.count])
        total += queryset.count() if counted else len(rows)
        merged += [(getattr(row, spec.last_updated), spec, row) for row in rows]
    merged.sort(key=lambda item: (item[0], item[2].pk), reverse=True)
    page = merged[query.offset : query.offset + query.count]
    resources = []
    for spec in (SCORES, LABS):
        rows = [row for _, s, row in page if s is spec]
        resources += list(zip(rows, spec.render(rows, base_url), strict=True))
    order = {id(row): position for position, (_, _, row) in enumerate(page)}
    resources.sort(key=lambda pair: order[id(pair[0])])
    return Page([resource for _, resource in resources], total, {row.patient_id for _, _, row in page})


def searchset(resource_type: str, page: Page, query: Query, *, base_url: str) -> dict:
    """The searchset Bundle of one page, with self/next/previous links that keep the filters."""
    endpoint = f"{base_url.rstrip('/')}/fhir/{resource_type}"

    def link(relation: str, offset: int) -> dict:
        params = [(key, value) for key, values in sorted(query.used.items()) for value in values]
        params += [("_count", query.count), ("_offset", offset)]
        return {"relation": relation, "url": f"{endpoint}?{urlencode(params)}"}

    links = [link("self", query.offset)]
    if query.offset + query.count < page.total:
        links.append(link("next", query.offset + query.count))
    if query.offset > 0:
        links.append(link("previous", max(query.offset - query.count, 0)))
    return bundle(page.resources, base_url=base_url, total=page.total, links=links)


def bundle(resources: list[dict], *, base_url: str, total: int | None = None, links=None) -> dict:
    root = f"{base_url.rstrip('/')}/fhir"
    result = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": fhir.instant(timezone.now()),
        "total": len(resources) if total is None else total,
        "entry": [
            {
                "fullUrl": f"{root}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }
    if links:
        result["link"] = links
    if not result["entry"]:
        del result["entry"]
    return result


def everything_resources(patient: Patient, *, base_url: str, types=RESOURCE_TYPES) -> list[dict]:
    """Every resource of one patient's record (the types given), the patient first. The caller has
    already decided the patient is theirs to read."""
    scope = Patient.objects.filter(pk=patient.pk)
    # Whose view: the patient's own (their care team's practitioners, nobody else's). Unsaved: only
    # the role is read, and reading the record's login would cost a query.
    owner = User(role=User.Role.PATIENT)
    everything = Query({}, count=10**9)
    resources = []
    for resource_type in types:
        if resource_type == "Patient":
            resources.append(fhir.patient(patient, base_url=base_url))
            continue
        # One page holds all of it: no COUNT per type (the Bundle's total is its entries).
        resources += search(resource_type, scope, owner, everything, base_url=base_url, counted=False).resources
    return resources


def everything_bundle(patient: Patient, *, base_url: str) -> dict:
    """``Patient/$everything`` as a JSON-ready dict: the patient's whole record as a searchset Bundle
    (the patient, their care team and its practitioners, diagnoses, allergies, every prescription's
    dose history, outside medicines, scores, lab results, questionnaire answers and appointments).
    Also the patient's downloadable JSON record. A fixed number of queries, whatever the record's size."""
    return bundle(everything_resources(patient, base_url=base_url), base_url=base_url)
