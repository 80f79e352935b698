"""Mass assignment (ASVS 8.2.3, BOPLA): every form that creates or changes rows takes its
owner, author and state from the request and the URL, never from the POST body.

Each test posts a valid form plus fields naming another persona's objects and privileged
values (EXTRAS), then checks the stored row and that nobody's role or flags moved.
"""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone

from appointments.models import Appointment, AppointmentType, WaitlistEntry, WeeklyAvailability
from clinic.models import NotificationPreference, User
from medications.models import Allergy, LabResult, Prescription, PrescriptionEvent, SideEffectReport
from patients.forms import PatientDemographicsForm
from patients.models import (
    Addendum,
    CareContact,
    Diagnosis,
    Evaluation,
    Patient,
    QuestionnaireAssignment,
    QuestionnaireResponse,
    VisitNote,
)
from tests import clinical_world, factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

LONG_AGO = "2020-01-01T09:00"
PASSPHRASE = "a long enough pass phrase"


@pytest.fixture
def bob(patient2, psychiatrist2):
    """The other patient's world: its ids are what a forged POST body points at."""
    return clinical_world.build(patient2, psychiatrist2)


def extras(bob) -> dict:
    other_user = bob.patient.user.pk
    other_doctor = bob.prescription.prescriber_id
    return {
        "patient": bob.patient.pk,
        "patient_id": bob.patient.pk,
        "prescriber": other_doctor,
        "prescriber_id": other_doctor,
        "psychiatrist": other_doctor,
        "author": other_doctor,
        "recorded_by": other_doctor,
        "reported_by": other_doctor,
        "entered_by": other_doctor,
        "completed_by": other_doctor,
        "booked_by": other_doctor,
        "signed_by": other_doctor,
        "user": other_user,
        "user_id": other_user,
        "role": User.Role.CLINIC_ADMIN,
        "is_staff": "on",
        "is_superuser": "on",
        "is_active": "on",
        "signed_at": LONG_AGO,
        "acknowledged_at": LONG_AGO,
        "status": "signed",
        "mrn": "FORGED-1",
        # Other people's objects named in the body, where a view reads such a key.
        "visit": bob.visit.pk,
        "appointment": bob.appointment.pk,
    }


@pytest.fixture
def users_unchanged(db):
    def snapshot():
        return list(User.objects.order_by("pk").values_list("pk", "role", "is_staff", "is_superuser", "is_active"))

    before = snapshot()
    yield
    assert snapshot() == before


@pytest.fixture
def bob_unchanged(bob):
    """Nothing of Bob's is touched by a request about Alice."""

    def snapshot():
        return {
            "patient": model_to_dict(Patient.objects.get(pk=bob.patient.pk)),
            "prescriptions": list(Prescription.objects.filter(patient=bob.patient).values()),
            "events": PrescriptionEvent.objects.filter(prescription__patient=bob.patient).count(),
            "visits": list(VisitNote.objects.filter(patient=bob.patient).values()),
            "evaluations": list(Evaluation.objects.filter(patient=bob.patient).values()),
            "appointments": list(Appointment.objects.filter(patient=bob.patient).values()),
            "reports": list(SideEffectReport.objects.filter(patient=bob.patient).values()),
            "responses": QuestionnaireResponse.objects.filter(patient=bob.patient).count(),
            "labs": LabResult.objects.filter(patient=bob.patient).count(),
            "diagnoses": Diagnosis.objects.filter(patient=bob.patient).count(),
            "allergies": Allergy.objects.filter(patient=bob.patient).count(),
            "contacts": CareContact.objects.filter(patient=bob.patient).count(),
            "preferences": list(NotificationPreference.objects.filter(user=bob.patient.user).values()),
        }

    before = snapshot()
    yield bob
    assert snapshot() == before


@pytest.fixture
def doctor(client, psychiatrist):
    log_in(client, psychiatrist)
    return client


@pytest.fixture
def alice(client, patient):
    log_in(client, patient.user)
    return client


def day(offset: int = 0) -> str:
    return (timezone.localdate() + datetime.timedelta(days=offset)).isoformat()


# -- The patient's own forms ----------------------------------------------------------------------


def test_side_effect_report_by_the_patient(alice, patient, psychiatrist, bob_unchanged, users_unchanged):
    rx = factories.start(patient, psychiatrist)
    data = {"prescription": str(rx.pk), "symptoms": ["nausea"], "severity": "mild", "onset_date": day(-1),
            "ongoing": "yes", "reported_on_behalf": "on", "triage_level": "routine"}  # fmt: skip

    response = alice.post(reverse("medications:my_report_create"), data | extras(bob_unchanged))

    assert response.status_code == 302
    report = SideEffectReport.objects.get(patient=patient)
    assert (report.reported_by, report.prescription, report.reported_on_behalf) == (patient.user, rx, False)
    assert (report.acknowledged_at, report.acknowledged_by) == (None, None)


def test_a_report_cannot_name_another_patients_prescription(alice, patient, bob_unchanged):
    data = {"prescription": str(bob_unchanged.prescription.pk), "symptoms": ["nausea"], "severity": "mild",
            "onset_date": day(-1), "ongoing": "yes"}  # fmt: skip

    response = alice.post(reverse("medications:my_report_create"), data)

    assert response.status_code == 200
    assert "prescription" in response.context["form"].errors
    assert not SideEffectReport.objects.filter(patient=patient).exists()


def test_questionnaire_filled_by_the_patient(alice, patient, psychiatrist, bob_unchanged, users_unchanged):
    from patients import questionnaires

    assignment = questionnaires.assign(patient=patient, instrument="gad7", assigned_by=psychiatrist)
    answers = {f"item_{n}": "1" for n in range(1, 8)}

    response = alice.post(
        reverse("patients:my_questionnaire_fill", args=[assignment.pk]),
        answers | extras(bob_unchanged) | {"visit_note": bob_unchanged.visit.pk, "context": "visit"},
    )

    assert response.status_code == 200
    stored = QuestionnaireResponse.objects.get(patient=patient)
    assert (stored.completed_by, stored.context, stored.assignment, stored.visit_note) == (
        patient.user,
        "portal",
        assignment,
        None,
    )
    assert stored.total == 7


def test_booking_by_the_patient(client, patient, psychiatrist, bob_unchanged, users_unchanged):
    ny = zoneinfo.ZoneInfo("America/New_York")
    follow_up = AppointmentType.objects.create(name="MA follow-up", duration_minutes=30, patient_bookable=True)
    for weekday in range(5):
        WeeklyAvailability.objects.create(
            psychiatrist=psychiatrist, weekday=weekday, start_time=datetime.time(9), end_time=datetime.time(17)
        )
    User.objects.filter(pk=psychiatrist.pk).update(time_zone="America/New_York")
    start = datetime.datetime(2026, 6, 5, 14, 0, tzinfo=ny)
    with time_machine.travel(datetime.datetime(2026, 6, 1, 8, 0, tzinfo=ny), tick=False):
        log_in(client, patient.user)
        forged = extras(bob_unchanged) | {"status": Appointment.Status.CONFIRMED}
        del forged["appointment"]  # the view's own "reschedule" key is tried below
        response = client.post(
            reverse("appointments:my_book"), {"type": follow_up.pk, "start": start.isoformat()} | forged
        )

        assert response.status_code == 302
        booked = Appointment.objects.get(patient=patient, appointment_type=follow_up)
        assert (booked.psychiatrist, booked.booked_by, booked.status) == (psychiatrist, patient.user, "scheduled")

        moved = client.post(
            reverse("appointments:my_book"),
            {
                "type": follow_up.pk,
                "start": start.replace(hour=15).isoformat(),
                "reschedule": bob_unchanged.appointment.pk,
            },
        )
        assert moved.status_code == 404


def test_reminder_preferences(alice, patient, bob_unchanged, users_unchanged):
    data = {"email_enabled": "on", "sms_phone": "", "quiet_hours_start": "", "quiet_hours_end": ""}

    response = alice.post(reverse("reminder_preferences"), data | extras(bob_unchanged))

    assert response.status_code == 302
    preference = NotificationPreference.objects.get(user=patient.user)
    assert (preference.email_enabled, preference.sms_enabled) == (True, False)


def test_self_signup_cannot_choose_a_role(client, users_unchanged_after_signup, settings):
    settings.TITRATE_SIGNUP_OPEN = True  # off by default (tests/clinic/test_signup.py)
    response = client.post(
        reverse("account_signup"),
        {"email": "newcomer@example.test", "password1": PASSPHRASE, "password2": PASSPHRASE,
         "role": User.Role.PSYCHIATRIST, "is_staff": "on", "is_superuser": "on"},
    )  # fmt: skip

    assert response.status_code == 302
    user = User.objects.get(email="newcomer@example.test")
    assert (user.role, user.is_staff, user.is_superuser) == ("patient", False, False)


@pytest.fixture
def users_unchanged_after_signup(db, patient, psychiatrist):
    before = list(User.objects.order_by("pk").values_list("pk", "role", "is_staff", "is_superuser"))
    yield
    assert list(User.objects.exclude(email="newcomer@example.test").order_by("pk").values_list(
        "pk", "role", "is_staff", "is_superuser")) == before  # fmt: skip


# -- The psychiatrist's forms ---------------------------------------------------------------------


def start_data(**overrides) -> dict:
    return {
        "medication": factories.medication("sertraline").pk, "form": "tablet", "route": "oral",
        "strength_mg": "25", "dose_mg": "25", "frequency": "qam", "extra_instructions": "", "quantity": "30",
        "refills": "1", "start_date": day(-3), "end_date": "", "note": "",
        "steps-TOTAL_FORMS": "0", "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "12",
    } | overrides  # fmt: skip


def test_prescription_start(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    url = reverse("medications:prescription_start", args=[patient.pk]) + f"?visit={bob_unchanged.visit.pk}"

    response = doctor.post(url, start_data() | extras(bob_unchanged) | {"status": "stopped"})

    assert response.status_code == 302
    rx = Prescription.objects.get(patient=patient)
    assert (rx.prescriber, rx.status) == (psychiatrist, "active")
    event = rx.events.get()
    assert (event.actor, event.visit_note) == (psychiatrist, None)


def test_prescription_change(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    rx = factories.start(patient, psychiatrist)
    data = {"dose_mg": "50", "frequency": "qam", "reason": "ineffective", "note": "", "effective_date": day()}

    response = doctor.post(
        reverse("medications:prescription_change", args=[patient.pk, rx.pk]),
        data | extras(bob_unchanged) | {"prescription": bob_unchanged.prescription.pk, "status": "stopped"},
    )

    assert response.status_code == 302
    rx.refresh_from_db()
    assert (rx.patient, rx.prescriber, rx.status, rx.dose_mg) == (patient, psychiatrist, "active", 50)
    event = rx.events.get(kind="dose_changed")
    assert (event.actor, event.visit_note) == (psychiatrist, None)


def visit_data() -> dict:
    return {"visit_at": f"{timezone.localdate():%Y-%m-%d}T10:00", "modality": "telehealth",
            "patient_location_state": "NY", "interval_history": "Doing better.",
            "adherence": "as_prescribed"}  # fmt: skip


def assert_unsigned_draft(note, patient, psychiatrist) -> None:
    note.refresh_from_db()
    assert (note.patient, note.author, note.status) == (patient, psychiatrist, "draft")
    assert (note.signed_at, note.signed_by) == (None, None)


def test_visit_note_create(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    response = doctor.post(
        reverse("appointments:visit_create", args=[patient.pk]), visit_data() | extras(bob_unchanged)
    )

    assert response.status_code == 302
    visit = VisitNote.objects.get(patient=patient)
    assert_unsigned_draft(visit, patient, psychiatrist)
    assert not Appointment.objects.filter(visit_note=visit).exists()  # Bob's visit in the body is not linked


def test_visit_note_edit(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    visit = factories.visit(patient, psychiatrist)

    response = doctor.post(
        reverse("appointments:visit_edit", args=[patient.pk, visit.pk]), visit_data() | extras(bob_unchanged)
    )

    assert response.status_code == 302
    assert_unsigned_draft(visit, patient, psychiatrist)
    assert VisitNote.objects.get(pk=visit.pk).interval_history == "Doing better."


def evaluation_data() -> dict:
    return {"evaluation_date": day(-3), "presenting_symptoms": "Low mood.", "suicide_risk": "low",
            "violence_risk": "low"}  # fmt: skip


def test_evaluation_create(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    response = doctor.post(
        reverse("patients:evaluation_create", args=[patient.pk]), evaluation_data() | extras(bob_unchanged)
    )

    assert response.status_code == 302
    assert_unsigned_draft(Evaluation.objects.get(patient=patient), patient, psychiatrist)


def test_evaluation_edit(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    evaluation = factories.evaluation(patient, psychiatrist)

    response = doctor.post(
        reverse("patients:evaluation_edit", args=[patient.pk, evaluation.pk]), evaluation_data() | extras(bob_unchanged)
    )

    assert response.status_code == 302
    assert_unsigned_draft(evaluation, patient, psychiatrist)
    assert Evaluation.objects.get(pk=evaluation.pk).presenting_symptoms == "Low mood."


def test_diagnosis(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    response = doctor.post(
        reverse("patients:diagnosis_create", args=[patient.pk]),
        {"icd10_code": "F41.1", "onset_date": ""} | extras(bob_unchanged) | {"status": "resolved"},
    )

    assert response.status_code == 302
    diagnosis = Diagnosis.objects.get(patient=patient)
    assert (diagnosis.recorded_by, diagnosis.status, diagnosis.icd10_code) == (psychiatrist, "active", "F41.1")


def test_allergy(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    response = doctor.post(
        reverse("patients:allergy_create", args=[patient.pk]),
        {"substance": "Penicillin", "reaction": "Rash", "severity": "mild"} | extras(bob_unchanged) | {"is_active": ""},
    )

    assert response.status_code == 302
    allergy = Allergy.objects.get(patient=patient)
    assert (allergy.recorded_by, allergy.is_active, allergy.substance) == (psychiatrist, True, "Penicillin")


def test_care_contact(doctor, patient, bob_unchanged, users_unchanged):
    response = doctor.post(
        reverse("patients:care_contact_create", args=[patient.pk]),
        {"kind": "therapist", "name": "Robin Ashdown", "organisation": "", "phone": "", "email": ""}
        | extras(bob_unchanged),
    )

    assert response.status_code == 302
    assert CareContact.objects.get(patient=patient).name == "Robin Ashdown"


def test_lab_result(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    data = {"test": "LITHIUM", "value": "1.8", "unit": "mmol/L", "collected_on": day()}

    response = doctor.post(
        reverse("medications:lab_result_create", args=[patient.pk]),
        data | extras(bob_unchanged) | {"flag": "normal", "level": "routine"},
    )

    assert response.status_code == 302
    result = LabResult.objects.get(patient=patient)
    assert (result.entered_by, result.test_code) == (psychiatrist, "LITHIUM")
    assert (result.flag, result.level) != ("normal", "routine")  # computed from the value, not posted


def test_questionnaire_filled_in_a_visit(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    answers = {f"item_{n}": "1" for n in range(1, 10)}
    url = reverse("patients:questionnaire_fill", args=[patient.pk, "phq9"])

    refused = doctor.post(url, answers | {"visit_note": bob_unchanged.visit.pk})
    assert refused.status_code == 200 and "visit_note" in refused.context["form"].errors
    assert not QuestionnaireResponse.objects.filter(patient=patient).exists()

    response = doctor.post(url, answers | extras(bob_unchanged) | {"context": "portal"})

    assert response.status_code == 302
    stored = QuestionnaireResponse.objects.get(patient=patient)
    assert (stored.completed_by, stored.context, stored.visit_note) == (psychiatrist, "visit", None)


def test_side_effect_report_on_the_patients_behalf(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    data = {"prescription": "not_sure", "symptoms": ["headache"], "severity": "mild", "onset_date": day(-3),
            "ongoing": "no"}  # fmt: skip

    response = doctor.post(reverse("medications:staff_report_create", args=[patient.pk]), data | extras(bob_unchanged))

    assert response.status_code == 302
    report = SideEffectReport.objects.get(patient=patient)
    assert (report.reported_by, report.reported_on_behalf, report.acknowledged_by) == (psychiatrist, True, None)


# -- The front desk's forms -----------------------------------------------------------------------


def demographics(patient) -> dict:
    data = model_to_dict(patient, fields=PatientDemographicsForm._meta.fields)
    return {key: "" if value is None else value for key, value in data.items()}


def test_demographics_edit(client, clinic_admin, patient, bob_unchanged, users_unchanged):
    log_in(client, clinic_admin)
    before = Patient.objects.get(pk=patient.pk)
    data = demographics(patient) | {"preferred_name": "Al"} | extras(bob_unchanged) | {"pregnancy_status": "pregnant"}

    response = client.post(reverse("patients:edit_demographics", args=[patient.pk]), data)

    assert response.status_code == 302
    after = Patient.objects.get(pk=patient.pk)
    assert after.preferred_name == "Al"
    assert (after.user_id, after.mrn, after.pregnancy_status) == (before.user_id, before.mrn, before.pregnancy_status)


def test_registration(client, clinic_admin, patient, bob_unchanged, users_unchanged):
    log_in(client, clinic_admin)
    data = demographics(patient) | {"email": "new.patient@example.test", "legal_first_name": "Newton"}

    response = client.post(
        reverse("patients:register"), data | extras(bob_unchanged) | {"pregnancy_status": "pregnant"}
    )

    assert response.status_code == 302
    new = Patient.objects.get(legal_first_name="Newton")
    assert (new.user, new.pregnancy_status) == (None, "")
    assert new.mrn != "FORGED-1"


# -- Smaller forms: waitlist, asking for a questionnaire, addenda, pregnancy status, replies --------


def test_waitlist_join(alice, patient, psychiatrist, bob_unchanged, users_unchanged):
    kind = AppointmentType.objects.create(name="MA waitlist", duration_minutes=30, patient_bookable=True)

    response = alice.post(
        reverse("appointments:my_waitlist"), {"action": "join", "type": kind.pk} | extras(bob_unchanged)
    )

    assert response.status_code == 302
    entry = WaitlistEntry.objects.get(patient=patient)
    assert (entry.psychiatrist, entry.appointment_type, entry.status) == (psychiatrist, kind, "waiting")


def test_questionnaire_assignment(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    response = doctor.post(
        reverse("patients:questionnaire_list", args=[patient.pk]),
        {"instrument": "gad7", "due_on": day()} | extras(bob_unchanged) | {"status": "completed", "reason": "auto"},
    )

    assert response.status_code == 302
    assignment = QuestionnaireAssignment.objects.get(patient=patient)
    assert (assignment.assigned_by, assignment.status, assignment.reason) == (psychiatrist, "open", "manual")


def test_addendum(doctor, patient, psychiatrist, bob_unchanged, users_unchanged):
    evaluation = factories.evaluation(patient, psychiatrist, signed=True)

    response = doctor.post(
        reverse("patients:evaluation_addendum", args=[patient.pk, evaluation.pk]),
        {"text": "Dose was 50 mg."} | extras(bob_unchanged) | {"evaluation": bob_unchanged.evaluation.pk},
    )

    assert response.status_code == 302
    addendum = Addendum.objects.get(evaluation__patient=patient)
    assert (addendum.author, addendum.evaluation, addendum.visit_note) == (psychiatrist, evaluation, None)


def test_pregnancy_status(doctor, patient, bob_unchanged, users_unchanged):
    response = doctor.post(
        reverse("medications:pregnancy_status", args=[patient.pk]),
        {"pregnancy_status": "not_pregnant"} | extras(bob_unchanged),
    )

    assert response.status_code == 302
    assert Patient.objects.get(pk=patient.pk).pregnancy_status == "not_pregnant"


def test_a_reply_cannot_link_another_patients_medication_change(doctor, patient, psychiatrist, bob):
    from decimal import Decimal

    from medications import prescribing

    other_change = prescribing.change_dose(
        bob.prescription, actor=bob.prescription.prescriber, dose_mg=Decimal(50), reason="ineffective"
    )
    report = factories.report(patient)
    url = reverse("medications:report_detail", args=[patient.pk, report.pk])

    refused = doctor.post(url, {"reply": "Keep going.", "resulting_event": other_change.pk})

    assert refused.status_code == 200 and "resulting_event" in refused.context["form"].errors
    report.refresh_from_db()
    assert (report.replies.count(), report.resulting_event) == (0, None)

    accepted = doctor.post(url, {"reply": "Keep going."} | extras(bob) | {"replied_by": bob.patient.user.pk})

    assert accepted.status_code == 302
    report.refresh_from_db()
    assert [(r.text, r.author) for r in report.replies.all()] == [("Keep going.", psychiatrist)]
    assert report.resulting_event is None
