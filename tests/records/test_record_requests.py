"""Issue 23: the patient's own record, end to end — asked for on the portal, prepared by the worker,
the PHI-free "ready" notice, the download (audited each time), the expired link refused and the
file deleted by the sweep."""

from __future__ import annotations

import datetime
from io import BytesIO

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation
from pypdf import PdfReader

from clinic import languages
from clinic.models import AuditEvent, Notification, NotificationPreference
from notifications import messages, sending
from records import builders, requests, tasks
from records.models import RecordFile, RecordRequest
from tests import factories
from tests.factories import PHI_MARKER
from tests.helpers import log_in

pytestmark = pytest.mark.django_db
Status = RecordRequest.Status


@pytest.fixture
def published(monkeypatch):
    """The request's publish after commit, captured instead of sent to a broker."""
    ids: list[str] = []
    monkeypatch.setattr(requests, "publish", lambda pk: ids.append(pk) or True)
    return ids


def _ask(client, patient, django_capture_on_commit_callbacks):
    log_in(client, patient.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("records:my_record"), {"format": "pdf"})
    assert response.status_code == 302
    return RecordRequest.objects.get(patient=patient)


def _text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages)


def test_request_to_download_end_to_end(client, patient, psychiatrist, published, django_capture_on_commit_callbacks):
    NotificationPreference.objects.update_or_create(user=patient.user, defaults={"email_enabled": True})
    factories.sertraline_history(patient, psychiatrist)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    row = _ask(client, patient, django_capture_on_commit_callbacks)

    assert published == [str(row.pk)]
    assert (row.status, row.progress, row.format) == (Status.QUEUED, 0, "pdf")
    created = AuditEvent.objects.get(id__gt=last, action=AuditEvent.Action.CREATE)
    assert (created.patient, created.actor, created.object_id) == (patient, patient.user, str(row.pk))
    page = client.get(reverse("records:my_record"))
    assert b'http-equiv="refresh"' in page.content and b"record_status.js" in page.content
    status = client.get(reverse("records:my_record_status", args=[row.pk])).json()
    assert status == {"status": "queued", "label": "Waiting to start", "progress": 0, "download_url": None}

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.prepare_record(str(row.pk)) == Status.READY

    row.refresh_from_db()
    assert row.status == Status.READY and row.progress == 100
    assert row.expires_at - row.ready_at == datetime.timedelta(hours=24)
    assert row.size_bytes == len(row.file.content) > 1000
    # Running the task again (a redelivered message) builds nothing more.
    assert tasks.prepare_record(str(row.pk)) is None
    assert RecordFile.objects.count() == 1

    notices = Notification.objects.filter(recipient=patient.user, kind=Notification.Kind.RECORD_READY)
    assert sorted(notices.values_list("channel", flat=True)) == ["email", "in_app"]
    for notice in notices:
        sending.send(notice.pk)
    (email,) = [m for m in mail.outbox if patient.user.email in m.to]
    body = email.subject + email.body + "".join(str(alt[0]) for alt in email.alternatives)
    assert "Your record is ready to download in your Titrate portal" in body
    assert reverse("records:my_record") in body and email.attachments == []
    for secret in (PHI_MARKER, "sertraline", "PHQ", "100 mg", patient.legal_last_name, str(row.pk)):
        assert secret not in body
    text, link = messages.in_app_text(notices.get(channel="in_app"))
    assert text == "Your record is ready to download in your Titrate portal." and link == reverse("records:my_record")

    status = client.get(reverse("records:my_record_status", args=[row.pk])).json()
    assert status["status"] == "ready" and status["download_url"] == reverse(
        "records:my_record_download", args=[row.pk]
    )
    page = client.get(reverse("records:my_record"))
    assert b'http-equiv="refresh"' not in page.content
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    downloads = [client.get(reverse("records:my_record_download", args=[row.pk])) for _ in range(2)]
    for download in downloads:
        assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
        assert (
            download["Content-Disposition"] == f'attachment; filename="my-record-{timezone.localdate():%Y-%m-%d}.pdf"'
        )
        assert "sertraline" in _text(download.content)
    exports = AuditEvent.objects.filter(id__gt=before, action=AuditEvent.Action.EXPORT)
    assert [(e.patient_id, e.actor_id, e.detail["page"]) for e in exports] == [
        (patient.pk, patient.user.pk, "my_record_download")
    ] * 2

    with time_machine.travel(row.expires_at + datetime.timedelta(seconds=1)):
        log_in(client, patient.user)  # the session itself timed out meanwhile
        refused = client.get(reverse("records:my_record_download", args=[row.pk]))
        assert refused.status_code == 410
        assert tasks.sweep_records() == {"started": 0, "expired": 1}
        row.refresh_from_db()
        assert row.status == Status.EXPIRED
        assert RecordFile.objects.count() == 0
        assert client.get(reverse("records:my_record_download", args=[row.pk])).status_code == 410


def test_a_second_click_while_preparing_makes_no_second_request(
    client, patient, published, django_capture_on_commit_callbacks
):
    first = _ask(client, patient, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("records:my_record"), {"format": "pdf"})

    assert RecordRequest.objects.filter(patient=patient).count() == 1
    assert published == [str(first.pk)]
    assert requests.request_record(patient, by=patient.user, format="pdf") == first


def test_an_unknown_format_is_refused_with_the_form(client, patient):
    log_in(client, patient.user)

    response = client.post(reverse("records:my_record"), {"format": "xlsx"})

    assert response.status_code == 200 and response.context["form"].errors
    assert RecordRequest.objects.count() == 0


def test_another_patient_cannot_poll_or_download(client, patient, patient2):
    row = builders.prepare(str(requests.request_record(patient, by=patient.user, format="pdf").pk))
    log_in(client, patient2.user)

    assert client.get(reverse("records:my_record_status", args=[row.pk])).status_code == 404
    assert client.get(reverse("records:my_record_download", args=[row.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, actor=patient2.user).exists()


def test_a_broker_outage_leaves_the_request_for_the_sweep(patient, monkeypatch, django_capture_on_commit_callbacks):
    from celery import current_app

    task = current_app.tasks[requests.PREPARE_TASK]

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(task, "apply_async", down)
    with django_capture_on_commit_callbacks(execute=True):
        row = requests.request_record(patient, by=patient.user, format="pdf")
    assert RecordRequest.objects.get().status == Status.QUEUED

    started = []
    monkeypatch.setattr(requests, "publish", lambda pk: started.append(pk) or True)
    assert tasks.sweep_records() == {"started": 0, "expired": 0}  # not yet: its own publish may land
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2)):
        assert tasks.sweep_records() == {"started": 1, "expired": 0}
    assert started == [str(row.pk)]


def test_a_worker_that_died_is_retried_then_the_request_fails(patient, monkeypatch):
    row = requests.request_record(patient, by=patient.user, format="pdf")
    monkeypatch.setattr(requests, "publish", lambda pk: True)
    for attempt in range(1, requests.MAX_ATTEMPTS + 1):
        assert requests.claim(str(row.pk)) is not None
        with time_machine.travel(timezone.now() + requests.LEASE + datetime.timedelta(minutes=attempt)):
            requests.sweep()
        row.refresh_from_db()
        assert row.attempts == attempt
    assert (row.status, row.failure) == (Status.FAILED, "lease")
    # A failed request no longer blocks a new one.
    assert requests.request_record(patient, by=patient.user, format="pdf").pk != row.pk


def test_a_build_that_raises_is_requeued_and_logs_no_phi(patient, psychiatrist, monkeypatch, caplog):
    row = requests.request_record(patient, by=patient.user, format="pdf")

    def broken(request_row):
        raise ValueError(f"cannot draw {patient.legal_last_name}")

    monkeypatch.setitem(builders.BUILDERS, "pdf", broken)
    with caplog.at_level("ERROR"):
        row = builders.prepare(str(row.pk))

    assert (row.status, row.attempts, row.failure) == (Status.QUEUED, 1, "error")
    assert [r.getMessage() for r in caplog.records if r.name == "records.builders"] == [
        f"Preparing record request {row.pk} failed: ValueError."
    ]
    assert not RecordFile.objects.exists()
    assert all(PHI_MARKER not in record.getMessage() for record in caplog.records)


def test_the_record_and_the_notice_are_in_the_patients_language(
    client, patient, psychiatrist, django_capture_on_commit_callbacks
):
    languages.set_preference(patient.user, "es")
    factories.start(patient, psychiatrist)
    row = builders.prepare(str(requests.request_record(patient, by=patient.user, format="pdf").pk))

    assert row.language == "es"
    text = _text(row.file.content)
    assert "Mi expediente de salud" in text and "sertraline" in text
    notice = Notification.objects.get(kind=Notification.Kind.RECORD_READY, channel="in_app")
    assert notice.language == "es"
    with translation.override(notice.language):
        words, _ = messages.in_app_text(notice)
    assert words == "Su expediente está listo para descargar en su portal de Titrate."


def test_the_pages_take_a_fixed_number_of_queries(client, patient, django_assert_max_num_queries):
    from tests.helpers import warm_clinic_profile

    warm_clinic_profile()
    log_in(client, patient.user)
    row = builders.prepare(str(requests.request_record(patient, by=patient.user, format="pdf").pk))
    client.get(reverse("records:my_record"))  # warms the unread-message badge's cache
    # * session * user * the patient (own_record_required) * the audit chain's head and its insert
    # * the requests * the unread badge's check
    with django_assert_max_num_queries(8) as one:
        assert client.get(reverse("records:my_record")).status_code == 200
    for _ in range(6):
        requests.expire()  # nothing expires: the list just grows
        RecordRequest.objects.create(patient=patient, requested_by=patient.user, status=Status.FAILED)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(reverse("records:my_record")).status_code == 200
    # * session * user * the patient * the request
    with django_assert_max_num_queries(4):
        assert client.get(reverse("records:my_record_status", args=[row.pk])).status_code == 200
    # * session * user * the patient * the request * its file * the audit chain's head and insert
    with django_assert_max_num_queries(7):
        assert client.get(reverse("records:my_record_download", args=[row.pk])).status_code == 200


def test_a_patient_may_ask_for_ten_copies_a_day(client, patient, published, django_capture_on_commit_callbacks):
    log_in(client, patient.user)
    for _ in range(requests.DAILY_LIMIT):
        RecordRequest.objects.create(patient=patient, requested_by=patient.user, status=Status.EXPIRED)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = client.post(reverse("records:my_record"), {"format": "pdf"})

    assert response.status_code == 200
    assert "You have asked for 10 copies in the last day." in response.content.decode()
    assert RecordRequest.objects.count() == requests.DAILY_LIMIT and published == []
    assert [e.action for e in AuditEvent.objects.filter(id__gt=last)] == [AuditEvent.Action.VIEW]
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=25)):
        log_in(client, patient.user)
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(reverse("records:my_record"), {"format": "pdf"}).status_code == 302
    assert RecordRequest.objects.count() == requests.DAILY_LIMIT + 1


def test_the_fhir_copy_is_the_apis_bundle_with_every_dose_and_score(
    client, patient, psychiatrist, published, django_capture_on_commit_callbacks
):
    from fhir.resources.R4B.bundle import Bundle

    factories.sertraline_history(patient, psychiatrist)  # 50 → 100 mg; PHQ-9 16, 12, 6
    log_in(client, patient.user)
    page = client.get(reverse("records:my_record"))
    assert b'value="fhir"' in page.content  # offered beside the PDF
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("records:my_record"), {"format": "fhir"}).status_code == 302
    row = RecordRequest.objects.get(patient=patient)
    assert row.format == "fhir" and published == [str(row.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.prepare_record(str(row.pk)) == Status.READY

    assert "Download the FHIR file" in client.get(reverse("records:my_record")).content.decode()
    download = client.get(reverse("records:my_record_download", args=[row.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/fhir+json"
    assert download["Content-Disposition"] == f'attachment; filename="my-record-{timezone.localdate():%Y-%m-%d}.json"'
    bundle = Bundle.model_validate_json(download.content)
    resources = [entry.resource for entry in bundle.entry]
    patients = [r for r in resources if r.__resource_type__ == "Patient"]
    assert [r.id for r in patients] == [str(patient.pk)]
    doses = sorted(
        r.dosageInstruction[0].doseAndRate[0].doseQuantity.value
        for r in resources
        if r.__resource_type__ == "MedicationRequest"
    )
    assert doses == [50, 100]
    totals = sorted(
        r.valueQuantity.value
        for r in resources
        if r.__resource_type__ == "Observation" and r.code.coding[0].code == "44261-6"
    )
    assert totals == [6, 12, 16]
    assert (
        AuditEvent.objects.filter(
            action=AuditEvent.Action.EXPORT, patient=patient, detail__page="my_record_download"
        ).count()
        == 1
    )
