"""After-visit summaries (issue 21, item 1): signing a visit note tells the patient, PHI-free, that
a summary is ready; the patient reads it in the portal, prints it and downloads it as a PDF made
on request; each page, print and PDF writes one audit row; drafts and other patients' notes are
404; a psychiatrist prints the same summary for a patient at the desk."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from clinic.models import AuditEvent, Notification, NotificationPreference
from medications import prescribing
from medications.models import ChangeReason
from patients.models import QuestionnaireAssignment
from tests import factories
from tests.factories import PHI_MARKER
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def _visit_with_changes(patient, psychiatrist, **fields):
    """A visit that starts sertraline 50 mg each morning and stops trazodone, then is signed
    through the page, as the psychiatrist does it."""
    trazodone = factories.start(patient, psychiatrist, drug="trazodone", dose="50", strength="50", frequency="qhs")
    visit = factories.visit(patient, psychiatrist, **fields)
    prescribing.start_prescription(
        patient=patient, medication=factories.medication("sertraline"), prescriber=psychiatrist, form="tablet",
        route="oral", strength_mg=Decimal(50), dose_mg=Decimal(50), frequency="qam", quantity=30, visit_note=visit,
    )  # fmt: skip
    prescribing.discontinue(
        trazodone, actor=psychiatrist, reason=ChangeReason.SIDE_EFFECT, visit_note=visit,
        abrupt_stop_justification="Too sleepy the next day at 50 mg.",
    )  # fmt: skip
    return visit


def _sign(client, psychiatrist, patient, visit, captured):
    log_in(client, psychiatrist)
    with captured(execute=True):
        response = client.post(reverse("appointments:visit_sign", args=[patient.pk, visit.pk]))
    assert response.status_code == 302
    visit.refresh_from_db()
    assert visit.is_signed
    client.logout()


def _pdf_text(response) -> str:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


def test_signing_tells_the_patient_a_summary_is_ready_without_phi(
    client, patient, psychiatrist, django_capture_on_commit_callbacks
):
    NotificationPreference.objects.update_or_create(user=patient.user, defaults={"email_enabled": True})
    visit = _visit_with_changes(patient, psychiatrist, reason_for_patient=f"To help with low mood {PHI_MARKER}.")

    _sign(client, psychiatrist, patient, visit, django_capture_on_commit_callbacks)

    rows = Notification.objects.filter(recipient=patient.user, kind=Notification.Kind.AFTER_VISIT_SUMMARY)
    assert sorted(rows.values_list("channel", flat=True)) == ["email", "in_app"]
    assert all(row.idempotency_key.startswith(f"after-visit-summary:{visit.pk}:") for row in rows)
    from notifications import sending

    for row in rows:
        sending.send(row.pk)
    emails = [m for m in mail.outbox if patient.user.email in m.to]
    assert len(emails) == 1
    body = emails[0].body + "".join(str(alt[0]) for alt in emails[0].alternatives)
    assert "summary of your recent visit is ready" in body
    assert reverse("patients:my_visit_summaries") in body
    for secret in (PHI_MARKER, "sertraline", "trazodone", "50 mg", patient.legal_last_name):
        assert secret not in body and secret not in emails[0].subject
    assert emails[0].attachments == []  # the PDF is made in the portal, on request


def test_signing_twice_notifies_once_and_a_patient_without_login_gets_nothing(patient, psychiatrist):
    from patients import notes

    visit = factories.visit(patient, psychiatrist, signed=True)
    rows = Notification.objects.filter(kind=Notification.Kind.AFTER_VISIT_SUMMARY)
    assert sorted(rows.values_list("channel", flat=True)) == ["email", "in_app"]  # the defaults
    assert notes.notify_summary_ready(visit) == []  # the same key: nothing new
    offline = factories.PatientFactory(user=None, primary_psychiatrist=psychiatrist)
    factories.visit(offline, psychiatrist, signed=True)
    assert rows.count() == 2


def test_the_patient_reads_what_changed_why_what_to_watch_and_what_is_next(
    client, patient, psychiatrist, django_capture_on_commit_callbacks
):
    visit = _visit_with_changes(patient, psychiatrist, reason_for_patient="To help with low mood and sleep.")
    _sign(client, psychiatrist, patient, visit, django_capture_on_commit_callbacks)
    kind = factories.AppointmentTypeFactory(name="Follow-up")
    start = (timezone.now() + datetime.timedelta(days=28)).replace(second=0, microsecond=0)
    factories.AppointmentFactory(patient=patient, psychiatrist=psychiatrist, appointment_type=kind, start=start)
    QuestionnaireAssignment.objects.create(
        patient=patient, instrument="phq9", due_on=timezone.localdate() + datetime.timedelta(days=14), reason="manual"
    )
    log_in(client, patient.user)

    listing = client.get(reverse("patients:my_visit_summaries"))
    assert listing.status_code == 200
    assert reverse("patients:my_visit_summary", args=[visit.pk]) in listing.content.decode()
    response = client.get(reverse("patients:my_visit_summary", args=[visit.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Started sertraline" in page
    assert "Take 1 tablet (50 mg) each morning" in page
    assert "Stopped trazodone" in page and "Stop taking trazodone." in page
    assert "To help with low mood and sleep." in page
    assert "Upset stomach, headache, sweating" in page  # the formulary's education text
    assert "PHQ-9" in page
    assert "Follow-up" in page
    assert reverse("patients:my_visit_summary_pdf", args=[visit.pk]) in page
    # The clinician's note (interval history, risk rationale) is not in the patient's summary.
    assert "back at work with" not in page and "No ideation." not in page


def test_the_pdf_carries_the_new_instructions_and_the_clinic_and_is_audited(
    client, patient, psychiatrist, django_capture_on_commit_callbacks
):
    visit = _visit_with_changes(patient, psychiatrist)
    _sign(client, psychiatrist, patient, visit, django_capture_on_commit_callbacks)
    log_in(client, patient.user)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()

    response = client.get(reverse("patients:my_visit_summary_pdf", args=[visit.pk]))

    text = " ".join(_pdf_text(response).split())
    assert "Take 1 tablet (50 mg) each morning" in text
    assert "Stop taking trazodone." in text
    from clinic import contact

    assert contact.clinic().name in text
    assert response["Content-Disposition"] == f'attachment; filename="visit-summary-{visit.visit_at:%Y-%m-%d}.pdf"'
    row = AuditEvent.objects.get(id__gt=last)
    assert (row.action, row.patient_id, row.detail) == ("export", patient.pk, {"page": "visit_summary_pdf"})


def test_the_print_view_has_no_navigation_and_no_form(client, patient, psychiatrist):
    visit = factories.visit(patient, psychiatrist, signed=True)
    log_in(client, patient.user)

    page = client.get(reverse("patients:my_visit_summary_print", args=[visit.pk])).content.decode()

    assert "<form" not in page
    assert "navbar" not in page and "Sign out" not in page
    assert "css/print.css" in page


def test_drafts_and_other_patients_summaries_are_404(client, patient, patient2, psychiatrist, psychiatrist2):
    draft = factories.visit(patient, psychiatrist)
    signed_other = factories.visit(patient2, psychiatrist2, signed=True)
    log_in(client, patient.user)

    for name in ("my_visit_summary", "my_visit_summary_print", "my_visit_summary_pdf"):
        assert client.get(reverse(f"patients:{name}", args=[draft.pk])).status_code == 404
        assert client.get(reverse(f"patients:{name}", args=[signed_other.pk])).status_code == 404


def test_the_psychiatrist_prints_the_summary_and_the_other_psychiatrist_cannot(
    client, patient, psychiatrist, psychiatrist2
):
    visit = factories.visit(patient, psychiatrist, signed=True)
    log_in(client, psychiatrist)
    assert client.get(reverse("patients:visit_summary_print", args=[patient.pk, visit.pk])).status_code == 200
    assert "Your visit summary" in _pdf_text(
        client.get(reverse("patients:visit_summary_pdf", args=[patient.pk, visit.pk]))
    )
    client.logout()
    log_in(client, psychiatrist2)
    assert client.get(reverse("patients:visit_summary_pdf", args=[patient.pk, visit.pk])).status_code == 404


def test_the_summary_page_reads_a_bounded_number_of_queries(
    client, patient, psychiatrist, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    visit = _visit_with_changes(patient, psychiatrist)
    _sign(client, psychiatrist, patient, visit, django_capture_on_commit_callbacks)
    for drug in ("bupropion", "lithium", "quetiapine"):
        factories.start(patient, psychiatrist, drug=drug, dose="100", strength="100", frequency="qd")
    log_in(client, patient.user)
    url = reverse("patients:my_visit_summary", args=[visit.pk])
    client.get(url)
    # session + user, the patient (own record), the note, its events + plans + steps, active
    # prescriptions, labs due, questionnaires, next appointment, the audit row (chain lock, insert),
    # the unread badge: the same however many medicines.
    with django_assert_max_num_queries(20):
        assert client.get(url).status_code == 200


def test_a_spanish_patient_reads_the_summary_and_its_pdf_in_spanish(
    client, patient, psychiatrist, django_capture_on_commit_callbacks
):
    """Issue 22 on the summary: fixed phrases in Spanish, instructions built in Spanish from the
    structured prescription, education from the MedlinePlus en español entries; the drug names and
    the psychiatrist's own words as written, marked English."""
    from clinic import languages
    from medications.checklists import education_es

    visit = _visit_with_changes(patient, psychiatrist, reason_for_patient="To help with low mood and sleep.")
    _sign(client, psychiatrist, patient, visit, django_capture_on_commit_callbacks)
    languages.set_preference(patient.user, "es")
    log_in(client, patient.user)

    response = client.get(reverse("patients:my_visit_summary", args=[visit.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="es">' in page
    assert "Qué cambió hoy" in page and "Se empezó sertraline" in page
    assert "Tome 1 tableta (50 mg) por vía oral una vez al día por la mañana." in page
    assert "Se suspendió trazodone" in page and "Deje de tomar trazodone." in page
    assert '<p lang="en">To help with low mood and sleep.</p>' in page
    assert education_es("sertraline")["common_side_effects"] in page
    assert "Started sertraline" not in page and "Take 1 tablet" not in page
    text = _pdf_text(client.get(reverse("patients:my_visit_summary_pdf", args=[visit.pk])))
    assert "Resumen de su consulta" in text and "Tome 1 tableta" in text
