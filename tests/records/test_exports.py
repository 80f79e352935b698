"""Issue 23: the clinic's CSV exports — de-identified measurement-based-care data and the
schedule: who may run them, what they hold and leave out, formula safety, the audit row, the form's
errors and the query budget."""

from __future__ import annotations

import csv
import datetime
import io
import itertools

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic import csv_export
from clinic.models import AuditEvent
from records import exports
from tests import factories
from tests.factories import PHI_MARKER
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def _rows(response) -> list[dict]:
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def _range(days_back=400):
    today = timezone.localdate()
    return {"start": (today - datetime.timedelta(days=days_back)).isoformat(), "end": today.isoformat()}


def test_measures_export_is_deidentified_with_dates_shifted_consistently(client, patient, patient2, psychiatrist):
    factories.sertraline_history(patient, psychiatrist)  # PHQ-9 16, 12, 6 over 8 weeks
    log_in(client, psychiatrist)

    rows = _rows(client.get(reverse("records:export_measures"), _range()))

    body = repr(rows)
    for identifier in (PHI_MARKER, patient.legal_first_name, patient.legal_last_name, patient.mrn,
                       patient.date_of_birth.isoformat(), patient.user.email):  # fmt: skip
        assert identifier not in body, identifier
    assert list(rows[0]) == exports.MEASURES_HEADER
    assert [(r["instrument"], r["score"], r["medication_class"]) for r in rows] == [
        ("phq9", "16", "ssri"),
        ("phq9", "12", "ssri"),
        ("phq9", "6", "ssri"),
    ]
    assert len({r["patient"] for r in rows}) == 1 and rows[0]["patient"].startswith("P-")
    # Shifted, by one offset for the patient: the true intervals (4 weeks apart, 8 weeks on the
    # class at the last score) survive.
    shifted = [datetime.date.fromisoformat(r["score_date_shifted"]) for r in rows]
    true_first = timezone.localdate() - datetime.timedelta(weeks=8)
    offset = shifted[0] - true_first
    assert abs(offset.days) <= exports.SHIFT_DAYS
    assert [(d - shifted[0]).days for d in shifted] == [0, 28, 56]
    assert [r["days_on_class"] for r in rows] == ["0", "28", "56"]
    assert {datetime.date.fromisoformat(r["class_started_shifted"]) for r in rows} == {true_first + offset}
    assert rows[0]["age_band"] in {label for _, label in exports.AGE_BANDS} | {"65 and over"}


def test_pseudonyms_differ_between_patients_and_between_exports(client, patient, psychiatrist):
    other = factories.PatientFactory(user=factories.PatientUserFactory(), primary_psychiatrist=psychiatrist)
    factories.submit_phq9(patient, 1)
    factories.submit_phq9(other, 2)
    log_in(client, psychiatrist)

    first = _rows(client.get(reverse("records:export_measures"), _range()))
    second = _rows(client.get(reverse("records:export_measures"), _range()))

    assert len({r["patient"] for r in first}) == 2
    assert not {r["patient"] for r in first} & {r["patient"] for r in second}
    assert all(r["medication_class"] == "none" for r in first)


def test_a_psychiatrist_exports_their_care_team_only_and_an_admin_the_clinic(
    client, patient, patient2, psychiatrist, clinic_admin
):
    factories.submit_phq9(patient, 1)
    factories.submit_phq9(patient2, 3)  # the other psychiatrist's patient
    log_in(client, psychiatrist)
    mine = _rows(client.get(reverse("records:export_measures"), _range()))
    client.logout()
    log_in(client, clinic_admin)
    everyone = _rows(client.get(reverse("records:export_measures"), _range()))

    assert [r["score"] for r in mine] == ["8"]  # eight items at 1
    assert sorted(r["score"] for r in everyone) == ["24", "8"]


def test_break_glass_patients_are_not_in_a_psychiatrists_export(patient2, psychiatrist):
    from patients import break_glass

    factories.submit_phq9(patient2, 3)
    break_glass.start(user=psychiatrist, patient=patient2, reason_code="crisis", reason="Covering an emergency call.")

    assert list(exports.measures_scope(psychiatrist)) == []


def test_each_export_writes_one_audit_row_before_the_first_byte(client, patient, psychiatrist):
    factories.submit_phq9(patient, 1)
    log_in(client, psychiatrist)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = client.get(reverse("records:export_measures"), _range(30))

    (row,) = AuditEvent.objects.filter(id__gt=last)  # written before the body is read
    assert (row.action, row.actor, row.patient) == (AuditEvent.Action.EXPORT, psychiatrist, None)
    assert row.detail == {
        "page": "export_measures", "start": _range(30)["start"], "end": _range(30)["end"],
        "deidentified": True, "patient_count": 1,
    }  # fmt: skip
    assert len(_rows(response)) == 1


def test_schedule_export_for_admins_with_formula_cells_escaped(client, patient, psychiatrist, clinic_admin):
    from appointments.models import AppointmentType

    kind = AppointmentType.objects.create(name='=HYPERLINK("http://evil.example")')
    start = timezone.now() + datetime.timedelta(days=2)
    visit = factories.AppointmentFactory(
        patient=patient, psychiatrist=psychiatrist, appointment_type=kind, start=start,
        end=start + datetime.timedelta(minutes=30),
    )  # fmt: skip
    log_in(client, clinic_admin)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    today = timezone.localdate()

    rows = _rows(
        client.get(
            reverse("records:export_schedule"),
            {"start": today.isoformat(), "end": (today + datetime.timedelta(days=7)).isoformat()},
        )
    )

    assert list(rows[0]) == exports.SCHEDULE_HEADER
    (row,) = rows
    assert row["appointment_type"] == '\'=HYPERLINK("http://evil.example")'
    assert (row["patient"], row["mrn"]) == (patient.display_name, patient.mrn)
    assert row["date"] == timezone.localtime(visit.start).date().isoformat()
    audit = AuditEvent.objects.get(id__gt=last)
    assert audit.action == AuditEvent.Action.EXPORT and audit.detail["patient_ids"] == [patient.pk]


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_every_formula_start_is_escaped(value):
    assert csv_export.safe_cell(value) == "'" + value
    assert csv_export.safe_cell(3) == 3 and csv_export.safe_cell("PHQ-9") == "PHQ-9"


def test_a_psychiatrist_cannot_export_the_schedule(client, psychiatrist):
    log_in(client, psychiatrist)

    assert client.get(reverse("records:export_schedule"), _range(7)).status_code == 403


def test_form_errors_keep_what_was_typed_and_write_no_audit_row(client, clinic_admin):
    log_in(client, clinic_admin)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = client.get(reverse("records:export_schedule"), {"start": "2026-05-10", "end": "2026-05-01"})

    assert response.status_code == 200 and not response.streaming
    assert response.context["form"].errors == {"end": ["The end date is before the start date."]}
    assert b'value="2026-05-10"' in response.content and b'value="2026-05-01"' in response.content
    too_long = client.get(reverse("records:export_schedule"), {"start": "2024-01-01", "end": "2026-01-01"})
    assert too_long.context["form"].errors == {"end": ["Choose at most 366 days."]}
    assert not AuditEvent.objects.filter(id__gt=last).exists()


def test_exports_take_the_same_queries_for_many_patients(client, psychiatrist, clinic_admin, django_assert_num_queries):
    hours = itertools.count(1)

    def clinic_of(size):
        for _ in range(size):
            someone = factories.PatientFactory(user=None, primary_psychiatrist=psychiatrist)
            factories.start(someone, psychiatrist)
            factories.submit_phq9(someone, 1, by=psychiatrist)
            # Inside the exported month whatever the factory's sequence has reached in this process.
            start = timezone.now().replace(microsecond=0) + datetime.timedelta(days=2, hours=next(hours))
            factories.AppointmentFactory(patient=someone, psychiatrist=psychiatrist, start=start)

    def run(name, params) -> int:
        response = client.get(reverse(name), params)
        return len(_rows(response))

    log_in(client, clinic_admin)
    week = {
        "start": timezone.localdate().isoformat(),
        "end": (timezone.localdate() + datetime.timedelta(days=30)).isoformat(),
    }
    clinic_of(2)
    # Measures: * session * user * patient ids (+ audit insert and chain head) * births * classes * scores
    with django_assert_num_queries(8):
        assert run("records:export_measures", _range()) == 2
    # Schedule: * session * user * patient ids (+ audit) * the appointments with their people
    with django_assert_num_queries(6):
        assert run("records:export_schedule", week) == 2
    clinic_of(8)
    with django_assert_num_queries(8):
        assert run("records:export_measures", _range()) == 10
    with django_assert_num_queries(6):
        assert run("records:export_schedule", week) == 10
