"""AUD-6: the privacy officer's review of the audit trail, and patients' "who viewed my record"."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEvent
from tests.factories import ClinicAdminFactory, PsychiatristFactory
from tests.helpers import log_in, require_service

pytestmark = pytest.mark.django_db

PRIVACY_PAGES = ["privacy_audit_log", "privacy_audit_export", "privacy_break_glass"]


@pytest.fixture
def officer(db):
    """A clinic admin made a privacy officer the way the clinic does it: the group."""
    user = ClinicAdminFactory()
    group, _ = Group.objects.get_or_create(name="Privacy officer")
    if not group.permissions.filter(codename="view_audit_log").exists():
        # Transactional tests flush the data migration's rows.
        group.permissions.add(Permission.objects.get(codename="view_audit_log", content_type__app_label="clinic"))
    user.groups.add(group)
    return user


def test_the_migration_creates_the_privacy_officer_group():
    group = Group.objects.get(name="Privacy officer")
    assert list(group.permissions.values_list("codename", flat=True)) == ["view_audit_log"]


@pytest.mark.parametrize("name", PRIVACY_PAGES)
def test_a_clinic_admin_in_the_group_gets_in(client, officer, name):
    log_in(client, officer)
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", PRIVACY_PAGES)
def test_a_superuser_gets_in(client, name):
    log_in(client, ClinicAdminFactory(is_superuser=True, is_staff=True))
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", PRIVACY_PAGES)
def test_a_plain_clinic_admin_and_a_psychiatrist_are_refused(client, clinic_admin, psychiatrist, name):
    log_in(client, clinic_admin)
    assert client.get(reverse(name)).status_code == 403
    client.logout()
    log_in(client, psychiatrist)
    assert client.get(reverse(name)).status_code == 403


def _events(patient, psychiatrist, psychiatrist2, clinic_admin):
    """Three reads of patient on Nov 10, 20 and 30 by different people, one of another patient."""
    made = {}
    for day, actor in ((10, psychiatrist), (20, psychiatrist2), (30, clinic_admin)):
        with time_machine.travel(datetime.datetime(2026, 11, day, 15, tzinfo=datetime.UTC), tick=False):
            made[day] = audit.record(AuditEvent.Action.VIEW, actor=actor, patient=patient, obj=patient)
    return made


def _page_rows(response) -> list[int]:
    return [event.pk for event in response.context["page"]]


def test_filters_by_patient_user_and_date_range(client, officer, patient, patient2, psychiatrist, psychiatrist2):
    made = _events(patient, psychiatrist, psychiatrist2, officer)
    with time_machine.travel(datetime.datetime(2026, 11, 20, 16, tzinfo=datetime.UTC), tick=False):
        other = audit.record(AuditEvent.Action.VIEW, actor=psychiatrist2, patient=patient2, obj=patient2)
    log_in(client, officer)
    url = reverse("privacy_audit_log")

    by_patient = client.get(url, {"patient": patient.pk, "date_from": "2026-11-01", "date_to": "2026-11-30"})
    by_user = client.get(url, {"user": psychiatrist2.pk, "date_from": "2026-11-01"})
    in_range = client.get(url, {"patient": patient.pk, "date_from": "2026-11-15", "date_to": "2026-11-25"})

    assert _page_rows(by_patient) == [made[30].pk, made[20].pk, made[10].pk]
    assert _page_rows(by_user) == [other.pk, made[20].pk]
    assert _page_rows(in_range) == [made[20].pk]


def test_patient_filter_includes_list_pages_that_named_the_patient(client, officer, patient, patient2, psychiatrist):
    # The list-page ids are matched with PostgreSQL's JSON containment.
    require_service("PostgreSQL", connection.vendor == "postgresql")
    request_free = audit.record(
        AuditEvent.Action.VIEW, actor=psychiatrist, detail={"page": "psychiatrist_home", "patient_ids": [patient.pk]}
    )
    audit.record(
        AuditEvent.Action.VIEW, actor=psychiatrist, detail={"page": "psychiatrist_home", "patient_ids": [patient2.pk]}
    )
    log_in(client, officer)

    response = client.get(reverse("privacy_audit_log"), {"patient": patient.pk, "date_from": "2020-01-01"})

    assert request_free.pk in _page_rows(response)
    assert all(event.patient_id in (None, patient.pk) for event in response.context["page"])
    assert len([e for e in response.context["page"] if e.detail.get("patient_ids") == [patient2.pk]]) == 0


def test_the_log_is_paginated(client, officer, patient, psychiatrist):
    for _ in range(55):
        audit.record(AuditEvent.Action.VIEW, actor=psychiatrist, patient=patient, obj=patient)
    log_in(client, officer)
    url = reverse("privacy_audit_log")

    first = client.get(url, {"patient": patient.pk, "date_from": "2020-01-01"})
    second = client.get(url, {"patient": patient.pk, "date_from": "2020-01-01", "page": 2})

    assert len(first.context["page"]) == 50
    assert len(second.context["page"]) == 5
    assert set(_page_rows(first)).isdisjoint(_page_rows(second))


def test_viewing_the_log_is_itself_audited_with_ids_only(client, officer, patient):
    log_in(client, officer)
    last = AuditEvent.objects.order_by("-id").first().pk

    client.get(reverse("privacy_audit_log"), {"patient": patient.pk, "date_from": "2026-11-01"})

    row = AuditEvent.objects.get(pk__gt=last)
    assert (row.action, row.actor, row.patient) == (AuditEvent.Action.VIEW, officer, None)
    assert row.detail["filters"] == {"patient": patient.pk, "date_from": "2026-11-01"}


def test_a_bad_filter_shows_errors_and_no_rows(client, officer, patient, psychiatrist):
    audit.record(AuditEvent.Action.VIEW, actor=psychiatrist, patient=patient, obj=patient)
    log_in(client, officer)

    response = client.get(reverse("privacy_audit_log"), {"date_from": "2026-11-20", "date_to": "2026-11-01"})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert _page_rows(response) == []


def test_csv_export_lists_the_filtered_rows_and_is_audited(client, officer, patient, psychiatrist, psychiatrist2):
    made = _events(patient, psychiatrist, psychiatrist2, officer)
    log_in(client, officer)
    last = AuditEvent.objects.order_by("-id").first().pk

    response = client.get(reverse("privacy_audit_export"), {"patient": patient.pk, "date_from": "2026-11-15"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(row["event_id"]) for row in rows] == [made[30].pk, made[20].pk]
    assert rows[0]["patient_mrn"] == patient.mrn
    export = AuditEvent.objects.get(pk__gt=last)
    assert export.action == AuditEvent.Action.EXPORT
    assert export.detail["rows"] == 2
    assert export.detail["filters"] == {"patient": patient.pk, "date_from": "2026-11-15"}


def test_csv_cells_cannot_start_a_formula(client, officer, psychiatrist, patient):
    audit.record(AuditEvent.Action.LOGIN_FAILED, detail={"attempted_login": "=HYPERLINK(1)"})
    log_in(client, officer)
    response = client.get(reverse("privacy_audit_export"), {"date_from": "2020-01-01"})
    body = b"".join(response.streaming_content).decode()
    assert ',"{""attempted_login"": ""=HYPERLINK(1)""}"' in body  # inside JSON: inert
    assert "\n=" not in body and ",=" not in body


def test_filters_in_the_address_are_ids_and_dates_only(client, officer):
    log_in(client, officer)
    response = client.get(reverse("privacy_audit_log"), {"patient": "Smith"})
    assert response.context["form"].errors["patient"]


# -- Who viewed my record ---------------------------------------------------------------------


def test_patient_sees_staff_views_newest_first_in_their_zone(client, patient, psychiatrist, clinic_admin):
    patient.user.time_zone = "Europe/Paris"
    patient.user.save()
    now = timezone.now()
    with time_machine.travel(now - datetime.timedelta(days=100), tick=False):
        audit.record(AuditEvent.Action.VIEW, actor=psychiatrist, patient=patient, obj=patient)  # too old
    with time_machine.travel(datetime.datetime(2026, 11, 20, 9, 5, tzinfo=datetime.UTC), tick=False):
        older = audit.record(AuditEvent.Action.VIEW, actor=clinic_admin, patient=patient, obj=patient)
    newer = audit.record(AuditEvent.Action.UPDATE, actor=psychiatrist, patient=patient, obj=patient)
    audit.record(AuditEvent.Action.VIEW, actor=patient.user, patient=patient, obj=patient)  # their own
    log_in(client, patient.user)

    response = client.get(reverse("my_record_access"))

    assert response.status_code == 200
    assert _page_rows(response) == [newer.pk, older.pk]
    body = response.content.decode()
    assert psychiatrist.display_name in body
    assert "Psychiatrist / psychiatric NP" in body and "Clinic admin" in body
    year = "" if timezone.now().year == 2026 else ", 2026"  # the year is shown when not this one
    assert f"Fri, Nov 20{year}, 10:05" in body  # 09:05 UTC in Paris


def test_patient_home_links_to_who_viewed_my_record(client, patient):
    log_in(client, patient.user)
    assert reverse("my_record_access") in client.get(reverse("patient_home")).content.decode()


def test_another_patient_sees_nothing_of_it(client, patient, patient2, psychiatrist):
    audit.record(AuditEvent.Action.VIEW, actor=psychiatrist, patient=patient, obj=patient)
    log_in(client, patient2.user)
    assert _page_rows(client.get(reverse("my_record_access"))) == []


def test_privacy_officers_are_found_by_group_permission_and_superuser(officer):
    from patients.break_glass import privacy_officers

    root = ClinicAdminFactory(is_superuser=True)
    direct = PsychiatristFactory()
    direct.user_permissions.add(Permission.objects.get(codename="view_audit_log"))
    ClinicAdminFactory()  # not one
    inactive = ClinicAdminFactory(is_active=False)
    inactive.groups.add(Group.objects.get(name="Privacy officer"))

    assert set(privacy_officers()) == {officer, root, direct}
