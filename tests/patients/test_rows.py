"""patients.rows: the chart's short lists compiled once per key, and refused when a key is reused
with other filters (the compiled SQL would silently keep the first call's)."""

import pytest

from patients.models import CareContact
from patients.rows import json_rows


@pytest.mark.django_db
def test_a_key_reused_with_the_same_filters_reads_the_same_sql():
    first = json_rows("test.same", CareContact.objects.filter(is_active=True), ["name"])
    again = json_rows("test.same", CareContact.objects.filter(is_active=True), ["name"])

    assert (first.sql, first.params) == (again.sql, again.params)


@pytest.mark.django_db
def test_a_manager_is_read_as_its_whole_table():
    first = json_rows("test.manager", CareContact.objects, ["name"])
    again = json_rows("test.manager", CareContact.objects.all(), ["name"])

    assert (first.sql, first.params) == (again.sql, again.params)


@pytest.mark.django_db
def test_a_key_reused_with_other_filters_is_refused():
    json_rows("test.other", CareContact.objects.filter(is_active=True), ["name"])

    with pytest.raises(ValueError, match="other filters"):
        json_rows("test.other", CareContact.objects.filter(is_active=False), ["name"])
