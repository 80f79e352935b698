"""MIN / AUD-5: patient names and notes (which carry factories.PHI_MARKER in every test) stay out of
logs, emails, SMS bodies, calendar feeds and URL query strings.

tests/conftest.py checks this after every test of the suite; the tests here walk the paths most
likely to leak on purpose, and first show that the marker is really in play (on the pages an
authorised user sees), so a passing check is not a vacuous one.
"""

from __future__ import annotations

import datetime
import io
import json
import logging

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from appointments import reminders
from clinic import logmask, logs
from clinic.models import CalendarFeed, Notification, NotificationPreference
from notifications import channels, dispatch, outbox, sending
from tests import clinical_world, factories
from tests.factories import DEMO_LIKE_PASSWORD, PHI_MARKER
from tests.helpers import log_in, phi_leaks_in_response

pytestmark = pytest.mark.django_db


def _sent_now(patient, offsets=(24,)):
    kind = factories.AppointmentTypeFactory(reminder_offsets_hours=list(offsets))
    appointment = factories.AppointmentFactory(
        patient=patient, psychiatrist=patient.primary_psychiatrist, appointment_type=kind,
        start=timezone.now() + datetime.timedelta(days=3),
    )  # fmt: skip
    reminders.plan_appointment_reminders(appointment)
    Notification.objects.about(appointment).update(send_at=timezone.now())
    return appointment


class RecordingSMS:
    def __init__(self):
        self.bodies: list[str] = []

    def send(self, *, to, body, reference):
        self.bodies.append(body)
        return f"SM{len(self.bodies)}"


@pytest.fixture
def sms(settings, monkeypatch):
    fake = RecordingSMS()
    monkeypatch.setitem(channels.SMS_BACKENDS, "recording", lambda: fake)
    settings.TITRATE_SMS_BACKEND = "recording"
    return fake


def test_the_marker_is_in_every_factory_patient_and_note(patient, psychiatrist):
    world = clinical_world.build(patient, psychiatrist)
    assert PHI_MARKER in patient.legal_last_name and PHI_MARKER in patient.user.last_name
    assert PHI_MARKER in world.evaluation.presenting_symptoms
    assert PHI_MARKER in world.visit.interval_history
    assert PHI_MARKER in world.report.other_symptoms


def _dispatch(monkeypatch, capture) -> list:
    """Dispatch what is due and send each published row, as a worker would (synchronously)."""
    published: list = []
    monkeypatch.setattr(outbox, "publish", lambda ids: published.extend(ids) or True)
    with capture(execute=True):
        dispatch.dispatch_due()
    return [sending.send(pk) for pk in published]


def test_reminder_email_and_sms_carry_no_name_or_note(
    patient, psychiatrist, sms, monkeypatch, django_capture_on_commit_callbacks
):
    clinical_world.build(patient, psychiatrist)
    NotificationPreference.objects.update_or_create(
        user=patient.user, defaults={"email_enabled": True, "sms_enabled": True, "sms_phone": "+16175550123"}
    )
    _sent_now(patient)
    outcomes = _dispatch(monkeypatch, django_capture_on_commit_callbacks)

    assert outcomes.count(Notification.Status.SENT) >= 2
    assert len(mail.outbox) >= 1 and len(sms.bodies) == 1
    for message in mail.outbox:
        texts = [message.subject, message.body, *(content for content, _ in message.alternatives)]
        assert not any(PHI_MARKER in text for text in texts), message.subject
    assert PHI_MARKER not in sms.bodies[0]


def test_the_after_visit_summary_notice_carries_no_name_drug_or_reason(
    patient, psychiatrist, sms, monkeypatch, django_capture_on_commit_callbacks
):
    NotificationPreference.objects.update_or_create(
        user=patient.user, defaults={"email_enabled": True, "sms_enabled": True, "sms_phone": "+16175550123"}
    )
    visit = factories.visit(patient, psychiatrist, reason_for_patient=f"For {PHI_MARKER}'s sleep.")
    factories.start(patient, psychiatrist, visit_note=visit)
    with django_capture_on_commit_callbacks(execute=True):
        from patients import notes

        notes.sign(visit, actor=psychiatrist)
    outcomes = _dispatch(monkeypatch, django_capture_on_commit_callbacks)

    assert outcomes.count(Notification.Status.SENT) == 2  # email and in-app; no SMS for a summary
    assert sms.bodies == []
    (message,) = mail.outbox
    texts = [message.subject, message.body, *(content for content, _ in message.alternatives)]
    assert not any(word in text for text in texts for word in (PHI_MARKER, "sertraline", "sleep"))
    in_app = Notification.objects.get(kind=Notification.Kind.AFTER_VISIT_SUMMARY, channel="in_app")
    from notifications import messages

    text, link = messages.in_app_text(in_app)
    assert "summary of your recent visit is ready" in text
    assert link == reverse("patients:my_visit_summaries")
    assert PHI_MARKER not in text + link and "sertraline" not in text


def test_the_record_ready_notice_carries_no_name_drug_or_score(
    client, patient, psychiatrist, sms, monkeypatch, django_capture_on_commit_callbacks
):
    """Issue 23: the patient's own record is full of PHI; the notice that it is ready holds none,
    and neither do the download's file name and address."""
    from records import builders, requests

    NotificationPreference.objects.update_or_create(
        user=patient.user, defaults={"email_enabled": True, "sms_enabled": True, "sms_phone": "+16175550123"}
    )
    factories.sertraline_history(patient, psychiatrist)
    row = builders.prepare(str(requests.request_record(patient, by=patient.user, format="pdf").pk))
    assert row.status == "ready" and PHI_MARKER in patient.legal_last_name
    outcomes = _dispatch(monkeypatch, django_capture_on_commit_callbacks)

    assert outcomes.count(Notification.Status.SENT) == 2  # email and in-app; never by SMS
    assert sms.bodies == []
    (message,) = mail.outbox
    texts = [message.subject, message.body, *(content for content, _ in message.alternatives)]
    assert "Your record is ready to download in your Titrate portal" in message.body
    for text in texts:
        for secret in (PHI_MARKER, "sertraline", "PHQ", "F33", str(row.pk)):
            assert secret not in text, secret
    log_in(client, patient.user)
    url = reverse("records:my_record_download", args=[row.pk])
    response = client.get(url)
    assert response.status_code == 200 and "?" not in url
    assert PHI_MARKER not in response["Content-Disposition"]


def test_summary_and_prescription_pdfs_are_named_without_the_patient(client, patient, psychiatrist):
    visit = factories.visit(patient, psychiatrist, signed=True)
    rx = factories.start(patient, psychiatrist)
    log_in(client, psychiatrist)
    for url in (
        reverse("patients:visit_summary_pdf", args=[patient.pk, visit.pk]),
        reverse("medications:prescription_pdf", args=[patient.pk, rx.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert PHI_MARKER in patient.legal_last_name
        assert PHI_MARKER not in response["Content-Disposition"] and PHI_MARKER not in url


def test_refill_answers_and_check_in_reminders_name_no_medicine_or_answer(
    patient, psychiatrist, sms, monkeypatch, django_capture_on_commit_callbacks
):
    from medications import adherence, refills

    NotificationPreference.objects.update_or_create(
        user=patient.user, defaults={"email_enabled": True, "sms_enabled": True, "sms_phone": "+16175550123"}
    )
    rx = factories.start(patient, psychiatrist, drug="lithium", dose="300", strength="300", frequency="bid")
    refill = refills.request_refill(patient, rx, pharmacy="Main Street", days_left=2, by=patient.user)
    refills.decline(refill, by=psychiatrist, reason=f"Lithium level first, {PHI_MARKER}.")
    adherence.plan_reminders()
    _dispatch(monkeypatch, django_capture_on_commit_callbacks)

    subjects = {m.subject for m in mail.outbox}
    assert {"Your care team answered your request", "Your medicine check-in is open"} <= subjects
    texts = [*sms.bodies, *(m.subject + m.body for m in mail.outbox)]
    assert len(sms.bodies) == 2
    for text in texts:
        assert PHI_MARKER not in text and "lithium" not in text.lower() and "declin" not in text.lower(), text


def test_staff_notices_by_email_carry_no_patient_name(
    patient, psychiatrist, clinic_admin, monkeypatch, django_capture_on_commit_callbacks
):
    appointment = factories.AppointmentFactory(patient=patient)
    rows = reminders.notify_staff(appointment, Notification.Kind.APPOINTMENT_CANCELLED)
    Notification.objects.filter(pk__in=[r.pk for r in rows]).update(send_at=timezone.now())
    _dispatch(monkeypatch, django_capture_on_commit_callbacks)

    emails = [m for m in mail.outbox if m.to in ([psychiatrist.email], [clinic_admin.email])]
    assert emails, "staff were notified by email"
    for message in emails:
        assert PHI_MARKER not in message.subject + message.body


def test_message_notices_carry_no_name_subject_or_words(
    patient, psychiatrist, sms, monkeypatch, django_capture_on_commit_callbacks
):
    """Issue 20: "You have a new message from your care team", never who, what about, or what it says."""
    from medications import messaging

    for user in (patient.user, psychiatrist):
        NotificationPreference.objects.update_or_create(
            user=user, defaults={"email_enabled": True, "sms_enabled": True, "sms_phone": "+16175550123"}
        )
    first = messaging.start_thread(
        patient=patient, author=patient.user, kind="patient", category="medication",
        subject=f"Sertraline and {PHI_MARKER}", text=f"Is {PHI_MARKER} safe with sertraline?",
    )  # fmt: skip
    messaging.send(first.thread, author=psychiatrist, text=f"Yes, {PHI_MARKER} is fine with sertraline.")
    kinds = set(Notification.objects.values_list("kind", flat=True))
    assert {Notification.Kind.MESSAGE_FOR_STAFF, Notification.Kind.MESSAGE_FOR_PATIENT} <= kinds
    Notification.objects.update(send_at=timezone.now())

    outcomes = _dispatch(monkeypatch, django_capture_on_commit_callbacks)

    assert outcomes.count(Notification.Status.SENT) == 5  # staff: in-app + email; patient: + SMS
    assert [m.subject for m in mail.outbox if m.to == [patient.user.email]] == [
        "You have a new message from your care team"
    ]
    texts = [t for m in mail.outbox for t in (m.subject, m.body, *(c for c, _ in m.alternatives))] + sms.bodies
    assert len(sms.bodies) == 1 and "new message from your care team" in sms.bodies[0]
    assert not any(PHI_MARKER in text or "sertraline" in text.lower() for text in texts)


def test_the_therapists_email_carries_a_link_and_nothing_of_the_record(
    client, patient, psychiatrist, monkeypatch, django_capture_on_commit_callbacks
):
    """The world holds a summary link sent to the patient's therapist (patients.sharing); its
    email names neither the patient nor anything in the summary, and a video visit's reminder
    links to the portal's join page, not to the room."""
    from appointments.models import AppointmentType
    from patients import sharing

    world = clinical_world.build(patient, psychiatrist)
    AppointmentType.objects.filter(pk=world.appointment.appointment_type_id).update(modality="telehealth")
    world.appointment.telehealth_url = "https://meet.example.com/room-of-the-visit"
    world.appointment.save(update_fields=["telehealth_url"])
    reminders.plan_appointment_reminders(world.appointment)
    Notification.objects.about(world.appointment).update(send_at=timezone.now())
    _dispatch(monkeypatch, django_capture_on_commit_callbacks)

    (shared,) = [m for m in mail.outbox if m.to == [world.care_contact.email]]
    texts = [shared.subject, shared.body, *(content for content, _ in shared.alternatives)]
    assert sharing.link_token(world.share) in shared.body
    assert not any(PHI_MARKER in text or "sertraline" in text.lower() for text in texts)
    reminders_sent = [m for m in mail.outbox if m.to == [patient.user.email]]
    assert reminders_sent
    for message in reminders_sent:
        assert "room-of-the-visit" not in message.body + "".join(c for c, _ in message.alternatives)
    # The summary behind the link does carry the record (so the marker check is not vacuous).
    page = client.post(reverse("shared_summary", args=[sharing.link_token(world.share)]))
    assert PHI_MARKER in page.content.decode()


def test_ics_feed_holds_visits_but_no_name_or_note(client, patient, psychiatrist):
    clinical_world.build(patient, psychiatrist)
    factories.AppointmentFactory(patient=patient)
    feed = CalendarFeed.objects.get(user=patient.user)

    response = Client().get(reverse("appointments:ics_feed", args=[feed.token]))

    assert response.status_code == 200 and "text/calendar" in response["Content-Type"]
    body = response.content.decode()
    assert body.count("BEGIN:VEVENT") == 2
    assert PHI_MARKER not in body


def test_chart_and_lists_show_names_but_no_link_carries_them(client, patient, psychiatrist):
    world = clinical_world.build(patient, psychiatrist)
    log_in(client, psychiatrist)
    pages = [
        reverse("psychiatrist_home"),
        reverse("patients:chart", args=[patient.pk]),
        reverse("patients:evaluation_detail", args=[patient.pk, world.evaluation.pk]),
        reverse("appointments:visit_detail", args=[patient.pk, world.visit.pk]),
        reverse("medications:inbox"),
        reverse("medications:report_detail", args=[patient.pk, world.report.pk]),
        reverse("alerts"),
    ]
    shown = 0
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        shown += PHI_MARKER in response.content.decode()
        assert phi_leaks_in_response(response.wsgi_request, response) == []
    # Authorised pages do show the name and notes: the link check above had something to find.
    assert shown >= 5

    search = client.post(reverse("patients:search"), {"q": patient.legal_last_name})
    assert search.status_code == 200 and PHI_MARKER in search.content.decode()
    assert phi_leaks_in_response(search.wsgi_request, search) == []


def test_redirects_after_saving_carry_no_name_in_the_query(client, patient, psychiatrist):
    clinical_world.build(patient, psychiatrist)
    log_in(client, psychiatrist)
    response = client.post(
        reverse("patients:allergy_create", args=[patient.pk]),
        {"substance": f"Latex ({PHI_MARKER})", "severity": "mild"},
    )
    assert response.status_code == 302
    assert PHI_MARKER not in response["Location"]
    response = client.post(
        reverse("patients:evaluation_create", args=[patient.pk]),
        {"evaluation_date": timezone.localdate().isoformat(), "presenting_symptoms": f"Grief for {PHI_MARKER}",
         "suicide_risk": "low", "violence_risk": "low"},
    )  # fmt: skip
    assert response.status_code == 302 and PHI_MARKER not in response["Location"]


def test_a_server_error_logs_no_name_or_note(client, patient, psychiatrist, monkeypatch, caplog, settings):
    from patients import notes

    settings.ADMINS = [("ops@example.org", "ops@example.org")]  # the error email goes out too

    def broken(note, **kwargs):
        raise RuntimeError(f"could not save note {note.pk}")

    clinical_world.build(patient, psychiatrist)
    monkeypatch.setattr(notes, "save_draft", broken)
    log_in(client, psychiatrist)
    client.raise_request_exception = False
    with caplog.at_level(logging.DEBUG):
        response = client.post(
            reverse("patients:evaluation_create", args=[patient.pk]),
            {"evaluation_date": timezone.localdate().isoformat(), "presenting_symptoms": f"Grief for {PHI_MARKER}",
             "suicide_risk": "low", "violence_risk": "low"},
        )  # fmt: skip

    assert response.status_code == 500
    assert PHI_MARKER not in response.content.decode()  # the error page shows no traceback
    errors = [r for r in caplog.records if r.name == "django.request" and r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info
    for record in caplog.records:
        trace = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        text = record.getMessage() + trace
        assert PHI_MARKER not in text
    assert not any(PHI_MARKER in m.subject + m.body for m in mail.outbox)
    # The admins' email (clinic.errortracking.AdminErrorEmailHandler): the error, not the form.
    [email] = [m for m in mail.outbox if m.to == ["ops@example.org"]]
    path = reverse("patients:evaluation_create", args=[patient.pk])
    assert email.subject.endswith(f"ERROR: Internal Server Error: {path}")
    assert "RuntimeError: could not save note" in email.body
    assert f"request id: {response['X-Request-ID']}" in email.body
    assert "presenting_symptoms" not in email.body and patient.user.email not in email.body


def test_a_failed_login_logs_no_name(client, patient, caplog):
    with caplog.at_level(logging.DEBUG):
        response = client.post(reverse("account_login"), {"login": patient.user.email, "password": "wrong-password-1"})
        assert response.status_code == 200
    assert PHI_MARKER not in caplog.text
    assert not any(PHI_MARKER in r.getMessage() for r in caplog.records)
    # And the right password still works: the marker in the name changes nothing else.
    ok = Client().post(reverse("account_login"), {"login": patient.user.email, "password": DEMO_LIKE_PASSWORD})
    assert ok.status_code == 302


@pytest.fixture
def json_log():
    """The production log output (clinic.logs's JSON formatter, the masking and request-id filters
    of LOGGING's console handler) of everything logged at any level, as the text a log collector
    would receive. It serialises more than a record's message (the traceback, the request id), so
    it is checked as written, not only through ``getMessage()`` as tests/conftest.py does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logs.JsonLogFormatter())
    handler.addFilter(logmask.MaskSecretsFilter())
    handler.addFilter(logs.RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def test_json_logs_of_requests_and_tasks_carry_no_name_or_note(
    client, patient, psychiatrist, psychiatrist2, monkeypatch, django_capture_on_commit_callbacks, settings, json_log
):
    from patients import notes
    from patients.tasks import escalate_alerts

    settings.TITRATE_ALERT_ESCALATE_MINUTES = 1
    world = clinical_world.build(patient, psychiatrist)
    logger = logging.getLogger("titrate.phi-check")
    # An object passed as a log field (a mistake the JSON output would otherwise serialise).
    logger.warning("chart opened", extra={"patient": patient, "note": world.visit.interval_history})

    log_in(client, psychiatrist)
    shown = client.get(reverse("patients:chart", args=[patient.pk]))
    assert shown.status_code == 200 and PHI_MARKER in shown.content.decode()  # the marker is in play
    # A patient reports a side effect in their own words; the outbox sends the staff notices.
    patient_client = Client()
    log_in(patient_client, patient.user)
    with django_capture_on_commit_callbacks(execute=True):
        factories.report(patient, symptoms=["seizure"], other_symptoms=f"Shaking, said {PHI_MARKER}")
    _dispatch(monkeypatch, django_capture_on_commit_callbacks)
    # Beat's sweep escalates the unacknowledged alert two minutes later.
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2)):
        escalate_alerts.apply()
    _dispatch(monkeypatch, django_capture_on_commit_callbacks)
    # Someone else's chart (404, logged), and a server error while saving clinical text.
    outsider = Client()
    log_in(outsider, psychiatrist2)
    assert outsider.get(reverse("patients:chart", args=[patient.pk])).status_code == 404
    monkeypatch.setattr(notes, "save_draft", lambda note, **kwargs: (_ for _ in ()).throw(RuntimeError("failed")))
    client.raise_request_exception = False
    failed = client.post(
        reverse("patients:evaluation_create", args=[patient.pk]),
        {"evaluation_date": timezone.localdate().isoformat(), "presenting_symptoms": f"Grief for {PHI_MARKER}"},
    )
    assert failed.status_code == 500

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    names = {line["logger"] for line in lines}
    # Requests, the 404 and the 500 (with its traceback), the tasks' lines: all were written.
    assert {"titrate.phi-check", "django.request"} <= names
    assert any("exc_info" in line for line in lines)
    assert {line["request_id"] for line in lines if line["logger"] == "django.request"} >= {failed["X-Request-ID"]}
    assert PHI_MARKER not in json_log.getvalue()
    assert patient.user.email not in json_log.getvalue()
