"""Bulk-generate the synthetic clinic network with COPY (docs/performance.md, "Data set").

Per patient (proportions from issue 7): 20 appointments, 5 prescriptions with 15 events,
25 side-effect reports, 15 questionnaire responses, 50 lab results, 50 notifications,
100 audit rows; 60 psychiatrists per 20,000 patients; and the last patient has five years of
history on top (LONG_HISTORY, the `$everything` timing of issue 23). Ids are assigned here and sequences
reset afterwards, so rows can reference each other without round trips. Audit rows carry a
valid hash chain (clinic.audit.chain_hash, computed here in id order): the table refuses
UPDATE, so the hashes must be right on the way in.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import random
import time
import uuid
from contextlib import contextmanager
from decimal import Decimal

from django.db import connection, models, transaction
from django.utils import timezone

from appointments.models import Appointment, AppointmentType, sync_note_signed
from clinic import audit, metrics_count
from clinic.models import AuditEvent, Notification, NotificationPreference, User
from medications import due
from medications.models import (
    Allergy,
    LabResult,
    Medication,
    Message,
    MessageThread,
    Prescription,
    PrescriptionEvent,
    SideEffectReport,
    ThreadRead,
)
from patients import instruments
from patients.models import Diagnosis, Evaluation, Patient, QuestionnaireAssignment, QuestionnaireResponse, VisitNote

BENCH_DOMAIN = "bench.titrate.test"
BENCH_MRN_PREFIX = "BENCH-"
DEMO_DOMAIN = "demo.titrate.test"
DEMO_MRN_PREFIX = "DEMO-"
# Rows a pipeline run creates: appointment reminders on three channels, all due at once.
PIPELINE_TYPE = "Bench check-in"
PIPELINE_CHANNELS = 3
PIPELINE_NOTIFICATIONS_PER_PATIENT = 5  # 100,000 at the default 20,000 patients

PER_PATIENT = {
    "appointments": 20,
    "prescriptions": 5,
    "events_per_prescription": 3,
    "side_effects": 25,
    "message_threads": 5,
    "messages_per_thread": 4,  # 20 messages per patient (issue 20)
    "responses": 15,
    "labs": 50,
    "notifications": 50,
    "audit": 100,
}
# The long-history persona (issue 23: `$everything` is timed for a patient with five years of
# history): the last bench patient gets, on top of the typical history above, a long course of
# LONG_HISTORY["years"] years, a row every so many days per kind (long_history() below).
LONG_HISTORY = {
    "years": 5,
    "dose_change_days": 60,  # a dose event every ~2 months on each course
    "questionnaire_days": 21,  # PHQ-9 and GAD-7 every 3 weeks
    "lab_days": 91,  # the five tests every quarter
    "visit_days": 30,  # a visit a month, most with a signed note
    "side_effect_days": 60,
}
LAB_TESTS = [("WEIGHT", "kg"), ("SBP", "mmHg"), ("DBP", "mmHg"), ("LITHIUM", "mmol/L"), ("ANC", "10^9/L")]
SYMPTOMS = ["nausea", "headache", "insomnia", "drowsiness", "dizziness", "dry_mouth", "weight_gain"]


# Every table the generator COPYs into (bare_tables drops their indexes for the load).
LOADED = [
    User,
    Patient,
    NotificationPreference,
    Diagnosis,
    Evaluation,
    Allergy,
    Prescription,
    PrescriptionEvent,
    SideEffectReport,
    MessageThread,
    Message,
    ThreadRead,
    QuestionnaireAssignment,
    QuestionnaireResponse,
    LabResult,
    Appointment,
    VisitNote,
    Notification,
    AuditEvent,
]


class UnsafeDatabase(Exception):
    """The database holds rows that are neither demo nor bench data."""


def foreign_rows() -> dict[str, int]:
    """Users and patients that neither seed_demo nor this generator made."""
    users = User.objects.exclude(email__endswith=f"@{DEMO_DOMAIN}").exclude(email__endswith=f"@{BENCH_DOMAIN}")
    patients = Patient.objects.exclude(mrn__startswith=DEMO_MRN_PREFIX).exclude(mrn__startswith=BENCH_MRN_PREFIX)
    return {"users": users.count(), "patients": patients.count()}


def refuse_real_data() -> None:
    found = foreign_rows()
    if any(found.values()):
        raise UnsafeDatabase(
            f"Refusing to run: the database holds non-demo data ({found['users']} users, {found['patients']} "
            "patients that are neither demo nor bench rows). Point DATABASE_URL at a scratch database."
        )


# Tables whose rows come from data migrations (the formulary, default appointment types) are kept.
KEEP_TABLES = {"django_migrations", "django_content_type", "auth_permission", "medications_medication"}


def wipe() -> None:
    """Empty every table except migration-made reference data. Only called after refuse_real_data()."""
    with connection.cursor() as cursor:
        tables = [t for t in connection.introspection.table_names(cursor) if t not in KEEP_TABLES]
        tables = [t for t in tables if t != "appointments_appointmenttype"]
        # TRUNCATE is not an UPDATE/DELETE: the audit table's append-only trigger allows it.
        cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
        cursor.execute("DELETE FROM appointments_appointmenttype WHERE name = %s", [PIPELINE_TYPE])


# -- COPY helper ----------------------------------------------------------------------------------


class Copier:
    """COPY rows into one model's table. ``fields`` are attnames; other columns get their default.
    JSON columns are serialised here unless ``json_ready`` (the rows carry JSON text already)."""

    def __init__(self, model: type[models.Model], fields: list[str], *, json_ready: bool = False):
        self.model = model
        concrete = [f for f in model._meta.concrete_fields]
        by_attname = {f.attname: f for f in concrete}
        missing = [f for f in concrete if f.attname not in fields]
        self.json_positions = [
            i for i, name in enumerate(fields) if isinstance(by_attname[name], models.JSONField) and not json_ready
        ]
        self.tail = tuple(self._default(f) for f in missing)
        columns = [by_attname[name].column for name in fields] + [f.column for f in missing]
        quoted = ", ".join(f'"{column}"' for column in columns)
        self.sql = f'COPY "{model._meta.db_table}" ({quoted}) FROM STDIN'
        self.count = 0

    @staticmethod
    def _default(field):
        value = field.get_default()
        if isinstance(field, models.JSONField):
            return json.dumps(value)
        return value

    def write(self, rows) -> int:
        tail, json_positions = self.tail, self.json_positions
        with connection.cursor() as cursor, cursor.cursor.copy(self.sql) as copy:
            for row in rows:
                if json_positions:
                    row = list(row)
                    for i in json_positions:
                        row[i] = json.dumps(row[i])
                copy.write_row((*row, *tail))
                self.count += 1
        return self.count


def reset_sequences(*models_: type[models.Model]) -> None:
    with connection.cursor() as cursor:
        for model in models_:
            table = model._meta.db_table  # a model's own table name, not input
            sql = f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), COALESCE(MAX(id), 1)) FROM \"{table}\""  # noqa: S608
            cursor.execute(sql)


# -- The data set ---------------------------------------------------------------------------------


class Audit:
    """A row-shaped object for clinic.audit.chain_hash (it reads attributes only)."""

    __slots__ = (
        "occurred_at",
        "actor_id",
        "actor_role",
        "patient_id",
        "action",
        "object_type",
        "object_id",
        "ip_address",
        "user_agent",
        "detail",
        "prev_hash",
    )

    def __init__(self, **fields):
        for name, value in fields.items():
            setattr(self, name, value)


def generate(patients: int, *, seed: int = 7, log=print) -> dict:
    """Build the network; returns {"patients", "rows", "seconds", "tables": {...}, "personas": {...}}.

    One transaction: the loaded tables lose their secondary indexes and foreign keys for the COPY
    and get them back, built once in bulk and validated in one pass each, before the commit; an
    error rolls all of it back, DDL included."""
    started = time.monotonic()

    def timed(message: str) -> None:
        log(f"{message} [{time.monotonic() - started:.0f} s]")

    with transaction.atomic(), bare_tables(LOADED, log=timed):
        result = _generate(patients, seed=seed, log=timed)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    timed(f"  analyzed; {result['rows']:,} rows")
    # The psychiatrist home reads precomputed due lists, which COPY does not maintain: build them
    # with the portal's own code (what the hourly planner does), as part of the data set's time.
    due_entries = due.rebuild()
    sync_note_signed()  # the home's "note missing" flag, as the 10-minute planner would
    with connection.cursor() as cursor:
        # Both written after the ANALYZE above: the planner's statistics must see them as
        # autovacuum would (appt_status_note_signed, appointments/migrations/0013).
        cursor.execute("ANALYZE medications_dueentry")
        cursor.execute("ANALYZE appointments_appointment")
    result["tables"]["due_entries"] = due_entries
    result["rows"] += due_entries
    timed(f"  due entries {due_entries}")
    # The metrics pages add up the nightly count's days (clinic.metrics_count): count them as the
    # nightly task would have, so the pages are timed as on any day after the clinic's first night.
    counted = metrics_count.count()
    timed(f"  clinic metrics counted for {counted} days")
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


@contextmanager
def bare_tables(loaded: list[type[models.Model]], log=print):
    """Drop the tables' foreign keys, secondary indexes and unique constraints (but those a foreign
    key of another table needs) for a bulk load, and recreate them afterwards: an index built once
    from sorted rows is several times cheaper than 6 million single-row insertions into it (the
    audit chain's unique index on random hashes above all), and a foreign key validated in one
    join is cheaper than a trigger per row. Call inside a transaction."""
    tables = [m._meta.db_table for m in loaded]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype
            FROM pg_constraint c
            WHERE c.conrelid = ANY(%s::regclass[]) AND (c.contype = 'f' OR (c.contype IN ('u', 'x') AND NOT EXISTS (
                SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)))
            ORDER BY c.contype = 'f', c.conname
            """,
            [tables],
        )
        constraints = cursor.fetchall()  # unique and exclusion constraints first, foreign keys last
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        for table, name, _, _ in reversed(constraints):  # foreign keys first
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    log(f"  dropped {len(constraints)} constraints and {len(indexes)} indexes for the load")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        log(f"  rebuilt {len(indexes)} indexes")
        for table, name, definition, _ in constraints:  # unique ones first: foreign keys may need them
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        log(f"  restored {len(constraints)} constraints")


def _response_time(now, p: int, k: int) -> datetime.datetime:
    """When patient index ``p``'s questionnaire ``k`` (a PHQ-9 or GAD-7) was submitted, newest first."""
    return now - datetime.timedelta(days=14 * k + 2, minutes=p % 300)


def _thread_times(now, p: int, k: int) -> list[datetime.datetime]:
    """When the messages of patient index ``p``'s thread ``k`` were written, 3 hours apart. The
    first is the psychiatrist's in the open thread (k = 0), the second in the others: the first
    response the threads (and the second report, whose thread is k = 1) record."""
    started = now - datetime.timedelta(days=k * 30 + 2, minutes=p % 600)
    return [started + datetime.timedelta(hours=3 * j) for j in range(PER_PATIENT["messages_per_thread"])]


def _messages(patients: int, now, patient_user0: int, psych_of) -> dict[str, int]:
    """Per patient, 5 threads of 4 messages (20 messages): the newest thread open and waiting for
    the psychiatrist (the patient wrote last, unread), the others done; the second one is the thread
    of the patient's second side-effect report (its replies, as medications 0021 moved them)."""
    thread_copy = Copier(
        MessageThread,
        ["id", "patient_id", "kind", "category", "subject", "side_effect_report_id", "created_by_id", "created_at",
         "last_message_at", "last_author_id", "last_from_patient", "triage_level", "done_at", "done_by_id",
         "first_response_at"],
    )  # fmt: skip
    message_copy = Copier(
        Message, ["id", "thread_id", "author_id", "from_patient", "text", "created_at", "triage_level", "language"]
    )
    read_copy = Copier(ThreadRead, ["id", "thread_id", "user_id", "read_at"])
    categories = ["medication", "side_effect", "refill", "scheduling", "other"]
    per_thread, threads_each = PER_PATIENT["messages_per_thread"], PER_PATIENT["message_threads"]
    thread_rows, message_rows, read_rows = [], [], []
    for p in range(patients):
        me, doctor = patient_user0 + p, psych_of(p)
        for k in range(threads_each):
            tid = p * threads_each + k + 1
            open_ = k == 0
            # An open thread ends with the patient's message; a done one with the psychiatrist's.
            authors = [doctor, me] * (per_thread // 2) if open_ else [me, doctor] * (per_thread // 2)
            times = _thread_times(now, p, k)
            started = times[0]
            for j, (author, at) in enumerate(zip(authors, times, strict=True)):
                message_rows.append(
                    (tid * per_thread - per_thread + j + 1, tid, author, author == me, f"Message {j + 1}", at,
                     "routine", "en")
                )  # fmt: skip
            last = times[-1]
            report = p * PER_PATIENT["side_effects"] + 2 if k == 1 else None
            thread_rows.append(
                (tid, p + 1, "patient", "side_effect" if report else categories[k], f"Subject {k + 1}", report, me,
                 started, last, authors[-1], open_, "routine", None if open_ else last, None if open_ else doctor,
                 times[authors.index(doctor)])
            )  # fmt: skip
            # The patient has read everything; the psychiatrist all but an open thread's last message.
            read_rows.append((2 * tid - 1, tid, me, last))
            read_rows.append((2 * tid, tid, doctor, times[-2] if open_ else last))
    return {
        "message_threads": thread_copy.write(thread_rows),
        "messages": message_copy.write(message_rows),
        "thread_reads": read_copy.write(read_rows),
    }


def _long_history(
    ids: dict[str, int],
    *,
    patient: int,
    user: int,
    psych: int,
    admin: int,
    drugs: list[int],
    templates: list,
    visit_type: int,
    now,
) -> dict[str, int]:
    """The long-history persona's extra rows (LONG_HISTORY), COPYed after the typical ones: ``ids``
    holds each table's last id so far (the generator numbers every table from 1). ``drugs`` are
    formulary drugs the patient has no other prescription of. Past only: no future visit adds to
    the reminder pipeline's figures."""
    cadence = LONG_HISTORY
    span = 365 * cadence["years"] + 1
    today = now.date()
    begin = today - datetime.timedelta(days=span)

    def at(day: int, hour: int = 7) -> datetime.datetime:
        # 07:00 UTC: before every psychiatrist's generated diary (09-17), so no visit overlaps one.
        return datetime.datetime.combine(begin + datetime.timedelta(days=day), datetime.time(hour), tzinfo=datetime.UTC)

    counts: dict[str, int] = {}
    dx = [
        ("F41.1", "Generalized anxiety disorder", "active", begin + datetime.timedelta(days=200), None),
        ("F51.01", "Primary insomnia", "resolved", begin, begin + datetime.timedelta(days=400)),
    ]
    counts["diagnoses"] = Copier(
        Diagnosis,
        ["id", "patient_id", "icd10_code", "description", "status", "onset_date", "resolved_date", "recorded_by_id",
         "recorded_at"],
    ).write(
        (ids["diagnoses"] + k + 1, patient, code, text, status, onset, resolved, psych, at(0))
        for k, (code, text, status, onset, resolved) in enumerate(dx)
    )  # fmt: skip
    counts["allergies"] = Copier(
        Allergy,
        ["id", "patient_id", "medication_id", "substance", "reaction", "severity", "is_active", "recorded_by_id",
         "recorded_at"],
    ).write(
        [
            (ids["allergies"] + 1, patient, drugs[4], "Drug named in the formulary", "Rash", "severe", True, psych,
             at(3)),
            (ids["allergies"] + 2, patient, None, "Penicillin", "Hives", "moderate", True, psych, at(3)),
        ]
    )  # fmt: skip

    # Four courses in turn: (first day, last day or None while active, why it stopped).
    courses = [(0, 540, "ineffective"), (545, None, ""), (900, 1080, "side_effect"), (1200, None, "")]
    doses = [Decimal(d) for d in ("50", "100", "150", "200", "150", "100")]
    rx_rows, ev_rows = [], []
    ev_id = ids["prescription_events"]
    for k, (first, last, reason) in enumerate(courses):
        rx_id = ids["prescriptions"] + k + 1
        stop = span - 1 if last is None else last
        previous = None
        for j, day in enumerate(range(first, stop, cadence["dose_change_days"])):
            dose = doses[j % len(doses)]
            why = "new_start" if previous is None else ("titration_step" if dose > previous else "taper_step")
            ev_id += 1
            on = begin + datetime.timedelta(days=day)
            ev_rows.append((ev_id, rx_id, "dose_changed" if previous else "started", previous, dose,
                            "qd" if previous else "", "qd", on, why, psych, at(day)))  # fmt: skip
            previous = dose
        if last is not None:
            ev_id += 1
            on = begin + datetime.timedelta(days=last)
            ev_rows.append((ev_id, rx_id, "discontinued", previous, None, "qd", "", on, reason, psych, at(last)))
        rx_rows.append((rx_id, patient, drugs[k], psych, "tablet", Decimal("50"), previous, "qd",
                        "Take as directed once daily", 30, begin + datetime.timedelta(days=first),
                        None if last is None else begin + datetime.timedelta(days=last),
                        "active" if last is None else "discontinued", reason, at(first)))  # fmt: skip
    counts["prescriptions"] = Copier(
        Prescription,
        ["id", "patient_id", "medication_id", "prescriber_id", "form", "strength_mg", "dose_mg", "frequency", "sig",
         "quantity", "start_date", "end_date", "status", "discontinue_reason", "created_at"],
    ).write(rx_rows)  # fmt: skip
    counts["prescription_events"] = Copier(
        PrescriptionEvent,
        ["id", "prescription_id", "kind", "from_dose_mg", "to_dose_mg", "from_frequency", "to_frequency",
         "effective_date", "reason", "actor_id", "created_at"],
    ).write(ev_rows)  # fmt: skip

    def course_on(day: int) -> int:  # the prescription a report on ``day`` is about
        taking = [k for k, (first, last, _) in enumerate(courses) if first <= day and (last is None or day <= last)]
        return ids["prescriptions"] + (taking[-1] if taking else 0) + 1

    reports = []
    for k, day in enumerate(range(30, span - 1, cadence["side_effect_days"])):
        created = at(day, 19)
        answered = created + datetime.timedelta(hours=4)  # acknowledged: the first response
        reports.append((ids["side_effect_reports"] + k + 1, patient, course_on(day), [SYMPTOMS[k % len(SYMPTOMS)]],
                        ["mild", "moderate", "mild"][k % 3], created.date(), False, user, created,
                        answered, psych, answered))  # fmt: skip
    counts["side_effect_reports"] = Copier(
        SideEffectReport,
        ["id", "patient_id", "prescription_id", "symptoms", "severity", "onset_date", "ongoing", "reported_by_id",
         "created_at", "acknowledged_at", "acknowledged_by_id", "first_response_at"],
    ).write(reports)  # fmt: skip

    # Scores that improve over the years: the worst band first, the mildest for the last quarter.
    days = list(range(2, span - 1, cadence["questionnaire_days"]))
    by_code = {code: [t for t in templates if t[0] == code] for code in ("phq9", "gad7")}
    responses, qid = [], ids["questionnaire_responses"]
    for n, day in enumerate(days):
        level = 3 - min(3, 4 * n // len(days))
        for offset, code in enumerate(("phq9", "gad7")):
            _, answers, total, band = by_code[code][level]
            qid += 1
            responses.append((qid, patient, code, answers, total, band, user, "portal", at(day, 18 + offset)))
    counts["questionnaire_responses"] = Copier(
        QuestionnaireResponse,
        ["id", "patient_id", "instrument", "answers", "total", "band", "completed_by_id", "context", "submitted_at"],
    ).write(responses)
    # The persona's last measurement, if later than its typical history's (questionnaires.submit's rule).
    latest = max(row[-1] for row in responses)
    Patient.objects.filter(pk=patient, last_measured_at__lt=latest).update(last_measured_at=latest)

    labs, lid = [], ids["lab_results"]
    for n, day in enumerate(range(10, span - 1, cadence["lab_days"])):
        for code, unit in LAB_TESTS:
            value = Decimal(60 + (n * 3) % 30) if code != "LITHIUM" else Decimal("0.7")
            lid += 1
            labs.append((lid, patient, code, value, unit, value, unit, begin + datetime.timedelta(days=day), "none",
                         psych, at(day, 16)))  # fmt: skip
    counts["lab_results"] = Copier(
        LabResult,
        ["id", "patient_id", "test_code", "value", "unit", "canonical_value", "canonical_unit", "collected_on", "flag",
         "entered_by_id", "created_at"],
    ).write(labs)  # fmt: skip

    appts, notes = [], []
    aid, nid = ids["appointments"], ids["visit_notes"]
    for n, day in enumerate(range(15, span - 1, cadence["visit_days"])):
        start = at(day)
        aid += 1
        cancelled = n % 10 == 9
        note = None
        if not cancelled:
            nid += 1
            note = nid
            notes.append((nid, patient, psych, "signed", start, psych, start,
                          f"Month {n + 1}: mood and sleep reviewed; dose plan discussed.", start, start))  # fmt: skip
        appts.append((aid, patient, psych, visit_type, start, start + datetime.timedelta(minutes=30),
                      "cancelled" if cancelled else "completed", admin, start - datetime.timedelta(days=21),
                      start - datetime.timedelta(days=2) if cancelled else None,
                      "Patient asked to move it" if cancelled else "", note))  # fmt: skip
    counts["visit_notes"] = Copier(
        VisitNote,
        ["id", "patient_id", "author_id", "status", "signed_at", "signed_by_id", "visit_at", "interval_history",
         "created_at", "updated_at"],
    ).write(notes)  # fmt: skip
    counts["appointments"] = Copier(
        Appointment,
        ["id", "patient_id", "psychiatrist_id", "appointment_type_id", "start", "end", "status", "booked_by_id",
         "created_at", "cancelled_at", "cancel_reason", "visit_note_id"],
    ).write(appts)  # fmt: skip
    return counts


def _generate(patients: int, *, seed: int, log) -> dict:
    started = time.monotonic()
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    today = now.date()
    counts: dict[str, int] = {}
    n_psych = max(2, round(patients * 60 / 20000))
    medications = list(Medication.objects.filter(is_psychotropic=True).order_by("id").values_list("id", flat=True))
    if len(medications) < 2 * PER_PATIENT["prescriptions"]:  # the long-history persona needs 5 more
        raise RuntimeError("The formulary is not loaded (medications migration 0003).")
    password = "!bench-unusable"  # an unusable password: nobody logs in to bench accounts with one

    # Users: psychiatrists 1..P, one clinic admin, then one login per patient.
    user_copy = Copier(User, ["id", "email", "first_name", "last_name", "role", "password", "date_joined"])
    psych_ids = list(range(1, n_psych + 1))
    admin_id = n_psych + 1
    patient_user0 = n_psych + 2

    def users():
        for i in psych_ids:
            yield (i, f"psychiatrist{i}@{BENCH_DOMAIN}", "Psy", f"Chiatrist{i:03d}", "psychiatrist", password, now)
        yield (admin_id, f"admin@{BENCH_DOMAIN}", "Front", "Desk", "clinic_admin", password, now)
        for p in range(patients):
            yield (
                patient_user0 + p,
                f"patient{p + 1}@{BENCH_DOMAIN}",
                "Pat",
                f"Ient{p + 1:06d}",
                "patient",
                password,
                now,
            )

    counts["users"] = user_copy.write(users())
    log(f"  users {counts['users']}")

    def psych_of(p: int) -> int:  # patient index 0.. -> psychiatrist id
        return psych_ids[p % n_psych]

    patient_copy = Copier(
        Patient,
        [
            "id",
            "user_id",
            "legal_first_name",
            "legal_last_name",
            "date_of_birth",
            "sex",
            "email",
            "mrn",
            "primary_psychiatrist_id",
            "created_at",
            "last_measured_at",
        ],
    )
    sexes = ["female", "male", "female", "male", "unknown"]
    counts["patients"] = patient_copy.write(
        (
            p + 1,
            patient_user0 + p,
            "Pat",
            f"Ient{p + 1:06d}",
            datetime.date(1950 + p % 50, 1 + p % 12, 1 + p % 28),
            sexes[p % 5],
            f"patient{p + 1}@{BENCH_DOMAIN}",
            f"{BENCH_MRN_PREFIX}{p + 1:06d}",
            psych_of(p),
            now,
            # What questionnaires.submit records: the latest PHQ-9/GAD-7, the first of responses().
            _response_time(now, p, 0),
        )
        for p in range(patients)
    )
    pref_copy = Copier(
        NotificationPreference, ["id", "user_id", "email_enabled", "sms_enabled", "sms_phone", "updated_at"]
    )
    counts["preferences"] = pref_copy.write(
        (p + 1, patient_user0 + p, True, True, "+15555550100", now) for p in range(patients)
    )
    dx_copy = Copier(
        Diagnosis, ["id", "patient_id", "icd10_code", "description", "status", "recorded_by_id", "recorded_at"]
    )
    counts["diagnoses"] = dx_copy.write(
        (p + 1, p + 1, "F33.1", "Major depressive disorder, recurrent, moderate", "active", psych_of(p), now)
        for p in range(patients)
    )
    eval_copy = Copier(
        Evaluation,
        [
            "id",
            "patient_id",
            "author_id",
            "status",
            "signed_at",
            "signed_by_id",
            "evaluation_date",
            "presenting_symptoms",
            "created_at",
            "updated_at",
        ],
    )
    counts["evaluations"] = eval_copy.write(
        (
            p + 1,
            p + 1,
            psych_of(p),
            "signed",
            now,
            psych_of(p),
            today - datetime.timedelta(days=400),
            "Low mood and poor sleep.",
            now,
            now,
        )
        for p in range(patients)
    )
    log(f"  patients {patients}, psychiatrists {n_psych}")

    # Prescriptions: 2 active (distinct drugs), 3 discontinued; 3 events each.
    rx_copy = Copier(
        Prescription,
        [
            "id",
            "patient_id",
            "medication_id",
            "prescriber_id",
            "form",
            "strength_mg",
            "dose_mg",
            "frequency",
            "sig",
            "quantity",
            "start_date",
            "end_date",
            "status",
            "discontinue_reason",
            "created_at",
        ],
    )
    ev_copy = Copier(
        PrescriptionEvent,
        [
            "id",
            "prescription_id",
            "kind",
            "from_dose_mg",
            "to_dose_mg",
            "from_frequency",
            "to_frequency",
            "effective_date",
            "reason",
            "actor_id",
            "created_at",
        ],
    )
    rx_rows, ev_rows, active_rx = [], [], {}
    rx_id = ev_id = 0
    for p in range(patients):
        drugs = rng.sample(medications, PER_PATIENT["prescriptions"])
        if p == patients - 1:  # the long-history persona's own courses use other drugs
            long_drugs = [drug for drug in medications if drug not in drugs][:5]
        for k, drug in enumerate(drugs):
            rx_id += 1
            active = k < 2
            start = today - datetime.timedelta(days=rng.randint(60, 700))
            end = None if active else start + datetime.timedelta(days=rng.randint(20, 50))
            rx_rows.append(
                (
                    rx_id,
                    p + 1,
                    drug,
                    psych_of(p),
                    "tablet",
                    Decimal("50"),
                    Decimal("100"),
                    "qd",
                    "Take 2 tablets by mouth once daily",
                    60,
                    start,
                    end,
                    "active" if active else "discontinued",
                    "" if active else "ineffective",
                    now,
                )
            )
            if active:
                active_rx.setdefault(p, []).append(rx_id)
            steps = [
                ("started", None, Decimal("50"), "new_start"),
                ("dose_changed", Decimal("50"), Decimal("100"), "titration_step"),
                ("dose_changed", Decimal("100"), Decimal("100"), "stable")
                if active
                else ("discontinued", Decimal("100"), None, "ineffective"),
            ]
            for j, (kind, frm, to, reason) in enumerate(steps):
                ev_id += 1
                ev_rows.append(
                    (
                        ev_id,
                        rx_id,
                        kind,
                        frm,
                        to,
                        "qd" if frm else "",
                        "qd" if to else "",
                        start + datetime.timedelta(days=10 * j),
                        reason,
                        psych_of(p),
                        now,
                    )
                )
    counts["prescriptions"] = rx_copy.write(rx_rows)
    counts["prescription_events"] = ev_copy.write(ev_rows)
    del rx_rows, ev_rows
    log(f"  prescriptions {counts['prescriptions']}, events {counts['prescription_events']}")

    # Side-effect reports: 1 in 25 still unacknowledged (the inbox), the rest answered.
    ser_copy = Copier(
        SideEffectReport,
        [
            "id",
            "patient_id",
            "prescription_id",
            "symptoms",
            "severity",
            "onset_date",
            "ongoing",
            "reported_by_id",
            "created_at",
            "acknowledged_at",
            "acknowledged_by_id",
            "first_response_at",
        ],
    )
    severities = ["mild", "mild", "moderate", "severe"]

    def reports():
        rid = 0
        for p in range(patients):
            for k in range(PER_PATIENT["side_effects"]):
                rid += 1
                created = now - datetime.timedelta(days=k * 20 + 1, minutes=p % 600)
                open_ = k == 0
                acknowledged = None if open_ else created + datetime.timedelta(hours=5)
                # The first response: the acknowledgement, or the first reply in the report's thread
                # if earlier (the second report's thread is the patient's thread 1, _messages).
                first = min(acknowledged, _thread_times(now, p, 1)[1]) if k == 1 else acknowledged
                yield (
                    rid,
                    p + 1,
                    active_rx[p][k % 2],
                    [SYMPTOMS[(p + k) % len(SYMPTOMS)]],
                    severities[(p + k) % 4],
                    created.date(),
                    open_,
                    patient_user0 + p,
                    created,
                    acknowledged,
                    None if open_ else psych_of(p),
                    first,
                )

    counts["side_effect_reports"] = ser_copy.write(reports())
    log(f"  side-effect reports {counts['side_effect_reports']}")

    counts |= _messages(patients, now, patient_user0, psych_of)
    log(f"  message threads {counts['message_threads']}, messages {counts['messages']}")

    # Questionnaires: scored answer sets computed once by the real scorer, reused.
    phq9, gad7 = instruments.get("phq9"), instruments.get("gad7")
    templates = []
    for instrument in (phq9, gad7):
        for level in range(4):
            answers = {}
            for item in instrument.items:
                options = item.options
                # Item 9 (thoughts of self-harm) stays "not at all": the bench is not a triage test.
                answers[item.key] = options[0].value if item.key == "9" else options[min(level, len(options) - 1)].value
            result = instrument.score(answers)
            templates.append((instrument.code, result.answers, result.total, result.band))
    qa_copy = Copier(
        QuestionnaireAssignment, ["id", "patient_id", "instrument", "due_on", "reason", "status", "created_at"]
    )
    counts["questionnaire_assignments"] = qa_copy.write(
        (p + 1, p + 1, "phq9", today + datetime.timedelta(days=3), "schedule", "open", now) for p in range(patients)
    )
    qr_copy = Copier(
        QuestionnaireResponse,
        ["id", "patient_id", "instrument", "answers", "total", "band", "completed_by_id", "context", "submitted_at"],
    )

    def responses():
        qid = 0
        for p in range(patients):
            for k in range(PER_PATIENT["responses"]):
                qid += 1
                code, answers, total, band = templates[(p + k) % len(templates)]
                yield (
                    qid,
                    p + 1,
                    code,
                    answers,
                    total,
                    band,
                    patient_user0 + p,
                    "portal",
                    _response_time(now, p, k),
                )

    counts["questionnaire_responses"] = qr_copy.write(responses())
    log(f"  questionnaire responses {counts['questionnaire_responses']}")

    lab_copy = Copier(
        LabResult,
        [
            "id",
            "patient_id",
            "test_code",
            "value",
            "unit",
            "canonical_value",
            "canonical_unit",
            "collected_on",
            "flag",
            "entered_by_id",
            "created_at",
        ],
    )

    def labs():
        lid = 0
        for p in range(patients):
            for k in range(PER_PATIENT["labs"]):
                lid += 1
                code, unit = LAB_TESTS[k % len(LAB_TESTS)]
                value = Decimal(60 + (p + k) % 40)
                yield (
                    lid,
                    p + 1,
                    code,
                    value,
                    unit,
                    value,
                    unit,
                    today - datetime.timedelta(days=7 * (k // 5) + 1),
                    "none",
                    psych_of(p),
                    now,
                )

    counts["lab_results"] = lab_copy.write(labs())
    log(f"  lab results {counts['lab_results']}")

    # Appointments: a past diary per psychiatrist (30 min, weekdays 09-17 UTC), most completed
    # with a signed visit note; plus the pipeline's check-ins over the next 13 days.
    pipeline_type = AppointmentType.objects.create(
        name=PIPELINE_TYPE, duration_minutes=15, reminder_offsets_hours=[14 * 24], patient_bookable=False
    )
    visit_type = AppointmentType.objects.filter(is_active=True).exclude(pk=pipeline_type.pk).order_by("id").first()
    upcoming_total = -(-patients * PIPELINE_NOTIFICATIONS_PER_PATIENT // PIPELINE_CHANNELS)
    appt_copy = Copier(
        Appointment,
        [
            "id",
            "patient_id",
            "psychiatrist_id",
            "appointment_type_id",
            "start",
            "end",
            "status",
            "booked_by_id",
            "created_at",
            "cancelled_at",
            "cancel_reason",
            "visit_note_id",
        ],
    )
    note_copy = Copier(
        VisitNote,
        [
            "id",
            "patient_id",
            "author_id",
            "status",
            "signed_at",
            "signed_by_id",
            "visit_at",
            "interval_history",
            "created_at",
            "updated_at",
        ],
    )
    appt_rows, note_rows = [], []
    aid = nid = 0
    by_psych: dict[int, list[int]] = {}
    for p in range(patients):
        by_psych.setdefault(psych_of(p), []).append(p)
    midnight = datetime.datetime.combine(today, datetime.time(0, 0), tzinfo=datetime.UTC)
    for index, psych in enumerate(psych_ids):
        mine = by_psych.get(psych, [])
        if not mine:
            continue
        upcoming = upcoming_total // n_psych + (1 if index < upcoming_total % n_psych else 0)
        past = max(0, len(mine) * PER_PATIENT["appointments"] - upcoming)
        day, made = midnight - datetime.timedelta(days=1), 0
        while made < past:
            if day.weekday() < 5:
                for slot in range(16):
                    if made >= past:
                        break
                    start = day + datetime.timedelta(hours=9, minutes=30 * slot)
                    p = mine[made % len(mine)]
                    aid += 1
                    made += 1
                    roll = (aid * 7) % 10
                    status = "completed" if roll < 7 else ("cancelled" if roll < 9 else "no_show")
                    note_id = None
                    if status == "completed":
                        nid += 1
                        note_id = nid
                        note_rows.append(
                            (
                                nid,
                                p + 1,
                                psych,
                                "signed",
                                start,
                                psych,
                                start,
                                "Doing better; sleep improved.",
                                start,
                                start,
                            )
                        )
                    appt_rows.append(
                        (
                            aid,
                            p + 1,
                            psych,
                            visit_type.pk,
                            start,
                            start + datetime.timedelta(minutes=30),
                            status,
                            admin_id,
                            start - datetime.timedelta(days=14),
                            start - datetime.timedelta(days=2) if status == "cancelled" else None,
                            "Patient asked to move it" if status == "cancelled" else "",
                            note_id,
                        )
                    )
            day -= datetime.timedelta(days=1)
        made, day = 0, midnight + datetime.timedelta(days=1)
        while made < upcoming:
            for slot in range(48):  # 08:00-20:00 UTC, every 15 minutes
                if made >= upcoming:
                    break
                start = day + datetime.timedelta(hours=8, minutes=15 * slot)
                aid += 1
                appt_rows.append(
                    (
                        aid,
                        mine[made % len(mine)] + 1,
                        psych,
                        pipeline_type.pk,
                        start,
                        start + datetime.timedelta(minutes=15),
                        "scheduled",
                        admin_id,
                        now,
                        None,
                        "",
                        None,
                    )
                )
                made += 1
            day += datetime.timedelta(days=1)
            if day > midnight + datetime.timedelta(days=13):
                raise RuntimeError("Too many check-ins for the 14-day planner horizon; raise the slots per day.")
    # The notes first: each completed appointment points at its note (Appointment.visit_note).
    counts["visit_notes"] = note_copy.write(note_rows)
    counts["appointments"] = appt_copy.write(appt_rows)
    del appt_rows, note_rows
    log(f"  appointments {counts['appointments']} ({upcoming_total} check-ins), visit notes {counts['visit_notes']}")

    # Notification history: delivered reminders and in-app messages, newest first per patient.
    notif_copy = Copier(
        Notification,
        [
            "id",
            "idempotency_key",
            "kind",
            "channel",
            "recipient_id",
            "patient_id",
            "send_at",
            "expires_at",
            "status",
            "attempts",
            "sent_at",
            "read_at",
            "created_at",
        ],
    )
    channels = ["email", "in_app", "sms", "in_app", "email"]

    def notifications():
        key = 0
        for p in range(patients):
            for k in range(PER_PATIENT["notifications"]):
                key += 1
                sent = now - datetime.timedelta(days=3 * k + 1, minutes=p % 700)
                channel = channels[k % len(channels)]
                yield (
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    f"bench-history:{key}",
                    "appointment_reminder",
                    channel,
                    patient_user0 + p,
                    p + 1,
                    sent,
                    sent + datetime.timedelta(days=2),
                    "sent",
                    1,
                    sent,
                    sent + datetime.timedelta(hours=2) if channel == "in_app" else None,
                    sent,
                )

    counts["notifications"] = notif_copy.write(notifications())
    log(f"  notifications {counts['notifications']}")

    # Audit rows, hash-chained in id order after whatever the chain already holds.
    audit_copy = Copier(
        AuditEvent,
        [
            "id",
            "occurred_at",
            "actor_id",
            "actor_role",
            "patient_id",
            "action",
            "object_type",
            "object_id",
            "ip_address",
            "user_agent",
            "detail",
            "prev_hash",
            "row_hash",
        ],
        json_ready=True,
    )
    total_audit = patients * PER_PATIENT["audit"]
    first = now - datetime.timedelta(days=730)
    step = datetime.timedelta(days=729) / max(total_audit, 1)
    pages = ["chart", "patient_home", "my_questionnaires"]

    # clinic.audit.canonical() of these rows, written as a template: json.dumps per row was most of
    # the generator's Python time at 2 million rows. Checked against canonical() below.
    template = (
        '{{"action":"view","actor_id":{actor},"actor_role":"{role}","detail":{{"page":"{page}"}},'
        '"ip_address":"10.0.0.1","object_id":"{patient}","object_type":"patients.Patient",'
        '"occurred_at":"{at}","patient_id":{patient},"prev_hash":"{prev}",'
        '"user_agent":"Mozilla/5.0 (bench)","v":' + json.dumps(audit.CHAIN_VERSION) + "}}"
    )

    details = {page: json.dumps({"page": page}) for page in pages}

    def audit_rows():
        prev = audit.GENESIS
        sha256 = hashlib.sha256
        for i in range(total_audit):
            p = (i * 7919) % patients
            staff = i % 3 != 1
            actor = psych_of(p) if staff else patient_user0 + p
            role = "psychiatrist" if staff else "patient"
            occurred_at = first + step * i
            page = pages[i % 3]
            payload = template.format(
                actor=actor,
                role=role,
                page=page,
                patient=p + 1,
                at=occurred_at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                prev=prev,
            ).encode()
            if i % 10_000 == 0:  # the template must stay what the chain verifier computes
                event = Audit(
                    occurred_at=occurred_at,
                    actor_id=actor,
                    actor_role=role,
                    patient_id=p + 1,
                    action="view",
                    object_type="patients.Patient",
                    object_id=str(p + 1),
                    ip_address="10.0.0.1",
                    user_agent="Mozilla/5.0 (bench)",
                    detail={"page": page},
                    prev_hash=prev,
                )
                if audit.canonical(event) != payload:
                    raise RuntimeError("bench audit template differs from clinic.audit.canonical")
            row_hash = sha256(payload).hexdigest()
            yield (
                i + 1,
                occurred_at,
                actor,
                role,
                p + 1,
                "view",
                "patients.Patient",
                str(p + 1),
                "10.0.0.1",
                "Mozilla/5.0 (bench)",
                details[page],
                prev,
                row_hash,
            )
            prev = row_hash

    if AuditEvent.objects.exists():
        raise RuntimeError("The audit table is not empty; the generated chain must start at genesis.")
    counts["audit_events"] = audit_copy.write(audit_rows())
    log(f"  audit events {counts['audit_events']}")

    persona = patients - 1
    long_counts = _long_history(
        {table: counts.get(table, 0) for table in ("diagnoses", "allergies", "prescriptions", "prescription_events",
         "side_effect_reports", "questionnaire_responses", "lab_results", "appointments", "visit_notes")},
        patient=persona + 1, user=patient_user0 + persona, psych=psych_of(persona), admin=admin_id, drugs=long_drugs,
        templates=templates, visit_type=visit_type.pk, now=now,
    )  # fmt: skip
    for table, rows in long_counts.items():
        counts[table] = counts.get(table, 0) + rows
    log(f"  long-history patient {persona + 1}: {sum(long_counts.values())} more rows")

    reset_sequences(*(model for model in LOADED if model is not Notification))  # uuid keys: no sequence
    seconds = time.monotonic() - started
    return {
        "patients": patients,
        "rows": sum(counts.values()),
        "seconds": round(seconds, 1),
        "tables": counts,
        "personas": {
            "psychiatrist": psych_ids[0],
            "admin": admin_id,
            "patient": 1,  # patient 1 belongs to psychiatrist 1 and has the typical (equal) history
            "patient_user": patient_user0,
            "thread": 1,  # patient 1's open thread, waiting for psychiatrist 1
            # The last patient, with LONG_HISTORY's five years on top (the `$everything` timing).
            "history_patient": persona + 1,
            "history_patient_user": patient_user0 + persona,
        },
        "long_history": long_counts,
        "pipeline_appointments": upcoming_total,
    }


def existing() -> dict:
    """The personas of a data set generated earlier (BENCH_PARTS without generate)."""
    psychiatrist = User.objects.filter(role=User.Role.PSYCHIATRIST, email__endswith=BENCH_DOMAIN).order_by("pk")
    admin = User.objects.filter(role=User.Role.CLINIC_ADMIN, email__endswith=BENCH_DOMAIN).order_by("pk")
    first = Patient.objects.order_by("pk").values_list("pk", "user_id").first()
    last = Patient.objects.order_by("-pk").values_list("pk", "user_id").first()
    if first is None or not psychiatrist.exists():
        raise SystemExit("No bench data set in this database: run with BENCH_PARTS including generate first.")
    return {
        "patients": Patient.objects.count(),
        "rows": None,
        "seconds": None,
        "personas": {
            "psychiatrist": psychiatrist.first().pk,
            "admin": admin.first().pk,
            "patient": first[0],
            "patient_user": first[1],
            "thread": MessageThread.objects.filter(patient_id=first[0]).order_by("pk").values_list("pk", flat=True)[0],
            "history_patient": last[0],
            "history_patient_user": last[1],
        },
    }


def forget_pipeline() -> None:
    """Remove a previous pipeline run's reminders so the planner makes them again."""
    Notification.objects.filter(idempotency_key__startswith="appt-reminder:").delete()
