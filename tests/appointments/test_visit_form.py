"""Bad ids in the visit note's "side effects reviewed" boxes are refused at the field, on every
database (SQLite cannot bind an integer past 64 bits: the fuzzer found a 500 there)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.models import VisitNote
from tests.helpers import log_in


@pytest.mark.parametrize("value", ["99999999999999999999", "-99999999999999999999", "abc", "0"])
def test_an_impossible_report_id_is_a_form_error_not_a_crash(client, patient, psychiatrist, value):
    log_in(client, psychiatrist)
    data = {
        "visit_at": f"{timezone.localdate():%Y-%m-%d}T10:00",
        "modality": "telehealth",
        "patient_location_state": "NY",
        "interval_history": "Qzphi steady",
        "adherence": "as_prescribed",
        "suicide_risk": "low",
        "violence_risk": "low",
        "side_effects_reviewed": [value],
    }

    response = client.post(reverse("appointments:visit_create", args=[patient.pk]), data)

    assert response.status_code == 200
    assert response.context["form"].errors["side_effects_reviewed"]
    assert "Qzphi steady" in response.content.decode()  # what was typed is kept
    assert not VisitNote.objects.exists()
