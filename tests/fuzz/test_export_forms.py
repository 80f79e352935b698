"""The clinic exports' date-range forms (GET, issue 23): any query string gives the form with its
errors or a CSV, never a 5xx, and hostile text comes back escaped."""

from __future__ import annotations

import pytest
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.harness import HOSTILE
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

value = st.one_of(
    st.sampled_from(["", "2026-02-30", "9999-12-31", "0001-01-01", "1e9", *HOSTILE]),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=40),
)
query = st.fixed_dictionaries({}, optional={key: value for key in ("start", "end")})


@pytest.mark.parametrize("name", ["records:export_measures", "records:export_schedule"])
def test_export_ranges_never_fail(client, clinic_admin, name):
    log_in(client, clinic_admin)
    url = reverse(name)

    @given(params=query)
    @example(params={"start": "2100-12-31", "end": "9999-12-31"})
    @example(params={"start": "2026-01-01", "end": "2025-01-01"})
    def one(params):
        params = {key: v.replace("\x00", "") for key, v in params.items()}
        response = client.get(url, params)
        assert response.status_code == 200, (params, response.status_code)
        if response.streaming:
            assert response["Content-Type"] == "text/csv; charset=utf-8"
            b"".join(response.streaming_content)
        else:
            html = response.content.decode()
            for sent in params.values():
                if "<" in sent:
                    assert sent not in html, sent

    one()
