"""A small clinic with one of everything, for access and query-count tests."""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from decimal import Decimal

from medications.models import Allergy
from medications.prescribing import PlanStepInput
from patients.models import Diagnosis
from tests import factories


@dataclass
class World:
    patient: object
    evaluation: object
    diagnosis: object
    allergy: object
    prescription: object
    plan: object
    visit: object
    report: object
    appointment: object
    feed: object
    # Safety-net objects (issue 5): each area fills its own in build() below.
    lab_result: object = None
    questionnaire: object = None
    alert: object = None
    outside_medication: object = None
    thread: object = None
    # Issue 21: the therapist with the patient's consent, a summary link sent to them, the plan.
    care_contact: object = None
    share: object = None
    safety_plan: object = None

    @functools.cached_property
    def signed_visit(self):
        """A signed visit note (the one above stays a draft for the edit pages), made only when a
        test asks: signing it tells the patient a summary is ready (an outbox row)."""
        return factories.visit(self.patient, self.visit.author, signed=True, reason_for_patient="To help with sleep.")

    @functools.cached_property
    def record_request(self):
        """The patient's own record, asked for and prepared (issue 23), made only when a test asks:
        preparing it renders the PDF and tells the patient it is ready (an outbox row)."""
        from records import builders, requests

        row = requests.request_record(self.patient, by=self.patient.user, format="pdf")
        return builders.prepare(str(row.pk))

    # Accounts (issue 19): an open staff invitation (its raw token on .token), a psychiatrist not on
    # the patient's team, a second-factor reset of theirs another admin asked for.
    invitation: object = None
    colleague: object = None
    mfa_reset: object = None
    refill: object = None
    patient_reported: object = None


def _appointment(patient, psychiatrist):

    from django.utils import timezone

    from appointments.models import Appointment, AppointmentType

    kind, _ = AppointmentType.objects.get_or_create(name="World follow-up", defaults={"patient_bookable": True})
    start = timezone.now() + datetime.timedelta(days=10)
    return Appointment.objects.create(
        patient=patient, psychiatrist=psychiatrist, appointment_type=kind, start=start,
        end=start + datetime.timedelta(minutes=30), booked_by=psychiatrist,
    )  # fmt: skip


def build(patient, psychiatrist) -> World:
    from clinic.models import CalendarFeed

    rx = factories.start(
        patient,
        psychiatrist,
        titration_steps=[
            PlanStepInput(Decimal(25), 7),
            PlanStepInput(Decimal(50), 14),
            PlanStepInput(Decimal(100), None),
        ],
    )
    world = World(
        patient=patient,
        evaluation=factories.evaluation(patient, psychiatrist),
        diagnosis=Diagnosis.objects.create(
            patient=patient, icd10_code="F33.1", description="MDD, recurrent, moderate", recorded_by=psychiatrist
        ),
        allergy=Allergy.objects.create(patient=patient, substance="Penicillin", recorded_by=psychiatrist),
        prescription=rx,
        plan=rx.plans.get(),
        visit=factories.visit(patient, psychiatrist),
        report=factories.report(patient, prescription=rx),
        appointment=_appointment(patient, psychiatrist),
        feed=CalendarFeed.objects.create(user=patient.user),
    )
    from django.utils import timezone as _tz  # world-labs

    from medications import monitoring as _monitoring

    world.lab_result = _monitoring.record_result(
        patient=patient, test_code="LITHIUM", value="0.8", unit="mmol/L",
        collected_on=_tz.localdate(), entered_by=psychiatrist,
    )[0]  # fmt: skip
    from patients import questionnaires

    # A PHQ-9 taken in a visit (item 9 "not at all"), and a GAD-7 waiting for the patient.
    world.questionnaire = questionnaires.submit(
        patient=patient,
        instrument="phq9",
        answers={str(n): 1 for n in range(1, 9)} | {"9": 0},
        completed_by=psychiatrist,
        context="visit",
    )
    world.questionnaire_assignment = questionnaires.assign(patient=patient, instrument="gad7", assigned_by=psychiatrist)
    from patients import alerts as _alerts  # world-alerts

    world.alert = _alerts.raise_alert(
        patient=patient, level="urgent", reasons=["Any new rash (on lamotrigine)"], source=world.report
    )
    # An over-the-counter drug the patient takes (issue 17): coded, so the checks see it.
    world.outside_medication = factories.outside_medication(patient, psychiatrist, "Advil", source="over the counter")
    from medications import messaging

    # A patient's question (issue 20): a clinical thread, which the front desk may not read.
    world.thread = messaging.start_thread(
        patient=patient, author=patient.user, kind="patient", category="medication",
        subject="Taking it with food", text="Can I take my tablet with breakfast?",
    ).thread  # fmt: skip
    from patients import safety_plans, sharing
    from patients.models import CareContact

    world.care_contact = sharing.set_consent(
        CareContact.objects.create(patient=patient, name="Dana Rivers", email="dana@therapy.example"),
        granted=True,
        by=patient.user,
    )
    world.safety_plan = safety_plans.save_version(
        patient, author=psychiatrist, warning_signs="Not sleeping; pulling away from friends.",
        coping_strategies="A walk with the dog.", professionals="The clinic; 988.",
    )  # fmt: skip
    world.share = sharing.send(world.care_contact, by=psychiatrist)
    from clinic import invitations, staff  # world-accounts

    asking_admin = factories.ClinicAdminFactory()
    world.invitation, token = invitations.invite_staff(
        email=f"invited{asking_admin.pk}@example.test",
        role="psychiatrist",
        first_name="Ina",
        last_name="Vited",
        by=asking_admin,
    )
    world.invitation.token = token
    world.colleague = factories.PsychiatristFactory()
    world.mfa_reset = staff.request_mfa_reset(world.colleague, by=asking_admin)
    from medications import refills as _refills  # world-refills (issue 20)

    world.refill = _refills.request_refill(patient, rx, pharmacy="Main Street Pharmacy", days_left=5, by=patient.user)
    from medications import outside as _outside
    from medications.models import OutsideMedication as _Outside

    # "Something I take", added by the patient and not confirmed yet (issue 20).
    world.patient_reported = _outside.record_from_patient(patient, _Outside(name="melatonin"), by=patient.user)
    # An app the patient allowed through SMART (issue 23): "Connected apps" lists it.
    factories.app_token(patient.user, factories.health_app("Mood diary"))
    return world
