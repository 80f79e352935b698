"""Sharing with the therapist: consent granted and revoked by the patient (with a history), a
single-use link that expires sent by email (the email carries nothing about the patient), the
summary it opens (minimum necessary), every open audited and shown in "who viewed my record"."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent, ConsentRecord, Notification
from medications import prescribing
from medications.models import ChangeReason
from patients import safety_plans, sharing
from patients.models import CareContact, SummaryShare
from tests import factories
from tests.factories import PHI_MARKER
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def therapist(patient):
    return CareContact.objects.create(
        patient=patient, name="Dana Rivers", organisation="Eastside Counselling", email="dana@therapy.example"
    )


@pytest.fixture
def patient_client(patient):
    client = Client()
    log_in(client, patient.user)
    return client


def _consent(client, contact, choice):
    return client.post(reverse("patients:my_care_contact_consent", args=[contact.pk]), {"consent": choice})


def test_the_patient_grants_and_revokes_consent_with_a_history(patient_client, patient, therapist):
    assert _consent(patient_client, therapist, "grant").status_code == 302
    therapist.refresh_from_db()
    assert therapist.consent_to_share
    _consent(patient_client, therapist, "revoke")
    _consent(patient_client, therapist, "revoke")  # no change: no new row

    therapist.refresh_from_db()
    assert not therapist.consent_to_share
    records = ConsentRecord.objects.filter(care_contact=therapist).order_by("id")
    assert [(r.granted, r.user, r.recorded_by, r.channel) for r in records] == [
        (True, patient.user, patient.user, ""),
        (False, patient.user, patient.user, ""),
    ]
    page = patient_client.get(reverse("patients:my_care_contacts")).content.decode()
    assert "allowed sharing with Dana Rivers" in page and "stopped sharing with Dana Rivers" in page
    updates = AuditEvent.objects.filter(action="update", object_type="patients.CareContact", patient=patient)
    assert [row.detail["consent_to_share"] for row in updates.order_by("id")] == [True, False]
    # The reminder settings' consent history stays about channels.
    assert "Dana Rivers" not in patient_client.get(reverse("reminder_preferences")).content.decode()


def test_another_patient_cannot_change_the_consent(patient2, therapist):
    other = Client()
    log_in(other, patient2.user)
    assert _consent(other, therapist, "grant").status_code == 404
    therapist.refresh_from_db()
    assert not therapist.consent_to_share and not ConsentRecord.objects.exists()


def test_without_consent_nothing_is_sent(client, patient, psychiatrist, therapist):
    log_in(client, psychiatrist)
    url = reverse("patients:share_summary", args=[patient.pk, therapist.pk])
    assert "has not consented" in client.get(url).content.decode()

    response = client.post(url, follow=True)

    assert "has not consented" in response.content.decode()
    assert not SummaryShare.objects.exists()
    assert not Notification.objects.filter(kind="summary_shared").exists()


def test_another_psychiatrist_gets_404(client, patient, psychiatrist2, therapist):
    sharing.set_consent(therapist, granted=True, by=patient.user)
    log_in(client, psychiatrist2)
    assert client.post(reverse("patients:share_summary", args=[patient.pk, therapist.pk])).status_code == 404
    assert not SummaryShare.objects.exists()


def _send(client, patient, psychiatrist, therapist, worker) -> str:
    """Consent, send through the page, deliver through the outbox; returns the emailed link's path."""
    sharing.set_consent(therapist, granted=True, by=patient.user)
    log_in(client, psychiatrist)
    response = client.post(reverse("patients:share_summary", args=[patient.pk, therapist.pk]))
    assert response.status_code == 302
    worker()
    (message,) = [m for m in mail.outbox if m.to == ["dana@therapy.example"]]
    link = re.search(r"https?://\S+/shared/(\S+?)/", message.body)
    assert link is not None, message.body
    return reverse("shared_summary", args=[link.group(1)])


def test_the_email_carries_only_a_link_and_the_link_opens_once(client, patient, psychiatrist, therapist, worker):
    factories.start(patient, psychiatrist, drug="sertraline", dose="50", strength="50")
    factories.submit_phq9(patient, 1)
    safety_plans.save_version(patient, author=psychiatrist, warning_signs="Not sleeping.")
    path = _send(client, patient, psychiatrist, therapist, worker)

    (message,) = mail.outbox
    text = f"{message.subject} {message.body} {message.alternatives[0][0]}"
    for secret in (PHI_MARKER, patient.legal_last_name, "sertraline", "PHQ", "Not sleeping", "safety plan"):
        assert secret.lower() not in text.lower(), secret
    row = Notification.objects.get(kind="summary_shared")
    assert (row.recipient, row.to_address, row.status) == (psychiatrist, "dana@therapy.example", "sent")

    therapist_browser = Client()
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    landing = therapist_browser.get(path)  # a mail scanner's GET does not use the link up
    assert landing.status_code == 200 and "Open the summary" in landing.content.decode()
    assert "no-store" in landing["Cache-Control"]
    assert SummaryShare.objects.get().opened_at is None
    assert not AuditEvent.objects.filter(id__gt=before).exists()

    opened = therapist_browser.post(path)
    page = opened.content.decode()
    assert opened.status_code == 200
    assert "sertraline 50 mg" in page and "PHQ-9" in page and "Not sleeping." in page
    assert "no-store" in opened["Cache-Control"]
    view = AuditEvent.objects.get(id__gt=before)
    assert (view.action, view.actor, view.patient_id, view.object_type) == (
        "view", None, patient.pk, "patients.SummaryShare",
    )  # fmt: skip
    assert view.detail["viewer"] == "Dana Rivers"

    again = therapist_browser.post(path)
    assert again.status_code == 410 and "no longer works" in again.content.decode()
    assert therapist_browser.get(path).status_code == 410
    assert AuditEvent.objects.filter(id__gt=before).count() == 1


def test_the_patient_sees_the_open_in_who_viewed_my_record(client, patient, psychiatrist, therapist, worker):
    path = _send(client, patient, psychiatrist, therapist, worker)
    Client().post(path)

    page = Client()
    log_in(page, patient.user)
    html = page.get(reverse("my_record_access")).content.decode()
    assert "Dana Rivers" in html and "Therapist / counsellor, through a link you allowed" in html


def test_revoking_consent_stops_the_link_and_the_unsent_email(client, patient, psychiatrist, therapist, worker):
    path = _send(client, patient, psychiatrist, therapist, worker)
    unsent = sharing.send(therapist, by=psychiatrist)  # a second link, its email not sent yet

    sharing.set_consent(therapist, granted=False, by=patient.user)

    assert Client().get(path).status_code == 410
    assert Client().post(path).status_code == 410
    assert SummaryShare.objects.filter(opened_at__isnull=False).count() == 0
    assert Notification.objects.about(unsent).get().status == "cancelled"
    assert not AuditEvent.objects.filter(object_type="patients.SummaryShare", action="view").exists()


def test_an_expired_or_forged_link_does_not_open(client, patient, psychiatrist, therapist, worker):
    path = _send(client, patient, psychiatrist, therapist, worker)
    share = SummaryShare.objects.get()
    token = path.rstrip("/").rsplit("/", 1)[1]
    forged = reverse("shared_summary", args=[token.replace(f"{share.pk}.", f"{share.pk + 1}.", 1)])
    assert Client().post(forged).status_code == 410

    with time_machine.travel(share.expires_at + datetime.timedelta(seconds=1)):
        assert Client().post(path).status_code == 410
    share.refresh_from_db()
    assert share.opened_at is None


def test_the_summary_lists_changes_since_the_last_share_only(patient, psychiatrist, therapist):
    rx = factories.start(patient, psychiatrist, drug="sertraline", dose="25", strength="25")
    sharing.set_consent(therapist, granted=True, by=patient.user)
    first = sharing.send(therapist, by=psychiatrist)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=14)):
        prescribing.change_dose(rx, actor=psychiatrist, dose_mg=Decimal(50), reason=ChangeReason.INEFFECTIVE)
        second = sharing.send(therapist, by=psychiatrist)
        browser = Client()
        page = browser.post(reverse("shared_summary", args=[sharing.link_token(second)])).content.decode()

    assert sharing.previous_share(second) == first
    changes = page.split("Medication changes since", 1)[1].split("</section>", 1)[0]
    assert "from 25 mg to 50 mg" in changes
    assert changes.count("<li>") == 1  # the start came before the first share


def test_the_share_page_query_budget(client, patient, psychiatrist, therapist, django_assert_max_num_queries):
    sharing.set_consent(therapist, granted=True, by=patient.user)
    for drug in ("sertraline", "bupropion"):
        factories.start(patient, psychiatrist, drug=drug)
    sharing.send(therapist, by=psychiatrist)
    log_in(client, psychiatrist)
    with django_assert_max_num_queries(16):
        assert client.get(reverse("patients:share_summary", args=[patient.pk, therapist.pk])).status_code == 200


def test_the_link_is_masked_in_request_logs(patient, psychiatrist, therapist):
    from clinic.logmask import MASK, mask

    sharing.set_consent(therapist, granted=True, by=patient.user)
    token = sharing.link_token(sharing.send(therapist, by=psychiatrist))
    line = f'"GET {reverse("shared_summary", args=[token])} HTTP/1.1" 410 812'
    assert mask(line) == f'"GET /shared/{MASK}/ HTTP/1.1" 410 812'
