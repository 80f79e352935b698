"""Registering a patient at the front desk: one record per person, one MRN per record.

A second registration with a registered patient's name and date of birth shows the possible match
and is stored only once the front desk says it is a different person. MRNs come from a database
sequence on PostgreSQL, so two registrations at the same moment get two numbers.
"""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection, connections
from django.urls import reverse

from patients import record
from patients.models import Patient
from tests import factories
from tests.helpers import log_in, require_service

pytestmark = pytest.mark.django_db


def registration(**overrides) -> dict:
    data = {
        "legal_first_name": "Rosa", "legal_last_name": "Quint", "date_of_birth": "1985-04-02", "sex": "female",
        "email": "rosa.qzphi@example.test", "phone": "+16175550111", "address_line1": "1 Main St", "city": "Boston",
        "region": "MA", "postal_code": "02110", "country": "US", "preferred_language": "en",
        "time_zone": "America/New_York",
    }  # fmt: skip
    data.update(overrides)
    return data


@pytest.fixture
def rosa(db):
    return factories.PatientFactory(
        legal_first_name="Rosa", legal_last_name="Quint", date_of_birth=datetime.date(1985, 4, 2)
    )


def test_a_new_name_is_registered_with_the_next_mrn(client, clinic_admin):
    log_in(client, clinic_admin)

    response = client.post(reverse("patients:register"), registration())

    assert response.status_code == 302
    patient = Patient.objects.get(legal_last_name="Quint")
    assert patient.mrn.startswith("P") and len(patient.mrn) == 7


def test_the_same_name_and_birth_date_shows_the_match_and_asks_first(client, clinic_admin, rosa):
    log_in(client, clinic_admin)

    response = client.post(
        reverse("patients:register"), registration(legal_first_name=" rosa", legal_last_name="QUINT")
    )

    assert response.status_code == 200
    assert Patient.objects.count() == 1
    html = response.content.decode()
    assert rosa.mrn in html  # the possible match, named for the front desk
    assert reverse("patients:edit_demographics", args=[rosa.pk]) in html
    assert "already registered" in " ".join(response.context["form"].errors["different_person"])
    assert 'value="rosa.qzphi@example.test"' in html  # what was typed is kept
    assert 'name="different_person"' in html


def test_a_different_person_with_the_same_name_is_registered_once_confirmed(client, clinic_admin, rosa):
    log_in(client, clinic_admin)

    response = client.post(reverse("patients:register"), registration(different_person="on"))

    assert response.status_code == 302
    assert Patient.objects.filter(legal_last_name="Quint").count() == 2


def test_the_same_name_with_another_birth_date_is_not_a_match(client, clinic_admin, rosa):
    log_in(client, clinic_admin)

    response = client.post(reverse("patients:register"), registration(date_of_birth="1985-04-03"))

    assert response.status_code == 302
    assert Patient.objects.count() == 2


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_registrations_at_the_same_moment_get_two_mrns(clinic_admin, monkeypatch):
    """Each thread has its own connection; both take their MRN before either saves (the barrier in
    save), which is where "the highest MRN + 1" gave both the same number."""
    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    barrier = threading.Barrier(2)
    real_save = Patient.save

    def save_after_both_numbered(self, *args, **kwargs):
        barrier.wait(timeout=10)
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Patient, "save", save_after_both_numbered)
    outcomes: list[str] = []

    def register(first_name):
        try:
            patient = Patient(
                legal_first_name=first_name, legal_last_name="Concurrent", date_of_birth=datetime.date(1990, 1, 1),
                sex="female", email=f"{first_name}@example.test", phone="+16175550100", address_line1="1 Main St",
                city="Boston", region="MA", postal_code="02110", country="US",
            )  # fmt: skip
            outcomes.append(record.register(patient, by=clinic_admin).mrn)
        except Exception as exc:  # surfaced by the assertion
            outcomes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=register, args=(name,)) for name in ("Ana", "Bea")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(outcomes) == 2 and all(o.startswith("P") for o in outcomes), outcomes
    assert len(set(outcomes)) == 2
    assert Patient.objects.filter(legal_last_name="Concurrent").count() == 2
