"""The bench generator (issue 7) on PostgreSQL: it loads with the indexes and keys dropped and must
leave the schema exactly as the migrations made it, with a valid audit chain."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from bench import generate
from tests.helpers import require_service

pytestmark = pytest.mark.django_db


def _schema() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, contype FROM pg_constraint"
            " WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
        )
        constraints = cursor.fetchall()
        cursor.execute("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2")
        return constraints + cursor.fetchall()


def test_generated_network_keeps_the_schema_and_a_valid_audit_chain():
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    before = _schema()
    generate.wipe()
    dataset = generate.generate(40, log=lambda message: None)

    assert _schema() == before  # every index, unique, exclusion and foreign key is back
    tables = dataset["tables"]
    assert tables["patients"] == 40
    assert tables["audit_events"] == 40 * generate.PER_PATIENT["audit"]
    assert tables["lab_results"] == 40 * generate.PER_PATIENT["labs"]
    assert tables["prescriptions"] == 40 * generate.PER_PATIENT["prescriptions"]
    assert tables["due_entries"] > 0  # built by the portal's own code after the COPY
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().startswith("OK: 4000 audit rows verified")
    assert generate.existing()["personas"] == dataset["personas"]
