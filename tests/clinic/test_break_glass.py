"""Break-glass: a psychiatrist outside the care team opens a chart only by stating a reason;
the access is time-boxed, every audit row under it is flagged, privacy officers are told."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.access import get_patient_for, patients_for
from clinic.models import AuditEvent, BreakGlassGrant, Notification
from notifications import messages as outbox_messages
from notifications import outbox
from tests.factories import ClinicAdminFactory
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

REASON = "Patient in the emergency room, primary psychiatrist unreachable"


@pytest.fixture
def officer(db):
    user = ClinicAdminFactory(first_name="Priya", last_name="Officer")
    user.user_permissions.add(Permission.objects.get(codename="view_audit_log", content_type__app_label="clinic"))
    return user


def start(client, patient, reason=REASON, mrn=None, reason_code="crisis", **cosign):
    data = {"mrn": mrn or patient.mrn, "reason_code": reason_code, "reason": reason, **cosign}
    return client.post(reverse("break_glass"), data)


def test_outside_the_care_team_the_chart_is_404_until_a_reason_is_given(client, patient, psychiatrist2, officer):
    log_in(client, psychiatrist2)
    chart = reverse("patients:chart", args=[patient.pk])
    assert client.get(chart).status_code == 404

    response = start(client, patient)

    assert response.status_code == 302
    assert response["Location"] == chart  # no MRN, no reason in any URL
    assert client.get(chart).status_code == 200


def test_the_grant_is_time_boxed_and_its_rows_are_flagged(client, patient, psychiatrist2, officer, settings):
    settings.TITRATE_BREAK_GLASS_MINUTES = 60
    log_in(client, psychiatrist2)
    before = timezone.now()

    start(client, patient)
    client.get(reverse("patients:chart", args=[patient.pk]))
    client.get(reverse("medications:lab_results", args=[patient.pk]))

    grant = BreakGlassGrant.objects.get()
    assert (grant.user, grant.patient, grant.reason) == (psychiatrist2, patient, REASON)
    assert (
        before + datetime.timedelta(minutes=60) <= grant.expires_at <= timezone.now() + datetime.timedelta(minutes=60)
    )
    rows = list(AuditEvent.objects.filter(actor=psychiatrist2, patient=patient).order_by("id"))
    assert [row.action for row in rows] == ["break_glass", "view", "view"]
    assert all(row.detail["break_glass"] == grant.pk for row in rows)
    assert rows[0].detail["minutes"] == 60
    assert rows[0].detail["reason_code"] == grant.reason_code == "crisis"
    assert "reason" not in rows[0].detail  # free text stays in the grant, out of the audit trail


def test_the_grant_expires(patient, psychiatrist2, officer):
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        client = Client()
        log_in(client, psychiatrist2)
        start(client, patient)
        assert get_patient_for(psychiatrist2, patient.pk) == patient

    with time_machine.travel(now + datetime.timedelta(minutes=59), tick=False):
        assert patients_for(psychiatrist2).filter(pk=patient.pk).exists()
    with time_machine.travel(now + datetime.timedelta(minutes=61), tick=False):
        assert not patients_for(psychiatrist2).filter(pk=patient.pk).exists()
        fresh = Client()
        log_in(fresh, psychiatrist2)
        assert fresh.get(reverse("patients:chart", args=[patient.pk])).status_code == 404
        assert BreakGlassGrant.objects.active().count() == 0


def test_rows_after_expiry_and_about_other_patients_are_not_flagged(patient, patient2, psychiatrist2, officer):
    from clinic import audit

    now = timezone.now()
    with time_machine.travel(now, tick=False):
        client = Client()
        log_in(client, psychiatrist2)
        start(client, patient)
        other = audit.record(AuditEvent.Action.VIEW, actor=psychiatrist2, patient=patient2, obj=patient2)
    with time_machine.travel(now + datetime.timedelta(minutes=61), tick=False):
        late = audit.record(AuditEvent.Action.VIEW, actor=psychiatrist2, patient=patient, obj=patient)
    assert "break_glass" not in other.detail
    assert "break_glass" not in late.detail


def test_a_reason_is_required(client, patient, psychiatrist2, officer):
    log_in(client, psychiatrist2)
    # The last one is long only in blanks: whitespace does not count.
    for reason in ("", "   ", "emergency", "urgent" + " " * 30 + "now"):
        response = start(client, patient, reason=reason)
        assert response.status_code == 200
        assert response.context["form"].errors["reason"]
    assert BreakGlassGrant.objects.count() == 0
    assert not AuditEvent.objects.filter(action="break_glass").exists()
    assert client.get(reverse("patients:chart", args=[patient.pk])).status_code == 404


def test_an_unknown_mrn_grants_nothing(client, patient, psychiatrist2):
    from clinic.privacy_views import NO_CHART

    log_in(client, psychiatrist2)
    response = start(client, patient, mrn="P999999")
    assert response.context["form"].errors["mrn"] == [NO_CHART]
    assert BreakGlassGrant.objects.count() == 0


def test_on_the_care_team_no_grant_is_made(client, patient, psychiatrist):
    log_in(client, psychiatrist)
    response = start(client, patient)
    assert response.status_code == 302
    assert BreakGlassGrant.objects.count() == 0


@pytest.mark.parametrize("who", ["patient", "clinic_admin"])
def test_only_psychiatrists_can_break_the_glass(client, patient, clinic_admin, who):
    log_in(client, patient.user if who == "patient" else clinic_admin)
    assert start(client, patient).status_code == 403
    assert BreakGlassGrant.objects.count() == 0


def test_privacy_officers_are_notified_without_phi(client, patient, psychiatrist2, officer, clinic_admin):
    patient.legal_first_name, patient.legal_last_name = "Zelda", "Quixote"
    patient.save()
    log_in(client, psychiatrist2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(outbox, "publish_all", lambda ids: None)  # the sweep sends them; we render
        start(client, patient)

    rows = list(Notification.objects.filter(kind=Notification.Kind.BREAK_GLASS_USED))
    assert {(row.recipient, row.channel) for row in rows} == {(officer, "in_app"), (officer, "email")}
    assert all(row.patient_id is None for row in rows)  # a plain clinic admin is not told
    email = next(row for row in rows if row.channel == "email")
    message = outbox_messages.render_message(email)
    text = f"{message.subject} {message.text} {message.html}"
    assert "An emergency access was used; review it in Titrate" in text
    assert reverse("privacy_break_glass") in text
    for phi in ("Zelda", "Quixote", patient.mrn, REASON, psychiatrist2.last_name):
        assert phi not in text
    assert (
        reverse("privacy_break_glass")
        == outbox_messages.in_app_text(next(row for row in rows if row.channel == "in_app"))[1]
    )
    assert len(mail.outbox) == 0 or all("Quixote" not in m.body for m in mail.outbox)


def test_the_officer_sees_the_grant_and_its_flagged_rows(client, patient, psychiatrist2, officer):
    log_in(client, psychiatrist2)
    start(client, patient)
    client.get(reverse("patients:chart", args=[patient.pk]))
    grant = BreakGlassGrant.objects.get()
    officer_client = Client()
    log_in(officer_client, officer)

    review = officer_client.get(reverse("privacy_break_glass"))
    flagged = officer_client.get(reverse("privacy_audit_log"), {"break_glass": "on", "date_from": "2020-01-01"})

    assert review.status_code == 200
    assert [g.pk for g in review.context["page"]] == [grant.pk]
    assert REASON in review.content.decode()
    events = list(flagged.context["page"])
    assert [(e.action, e.detail["break_glass"]) for e in events] == [("view", grant.pk), ("break_glass", grant.pk)]
    assert flagged.content.decode().count('badge text-bg-warning">Emergency access') == 2


def test_the_patient_sees_the_emergency_access(client, patient, psychiatrist2, officer):
    log_in(client, psychiatrist2)
    start(client, patient)
    patient_client = Client()
    log_in(patient_client, patient.user)

    body = patient_client.get(reverse("my_record_access")).content.decode()

    assert psychiatrist2.display_name in body
    assert "(emergency access)" in body


def test_search_offers_emergency_access(client, psychiatrist):
    log_in(client, psychiatrist)
    assert reverse("break_glass") in client.get(reverse("patients:search")).content.decode()
