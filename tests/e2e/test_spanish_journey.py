"""Issue 22 in a real browser, on a phone, in Spanish: a patient picks "Español" on the sign-in
page, signs in, reads their medicine and how to take it, reports a side effect from the Spanish
checklist, answers the Spanish PHQ-9 (scored exactly as the English one), books an appointment and
sets their reminders. Every page passes axe-core (0 serious/critical), CSP and script checks
(tests/e2e/browser.py); the pictures go to docs/screenshots/."""

from __future__ import annotations

import re
import shutil
import zoneinfo
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from appointments.models import Appointment
from clinic.models import NotificationPreference
from medications.models import SideEffectReport
from patients import instruments, questionnaires
from patients.models import QuestionnaireResponse
from tests import factories
from tests.e2e.browser import ARTIFACTS, PHONE, Journey

# After a transactional test's flush the formulary is empty: the journeys' fixture reloads it.
from tests.e2e.test_journeys import formulary, weekday_hours  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Items 1-9 and the difficulty item: the same answers score 12 ("moderate") in English.
ANSWERS = {"1": 2, "2": 3, "3": 1, "4": 2, "5": 0, "6": 1, "7": 2, "8": 1, "9": 0, "difficulty": 1}


def keep(journey: Journey, label: str) -> None:
    """A screenshot of the page as it is, also kept in docs/screenshots/."""
    shutil.copyfile(journey.screenshot(label), SCREENSHOTS / f"es-{label}-phone.png")


@pytest.mark.usefixtures("formulary")
def test_spanish_patient_journey_on_a_phone(
    live_server,
    chromium,
    celery_worker,
    psychiatrist,
    patient,
    weekday_hours,  # noqa: F811
):
    zone = zoneinfo.ZoneInfo(patient.user.time_zone)
    factories.start(patient, psychiatrist, drug="sertraline", dose="50", strength="50", extra_instructions="with food")
    phq9 = questionnaires.assign(patient=patient, instrument=instruments.PHQ9, assigned_by=psychiatrist)

    context = chromium.new_context(**PHONE, timezone_id=patient.user.time_zone)
    journey = Journey(context.new_page(), live_server.url, "spanish", ARTIFACTS)
    page = journey.page
    try:
        # The sign-in page, switched to Spanish from its footer: the choice follows the sign-in.
        journey.goto("/accounts/login/")
        journey.follow(lambda: page.get_by_role("button", name="Español").tap())
        expect(page.locator("html")).to_have_attribute("lang", "es")
        expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
        keep(journey, "sign-in")
        page.get_by_label(re.compile("correo", re.I)).fill(patient.user.email)
        page.get_by_label("Contraseña").fill(factories.DEMO_LIKE_PASSWORD)
        journey.follow(lambda: page.get_by_role("button", name="Iniciar sesión").tap())
        patient.refresh_from_db()
        patient.user.refresh_from_db()
        assert (patient.user.language, patient.preferred_language) == ("en", "en")  # the cookie only, so far

        # Home: the medicine, how to take it, and what it is for, in Spanish with the source.
        expect(page).to_have_url(re.compile("/my/$"))
        journey.follow(lambda: page.get_by_role("button", name="Español").tap())  # now kept on the account
        patient.user.refresh_from_db()
        assert patient.user.language == "es"
        medications = page.locator("section", has=page.get_by_role("heading", name="Mis medicamentos"))
        expect(medications).to_contain_text("Tome 1 tableta (50 mg) por vía oral una vez al día por la mañana.")
        medications.get_by_text("Sobre este medicamento").tap()
        expect(medications).to_contain_text("La sertralina trata la depresión")
        expect(medications.get_by_role("link", name="MedlinePlus en español: Sertralina")).to_be_visible()
        keep(journey, "home")

        # A side effect, from the Spanish checklist.
        journey.follow(lambda: page.locator("main").get_by_role("link", name="Informar un efecto secundario").tap())
        page.get_by_label("Malestar estomacal o ganas de vomitar (náuseas)").check()
        page.get_by_label("Moderado: me afecta en la vida diaria").check()
        page.get_by_label("¿Cuándo empezó?").fill(timezone.localdate(timezone.now(), zone).isoformat())
        keep(journey, "report")
        journey.follow(lambda: page.get_by_role("button", name="Enviar el informe").tap())
        expect(page.get_by_role("heading", name="Gracias: su informe fue enviado")).to_be_visible()
        report = SideEffectReport.objects.get(patient=patient)
        assert (report.symptoms, report.severity, report.triage_level) == (["nausea"], "moderate", "routine")

        # The PHQ-9 in its published Spanish version, scored exactly as the English one.
        journey.goto(f"/patients/me/questionnaires/{phq9.pk}/")
        expect(page.get_by_role("heading", name="Cuestionario sobre la salud del paciente (PHQ-9)")).to_be_visible()
        for key, value in ANSWERS.items():
            page.locator(f"input[name='item_{key}'][value='{value}']").check()
        keep(journey, "phq9")
        journey.follow(lambda: page.get_by_role("button", name="Enviar mis respuestas").tap(), "phq9-result")
        expect(page.get_by_text("Gracias: sus respuestas fueron enviadas")).to_be_visible()
        score = page.locator(".card", has_text="PHQ-9")
        expect(score).to_contain_text("12")
        expect(score.locator(".badge")).to_have_text("Moderada")
        stored = QuestionnaireResponse.objects.get(assignment=phq9)
        english = instruments.score(instruments.PHQ9, ANSWERS)
        assert (stored.total, stored.band, stored.language) == (english.total, english.band, "es")

        # Booking an appointment.
        journey.goto("/my/appointments/")
        journey.follow(lambda: page.get_by_role("link", name="Pedir una cita").tap())
        keep(journey, "book")
        # The second slot: the first starts just past the type's minimum notice, which a half-hour
        # boundary between showing the page and tapping can cross (the booking is then refused).
        journey.follow(lambda: page.locator("button[name=start]").nth(1).tap())
        booked = Appointment.objects.get(patient=patient)
        expect(page.get_by_role("status").first).to_contain_text("Reservada: ")
        expect(page.get_by_role("article")).to_contain_text(" a las ")
        assert booked.status == Appointment.Status.SCHEDULED
        keep(journey, "appointments")

        # Reminder settings: texts on, with a number; the saved message in Spanish.
        journey.goto("/settings/reminders/")
        page.get_by_label("Enviarme recordatorios de citas por mensaje de texto").check()
        page.get_by_label("Número de celular para mensajes de texto").fill("(617) 555-0123")
        journey.follow(lambda: page.get_by_role("button", name="Guardar").tap())
        expect(page.get_by_text("Se guardaron sus preferencias de recordatorios.")).to_be_visible()
        keep(journey, "reminders")
        prefs = NotificationPreference.objects.get(user=patient.user)
        assert (prefs.sms_enabled, prefs.sms_phone) == (True, "+16175550123")
        journey.finish()
    finally:
        context.close()
