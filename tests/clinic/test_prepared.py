"""clinic.prepared: a queryset compiled once and run with each call's values gives what the
queryset built for those values gives, refuses what it cannot bind safely, and runs on the
calling thread's connection."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections
from django.utils import timezone

from clinic.access import psychiatrist_scope
from clinic.prepared import PROBE_DAY, PROBE_ID, PROBE_MOMENT, PatientIn, Prepared, probe_ids
from patients.models import Patient
from tests import factories
from tests.helpers import require_service


def names_of(user_id, now):
    return psychiatrist_scope(user_id, now).values_list("pk", "legal_last_name")


def born_before(ids, day):
    patients = Patient.objects.filter(PatientIn(ids, "id"), date_of_birth__lt=day)
    return patients.order_by("pk").values_list("pk", flat=True)


@pytest.mark.django_db
def test_each_call_binds_its_own_values_and_matches_the_built_queryset():
    first, second = factories.PsychiatristFactory(), factories.PsychiatristFactory()
    mine = [factories.PatientFactory(primary_psychiatrist=first) for _ in range(3)]
    theirs = [factories.PatientFactory(primary_psychiatrist=second) for _ in range(2)]
    now = timezone.now()
    caseload = Prepared(names_of, user_id=PROBE_ID, now=PROBE_MOMENT)

    for user in (first, second, first):
        assert caseload(user_id=user.pk, now=now) == list(names_of(user.pk, now))
    assert {pk for pk, _ in caseload(user_id=first.pk, now=now)} == {p.pk for p in mine}
    assert {pk for pk, _ in caseload(user_id=second.pk, now=now)} == {p.pk for p in theirs}

    older = Prepared(born_before, ids=probe_ids(), day=PROBE_DAY)
    everyone = [p.pk for p in mine + theirs]
    late, early = datetime.date(2100, 1, 1), datetime.date(1800, 1, 1)
    for ids, day in ((everyone, late), (everyone[:2], late), (everyone, early), ([], late)):
        assert older(ids=ids, day=day) == list(born_before(ids, day))
    assert older(ids=everyone[:2], day=late) == sorted(everyone[:2])
    assert older(ids=everyone, day=early) == []


@pytest.mark.django_db
def test_values_of_another_type_are_refused():
    caseload = Prepared(names_of, user_id=PROBE_ID, now=PROBE_MOMENT)
    with pytest.raises(TypeError, match="user_id"):
        caseload(user_id="7", now=timezone.now())
    with pytest.raises(TypeError, match="now"):
        caseload(user_id=7, now=None)
    with pytest.raises(TypeError, match="expected the values"):
        caseload(user_id=7)


def test_two_inputs_with_the_same_probe_are_refused():
    # A parameter equal to both probes could not be bound to the right one.
    with pytest.raises(ImproperlyConfigured, match="user_id and patient_id"):
        Prepared(lambda user_id, patient_id: Patient.objects.none(), user_id=PROBE_ID, patient_id=PROBE_ID)


@pytest.mark.django_db
def test_a_probe_the_orm_transformed_is_refused_when_compiling():
    require_service("PostgreSQL", connection.vendor == "postgresql")
    # icontains binds '%name%', not the value given: binding the caller's value there would be wrong.
    by_name = Prepared(lambda name: Patient.objects.filter(legal_last_name__icontains=name), name="zz-probe-zz")
    with pytest.raises(ImproperlyConfigured, match="name"):
        by_name(name="Ellis")


@pytest.mark.django_db(transaction=True)
def test_a_query_compiled_on_one_thread_runs_on_the_callers_connection():
    psychiatrist = factories.PsychiatristFactory()
    patients = {factories.PatientFactory(primary_psychiatrist=psychiatrist).pk for _ in range(2)}
    caseload = Prepared(names_of, user_id=PROBE_ID, now=PROBE_MOMENT)
    now = timezone.now()
    assert {pk for pk, _ in caseload(user_id=psychiatrist.pk, now=now)} == patients  # compiled here
    seen, errors = [], []

    def other_thread():
        try:
            seen.extend(pk for pk, _ in caseload(user_id=psychiatrist.pk, now=now))
        except Exception as error:  # a connection of another thread raises DatabaseError
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert errors == []
    assert set(seen) == patients
