"""Every form a patient fills in the portal, fuzzed through its view (tests/fuzz/harness.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.models import Appointment
from appointments.schedule_forms import CancelForm
from clinic.models import ConsentRecord, NotificationPreference
from medications.forms import SideEffectReportForm
from medications.models import SideEffectReport
from notifications.views import ReminderPreferencesForm
from patients import instruments, questionnaires
from patients.measure_forms import QuestionnaireForm
from patients.models import QuestionnaireResponse
from tests import factories
from tests.fuzz import harness
from tests.fuzz.cases import row, snapshot
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, patient):
    log_in(client, patient.user)
    return client


def test_reminder_preferences(signed_in, patient):
    user = patient.user
    fields = harness.form_fields(ReminderPreferencesForm())
    harness.run(signed_in, harness.Case(
        name="ReminderPreferencesForm", url=reverse("reminder_preferences"), fields=fields,
        baseline={"email_enabled": "on", "sms_enabled": "", "sms_phone": "", "quiet_hours_start": "21:00",
                  "quiet_hours_end": "08:00"},
        snapshot=lambda: snapshot(NotificationPreference.objects.filter(user=user).values(
            "email_enabled", "sms_enabled", "sms_phone", "quiet_hours_start", "quiet_hours_end"),
            ConsentRecord.objects.filter(user=user)),
        render_url=lambda: reverse("reminder_preferences"),
    ))  # fmt: skip


PHQ_OUT_OF_RANGE = ["4", "-1", "NaN", "3.0", "1e3", "99999999999999999999"]


def test_questionnaire_fill_by_patient(signed_in, patient, psychiatrist):
    assignment = questionnaires.assign(patient=patient, instrument="gad7", assigned_by=psychiatrist)
    definition = instruments.get("gad7")
    fields = harness.form_fields(QuestionnaireForm(instrument=definition))
    harness.run(signed_in, harness.Case(
        name="QuestionnaireForm (GAD-7, portal)", share=0.5,
        url=reverse("patients:my_questionnaire_fill", args=[assignment.pk]), fields=fields,
        baseline={QuestionnaireForm.name_for(item): "1" for item in definition.items},
        snapshot=lambda: snapshot(QuestionnaireResponse.objects.all()),
        bad={"item_1": PHQ_OUT_OF_RANGE, "item_7": PHQ_OUT_OF_RANGE},
    ))  # fmt: skip


def test_side_effect_report_by_patient(signed_in, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)
    fields = harness.form_fields(SideEffectReportForm(prescriptions=[rx]))
    baseline = {"prescription": str(rx.pk), "symptoms": ["nausea"], "other_symptoms": "Worse in the morning.",
                "severity": "mild", "onset_date": timezone.localdate().isoformat(), "ongoing": "yes"}  # fmt: skip
    harness.run(signed_in, harness.Case(
        name="SideEffectReportForm (portal)", share=0.5, url=reverse("medications:my_report_create"), fields=fields,
        baseline=baseline, snapshot=lambda: snapshot(SideEffectReport.objects.all()),
        stored=lambda: row(SideEffectReport.objects.order_by("-pk").first()),
        render_url=lambda: reverse("medications:my_report_sent"),
    ))  # fmt: skip


def test_cancel_by_patient(signed_in, patient):
    appointment = factories.AppointmentFactory(patient=patient)
    fields = harness.form_fields(CancelForm())
    fields["reason"].required = False  # the view gives an empty reason a default
    harness.run(signed_in, harness.Case(
        name="CancelForm (portal)", share=0.5, url=reverse("appointments:my_cancel", args=[appointment.pk]),
        fields=fields,
        baseline={"reason": "Feeling better, will rebook."}, refusal_status=(302,),
        snapshot=lambda: snapshot(Appointment.objects.filter(pk=appointment.pk)),
        stored=lambda: {"reason": Appointment.objects.get(pk=appointment.pk).cancel_reason},
    ))  # fmt: skip
