"""Safety alerts (patients/alerts.py): raising, who hears about it, the psychiatrist home panel,
acknowledgement by the care team only, and the on-call page."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import Alert, AuditEvent, Notification, NotificationPreference
from medications import side_effects
from notifications import messages as outbox_messages
from patients import alerts
from tests import factories
from tests.factories import PsychiatristFactory
from tests.helpers import log_in

pytestmark = pytest.mark.django_db
Kind, Channel = Notification.Kind, Notification.Channel


@pytest.fixture
def report(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="lamotrigine", dose="25", strength="25")
    return factories.report(patient, prescription=rx, symptoms=["headache"], severity="mild")


def raise_on(report, level="urgent", reasons=("Any new rash on lamotrigine",)):
    return alerts.raise_alert(patient=report.patient, level=level, reasons=list(reasons), source=report)


# -- Raising -----------------------------------------------------------------------------------------


def test_routine_stores_nothing_and_returns_none(report):
    assert alerts.raise_alert(patient=report.patient, level="routine", reasons=[], source=report) is None
    assert not Alert.objects.exists()
    assert not Notification.objects.filter(kind=Kind.SAFETY_ALERT).exists()


def test_unknown_level_is_refused(report):
    with pytest.raises(ValueError):
        alerts.raise_alert(patient=report.patient, level="critical", reasons=[], source=report)


def test_alert_stores_level_reasons_source_and_deadline(report, settings):
    settings.TITRATE_ALERT_ESCALATE_MINUTES = 45
    alert = raise_on(report, "emergency", ["Reason one", "Reason two"])

    alert.refresh_from_db()
    assert (alert.patient, alert.level, alert.reasons, alert.source) == (
        report.patient, "emergency", ["Reason one", "Reason two"], report,
    )  # fmt: skip
    assert alert.escalate_after - alert.created_at == datetime.timedelta(minutes=45)
    assert (alert.acknowledged_at, alert.escalated_at, alert.escalated_to) == (None, None, None)
    assert alerts.source_url(alert) == reverse("medications:report_detail", args=[report.patient_id, report.pk])
    event = AuditEvent.objects.get(object_type="clinic.Alert", object_id=str(alert.pk))
    assert event.detail == {"event": "alert_raised", "level": "emergency", "notified": 1}


def test_one_alert_per_source(report):
    first = raise_on(report)
    second = raise_on(report, "emergency")
    assert first == second
    assert Alert.objects.count() == 1
    assert Notification.objects.filter(kind=Kind.SAFETY_ALERT).count() == 2  # in-app + email, once


def test_a_source_without_its_own_page_links_to_the_chart(patient, psychiatrist):
    allergy = patient.allergies.create(substance="Penicillin", recorded_by=psychiatrist)
    alert = alerts.raise_alert(patient=patient, level="urgent", reasons=["x"], source=allergy)
    assert alerts.source_url(alert) == reverse("patients:chart", args=[patient.pk])


def test_primary_and_care_team_psychiatrists_are_told_on_their_channels(report, psychiatrist, psychiatrist2):
    covering = PsychiatristFactory(first_name="Cara")
    inactive = PsychiatristFactory(is_active=False)
    report.patient.care_team.add(covering, inactive)
    NotificationPreference.objects.create(
        user=covering, email_enabled=False, sms_enabled=True, sms_phone="+16175550123"
    )

    raise_on(report)

    rows = Notification.objects.filter(kind=Kind.SAFETY_ALERT)
    assert {(r.recipient, r.channel) for r in rows} == {
        (psychiatrist, Channel.IN_APP), (psychiatrist, Channel.EMAIL),
        (covering, Channel.IN_APP), (covering, Channel.SMS),
    }  # fmt: skip
    assert all(r.patient == report.patient for r in rows)


def test_alerts_go_out_at_once_even_in_quiet_hours(report, psychiatrist):
    now = timezone.now()
    NotificationPreference.objects.create(
        user=psychiatrist,
        quiet_hours_start=(now - datetime.timedelta(hours=1)).time(),
        quiet_hours_end=(now + datetime.timedelta(hours=1)).time(),
        sms_enabled=True,
        sms_phone="+16175550123",
    )
    raise_on(report)
    rows = Notification.objects.filter(kind=Kind.SAFETY_ALERT)
    assert rows.count() == 3
    assert all(r.send_at <= timezone.now() for r in rows)


def test_a_patient_without_a_psychiatrist_escalates_at_the_next_sweep(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)
    report = factories.report(patient, prescription=rx)
    patient.primary_psychiatrist = None
    patient.save(update_fields=["primary_psychiatrist"])
    alert = raise_on(report)
    assert alert.escalate_after <= timezone.now()
    assert not Notification.objects.filter(kind=Kind.SAFETY_ALERT).exists()


def test_submitting_an_emergency_report_raises_the_alert(patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="bupropion", dose="150", strength="150")
    report = factories.report(patient, symptoms=["seizure"], severity="moderate")
    alert = Alert.objects.get()
    assert (report.triage_level, alert.level, alert.source) == ("emergency", "emergency", report)


def test_a_routine_report_raises_no_alert(patient, psychiatrist):
    factories.start(patient, psychiatrist)
    factories.report(patient, symptoms=["nausea"], severity="mild")
    assert not Alert.objects.exists()


# -- The psychiatrist home and the alert list ------------------------------------------------------


def test_home_shows_open_alerts_at_the_top(client, report, psychiatrist):
    alert = raise_on(report, "emergency", ["Seizure on bupropion"])
    log_in(client, psychiatrist)

    page = client.get(reverse("psychiatrist_home")).content.decode()

    assert "Safety alerts — act today" in page
    assert page.index("Safety alerts") < page.index("Needs attention")
    assert "Seizure on bupropion" in page
    assert reverse("alert_acknowledge", args=[alert.pk]) in page


def test_home_hides_acknowledged_alerts_and_other_psychiatrists_alerts(client, report, psychiatrist, patient2):
    mine = raise_on(report)
    alerts.acknowledge(mine, actor=psychiatrist)
    rx2 = factories.start(patient2, patient2.primary_psychiatrist)
    other = factories.report(patient2, prescription=rx2)
    alerts.raise_alert(patient=patient2, level="urgent", reasons=["Bob's alert"], source=other)
    log_in(client, psychiatrist)

    page = client.get(reverse("psychiatrist_home")).content.decode()

    assert "Safety alerts — act today" not in page
    assert "Bob's alert" not in page


def test_alert_list_shows_open_first_then_acknowledged(client, report, psychiatrist, patient):
    done = raise_on(report, "urgent", ["Old one"])
    alerts.acknowledge(done, actor=psychiatrist)
    second = factories.report(patient, symptoms=["seizure"])
    open_alert = Alert.objects.get(source_id=str(second.pk))
    log_in(client, psychiatrist)

    response = client.get(reverse("alerts"))

    assert list(response.context["open_alerts"]) == [open_alert]
    assert list(response.context["done_alerts"]) == [done]


# -- Acknowledging ---------------------------------------------------------------------------------


def test_care_team_acknowledges_with_a_post_and_it_is_audited(client, report, psychiatrist):
    alert = raise_on(report)
    log_in(client, psychiatrist)

    response = client.post(reverse("alert_acknowledge", args=[alert.pk]), {"next": reverse("psychiatrist_home")})

    assert response.status_code == 302 and response["Location"] == reverse("psychiatrist_home")
    alert.refresh_from_db()
    assert alert.acknowledged_by == psychiatrist and alert.acknowledged_at is not None
    event = AuditEvent.objects.get(object_type="clinic.Alert", object_id=str(alert.pk), action="update")
    assert event.actor == psychiatrist and event.detail["change"] == "acknowledged"


def test_shared_care_psychiatrist_may_acknowledge(client, report, psychiatrist2):
    report.patient.care_team.add(psychiatrist2)
    alert = raise_on(report)
    log_in(client, psychiatrist2)
    assert client.post(reverse("alert_acknowledge", args=[alert.pk])).status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == psychiatrist2


def test_other_psychiatrist_gets_404_and_nothing_changes(client, report, psychiatrist2):
    alert = raise_on(report)
    log_in(client, psychiatrist2)
    assert client.post(reverse("alert_acknowledge", args=[alert.pk])).status_code == 404
    assert client.post(reverse("alert_acknowledge", args=[alert.pk + 1000])).status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


@pytest.mark.parametrize("who", ["patient", "clinic_admin"])
def test_patients_and_front_desk_cannot_acknowledge(client, report, who, clinic_admin):
    alert = raise_on(report)
    log_in(client, report.patient.user if who == "patient" else clinic_admin)
    assert client.post(reverse("alert_acknowledge", args=[alert.pk])).status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_acknowledge_is_post_only(client, report, psychiatrist):
    alert = raise_on(report)
    log_in(client, psychiatrist)

    response = client.get(reverse("alert_acknowledge", args=[alert.pk]))

    assert (response.status_code, response["Location"]) == (302, reverse("alerts"))
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_acknowledging_twice_keeps_the_first(client, report, psychiatrist):
    alert = raise_on(report)
    assert alerts.acknowledge(alert, actor=psychiatrist) is True
    first = Alert.objects.get().acknowledged_at
    assert alerts.acknowledge(alert, actor=psychiatrist) is False
    assert Alert.objects.get().acknowledged_at == first
    assert AuditEvent.objects.filter(object_type="clinic.Alert", action="update").count() == 1


def test_an_outside_next_url_is_ignored(client, report, psychiatrist):
    alert = raise_on(report)
    log_in(client, psychiatrist)
    response = client.post(reverse("alert_acknowledge", args=[alert.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("alerts")


def test_acknowledging_or_answering_the_report_acknowledges_its_alert(report, psychiatrist, patient):
    alert = raise_on(report)
    side_effects.acknowledge(report, actor=psychiatrist)
    alert.refresh_from_db()
    assert alert.acknowledged_by == psychiatrist

    second = factories.report(patient, symptoms=["any_rash"])
    other = Alert.objects.get(source_id=str(second.pk))
    side_effects.reply(second, actor=psychiatrist, text="Please stop lamotrigine and come in today.")
    other.refresh_from_db()
    assert other.acknowledged_by == psychiatrist


# -- Messages ----------------------------------------------------------------------------------------


def test_in_app_text_links_to_the_alert_list(report, psychiatrist):
    raise_on(report)
    row = Notification.objects.get(kind=Kind.SAFETY_ALERT, channel=Channel.IN_APP)
    text, link = outbox_messages.in_app_text(row)
    assert link == reverse("alerts")
    assert "Safety alert" in text


# -- The on-call page --------------------------------------------------------------------------------


def test_on_call_page_lists_alerts_escalated_to_the_viewer(client, report, settings, psychiatrist2):
    settings.TITRATE_ON_CALL_EMAIL = psychiatrist2.email
    alert = raise_on(report, "emergency", ["Seizure"])
    Alert.objects.filter(pk=alert.pk).update(escalate_after=timezone.now() - datetime.timedelta(minutes=1))
    assert alerts.escalate_overdue() == [alert.pk]
    log_in(client, psychiatrist2)

    response = client.get(reverse("alerts_on_call"))

    assert list(response.context["escalated"]) == [alert]
    assert "Seizure" in response.content.decode()  # a clinician sees why
    # One row for the page, naming the patients it listed (tests/clinic/test_audit_per_view.py).
    row = AuditEvent.objects.filter(action="view", actor=psychiatrist2).latest("id")
    assert row.detail == {"page": "on_call", "patient_ids": [alert.patient_id]}


def test_on_call_page_shows_clinic_admins_unassigned_escalations_without_reasons(
    client, report, settings, clinic_admin, psychiatrist
):
    settings.TITRATE_ON_CALL_EMAIL = ""
    alert = raise_on(report, "emergency", ["Seizure"])
    Alert.objects.filter(pk=alert.pk).update(escalate_after=timezone.now() - datetime.timedelta(minutes=1))
    alerts.escalate_overdue()
    log_in(client, clinic_admin)
    response = client.get(reverse("alerts_on_call"))
    assert list(response.context["escalated"]) == [alert]
    assert "Seizure" not in response.content.decode()

    client.post(reverse("account_logout"))
    log_in(client, psychiatrist)
    assert list(client.get(reverse("alerts_on_call")).context["escalated"]) == []
