"""The planner's statistics behind the psychiatrist home's "note missing" list
(appointments/migrations/0013): without them it misjudged the partial index appt_unnoted and
chose a parallel scan (docs/performance.md)."""

import pytest
from django.db import connection

from tests.helpers import require_service


@pytest.mark.services
@pytest.mark.django_db
def test_status_and_note_signed_have_extended_statistics():
    require_service("PostgreSQL", connection.vendor == "postgresql")
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT s.stxkind, array_agg(a.attname ORDER BY a.attname)
            FROM pg_statistic_ext s
            JOIN pg_attribute a ON a.attrelid = s.stxrelid AND a.attnum = ANY(s.stxkeys)
            WHERE s.stxname = 'appt_status_note_signed'
            GROUP BY s.stxkind"""
        )
        rows = cursor.fetchall()
    assert len(rows) == 1
    kinds, columns = rows[0]
    assert set(kinds) == {"m", "f"}  # mcv, functional dependencies
    assert columns == ["note_signed", "status"]
