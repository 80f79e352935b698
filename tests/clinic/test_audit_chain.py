"""The audit trail is tamper-evident and fails closed.

Each row is hash-chained to the one before it and ``verify_audit`` walks the chain;
on PostgreSQL a trigger refuses UPDATE and DELETE even from raw SQL; an audit insert
that fails takes the request (and the change it was recording) down with it.
"""

from __future__ import annotations

import datetime
import sys
import threading
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.signals import got_request_exception
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEvent
from medications.models import SideEffectReport
from tests import factories
from tests.helpers import log_in, require_service

pytestmark = pytest.mark.django_db
TABLE = AuditEvent._meta.db_table


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def verify() -> str:
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


@contextmanager
def behind_the_orms_back():
    """A cursor that writes to the audit table as an attacker with SQL access would.

    On PostgreSQL the append-only trigger must be disabled first (it is re-enabled,
    and anyway the test's transaction rolls the ALTER back). ALTER TABLE refuses to run
    while deferred foreign-key checks on the fresh rows are pending: run them first.
    """
    with connection.cursor() as cursor:
        if on_postgres():
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER clinic_auditevent_append_only")
        try:
            yield cursor
        finally:
            if on_postgres():
                cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER clinic_auditevent_append_only")


@pytest.fixture
def trail(psychiatrist, patient):
    """Three fresh rows on top of whatever the fixtures themselves audited."""
    return [
        audit.record(AuditEvent.Action.VIEW, actor=psychiatrist, patient=patient, obj=patient),
        audit.record(
            AuditEvent.Action.UPDATE, actor=psychiatrist, patient=patient, obj=patient, detail={"change": "x", "n": 2}
        ),
        audit.record(AuditEvent.Action.LOGOUT, actor=psychiatrist),
    ]


def test_each_row_is_chained_to_the_one_before(trail):
    rows = list(AuditEvent.objects.order_by("id"))
    assert rows[0].prev_hash == audit.GENESIS
    for before, after in zip(rows, rows[1:], strict=False):
        assert after.prev_hash == before.row_hash
    for row in rows:
        assert len(row.row_hash) == 64
        assert row.row_hash == audit.chain_hash(row)  # the stored row hashes as it was written


def test_a_clean_chain_verifies(trail):
    assert verify().startswith(f"OK: {AuditEvent.objects.count()} audit rows verified")


def test_an_empty_trail_verifies(db):
    assert verify().startswith("OK: 0 audit rows verified")


def test_a_row_changed_behind_the_orms_back_is_named(trail):
    victim = trail[1]
    with behind_the_orms_back() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET object_id = %s WHERE id = %s", ["999", victim.pk])

    with pytest.raises(CommandError) as failure:
        verify()
    assert failure.value.returncode == 1
    assert f"row {victim.pk}: hash mismatch" in str(failure.value)


def test_a_rehashed_row_still_breaks_the_next_link(trail):
    victim = trail[0]
    victim.occurred_at = victim.occurred_at - datetime.timedelta(days=1)
    forged = audit.chain_hash(victim)
    with behind_the_orms_back() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET occurred_at = %s, row_hash = %s WHERE id = %s", [victim.occurred_at, forged, victim.pk]
        )

    with pytest.raises(CommandError) as failure:
        verify()
    assert f"row {trail[1].pk}: chain gap" in str(failure.value)


def test_a_deleted_row_is_a_chain_gap(trail):
    with behind_the_orms_back() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [trail[1].pk])

    with pytest.raises(CommandError) as failure:
        verify()
    assert f"row {trail[2].pk}: chain gap" in str(failure.value)


def test_the_chain_cannot_fork(trail):
    """Two rows naming the same predecessor are refused by the database itself."""
    twin = AuditEvent(action=AuditEvent.Action.VIEW, prev_hash=trail[2].prev_hash, row_hash="f" * 64)
    with pytest.raises(DatabaseError), transaction.atomic():
        twin.save(force_insert=True)


def test_recording_costs_one_query_beyond_the_insert(psychiatrist, clinic_admin, patient, django_assert_num_queries):
    with django_assert_num_queries(2):  # lock + chain head, then the insert
        audit.record(AuditEvent.Action.VIEW, actor=clinic_admin, patient=patient, obj=patient)
    with django_assert_num_queries(3):  # a psychiatrist's row about a patient: + their emergency grant, if any
        audit.record(AuditEvent.Action.VIEW, actor=psychiatrist, patient=patient, obj=patient)


def test_postgres_refuses_raw_update_and_delete(trail):
    require_service("PostgreSQL (DATABASE_URL=postgres://...)", on_postgres())
    for statement in (f"UPDATE {TABLE} SET object_id = 'x' WHERE id = %s", f"DELETE FROM {TABLE} WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [trail[0].pk])
    assert AuditEvent.objects.get(pk=trail[0].pk).object_id == trail[0].object_id
    assert AuditEvent.objects.count() >= 3
    assert verify().startswith("OK")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain(psychiatrist, patient):
    """Writers in separate connections and transactions append in turn; the flush
    after this test (TRUNCATE) must get past the append-only trigger."""
    require_service("PostgreSQL (DATABASE_URL=postgres://...)", on_postgres())
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(10):
                with transaction.atomic():
                    audit.record(AuditEvent.Action.VIEW, actor=psychiatrist, patient=patient, obj=patient)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    before = AuditEvent.objects.count()
    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert AuditEvent.objects.count() == before + 40
    assert verify().startswith(f"OK: {before + 40} audit rows verified")


def test_a_failed_audit_insert_fails_the_request_and_keeps_nothing(client, patient, psychiatrist, monkeypatch):
    rx = factories.start(patient, psychiatrist)
    log_in(client, patient.user)
    audited_before = AuditEvent.objects.count()

    def refuse(self, *args, **kwargs):
        raise DatabaseError("audit table unavailable")

    monkeypatch.setattr(AuditEvent, "save", refuse)
    raised: list[BaseException] = []

    def capture(sender, request, **kwargs):
        raised.append(sys.exc_info()[1])

    got_request_exception.connect(capture)
    client.raise_request_exception = False
    response = client.post(
        reverse("medications:my_report_create"),
        {
            "prescription": str(rx.pk),
            "symptoms": ["nausea"],
            "other_symptoms": "",
            "severity": "moderate",
            "onset_date": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
            "ongoing": "yes",
        },
    )

    got_request_exception.disconnect(capture)
    assert response.status_code == 500
    assert [str(error) for error in raised] == ["audit table unavailable"]
    assert not SideEffectReport.objects.exists()
    assert AuditEvent.objects.count() == audited_before
