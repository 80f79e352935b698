"""Issue 22: the patient's language — chosen, remembered, used on pages, in dates, in reminders
(through the outbox, PHI-free) and in the questionnaires (the validated Spanish versions, scored
like the English ones). Staff pages stay English."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from appointments import reminders
from clinic import contact, dates, languages
from clinic.models import Notification, NotificationPreference, User
from medications import checklists, formulary
from notifications import channels
from patients import instruments
from patients.models import Patient, QuestionnaireResponse
from tests import factories
from tests.factories import PHI_MARKER
from tests.helpers import log_in

pytestmark = pytest.mark.django_db
Channel = Notification.Channel
PHONE = "+16175550123"


def _spanish(patient) -> None:
    languages.set_preference(patient.user, "es")


# -- Choosing and remembering ------------------------------------------------------------------


def test_footer_switch_stores_the_choice_on_account_record_and_cookie(client, patient):
    log_in(client, patient.user)

    response = client.post(reverse("set_language"), {"language": "es", "next": reverse("patient_home")})

    assert response.status_code == 302
    assert response["Location"] == reverse("patient_home")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    patient.refresh_from_db()
    patient.user.refresh_from_db()
    assert (patient.preferred_language, patient.user.language) == ("es", "es")
    page = client.get(reverse("patient_home"))
    assert page.status_code == 200
    assert '<html lang="es">' in page.content.decode()
    assert "Mis medicamentos" in page.content.decode()


def test_the_choice_outlives_the_session_and_the_cookie(client, patient):
    _spanish(patient)
    client.cookies.pop(settings.LANGUAGE_COOKIE_NAME, None)
    log_in(client, patient.user)

    page = client.get(reverse("patient_home"))

    assert "Mi atención" in page.content.decode()


def test_visitor_switch_sets_only_the_cookie_and_refuses_foreign_next(client, patient):
    response = client.post(reverse("set_language"), {"language": "es", "next": "https://evil.example/"})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert User.objects.filter(language="es").count() == 0
    assert Patient.objects.filter(preferred_language="es").count() == 0


def test_an_unknown_language_falls_back_to_english(client, patient):
    log_in(client, patient.user)

    client.post(reverse("set_language"), {"language": "fr"})

    patient.user.refresh_from_db()
    assert patient.user.language == "en"


def test_the_switch_changes_nothing_on_get(client, patient):
    log_in(client, patient.user)

    response = client.get(reverse("set_language"), {"language": "es"})

    assert response.status_code == 302  # a POST-only address sends a GET to the page above it
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    patient.user.refresh_from_db()
    assert patient.user.language == "en"


def test_staff_pages_stay_english_whatever_the_cookie(client, psychiatrist):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    log_in(client, psychiatrist)

    page = client.get(reverse("psychiatrist_home"))

    assert page.status_code == 200
    assert '<html lang="en">' in page.content.decode()


def test_front_desk_edit_of_the_record_moves_the_account(client, clinic_admin, patient):
    from patients import record

    patient.preferred_language = "es"
    record.update_demographics(patient, ["preferred_language"], by=clinic_admin)

    patient.user.refresh_from_db()
    assert patient.user.language == "es"


def test_migration_maps_free_text_to_codes(migrator):
    old = migrator(
        [("patients", "0015_i20refills_medication_reconciliation"), ("clinic", "0025_i20refills_notification_kinds")]
    )
    OldPatient, OldUser = old.get_model("patients", "Patient"), old.get_model("clinic", "User")
    made = {}
    for n, text in enumerate(["English", "Spanish", "Español", "spanish (Mexico)", "es", "Vietnamese", ""]):
        user = OldUser.objects.create(email=f"m{n}@example.org", role="patient")
        made[text] = OldPatient.objects.create(
            mrn=f"M{n}", legal_first_name="A", legal_last_name="B", date_of_birth=datetime.date(1990, 1, 1),
            preferred_language=text, user=user,
        ).pk  # fmt: skip

    new = migrator([("patients", "0016_i22i18n_preferred_language")])

    Patient_ = new.get_model("patients", "Patient")
    codes = {text: Patient_.objects.get(pk=pk).preferred_language for text, pk in made.items()}
    assert codes == {
        "English": "en", "Spanish": "es", "Español": "es", "spanish (Mexico)": "es", "es": "es",
        "Vietnamese": "en", "": "en",
    }  # fmt: skip
    spanish_users = set(new.get_model("clinic", "User").objects.filter(language="es").values_list("email", flat=True))
    assert spanish_users == {"m1@example.org", "m2@example.org", "m3@example.org", "m4@example.org"}


# -- Dates -------------------------------------------------------------------------------------


def test_dates_in_spanish():
    today = datetime.date(2027, 1, 10)
    day = datetime.date(2027, 3, 4)
    with translation.override("es"):
        assert dates.day(day, today=today) == "4 mar"
        assert dates.day(day, year=True) == "4 mar 2027"
        assert dates.weekday(day, today=today) == "jueves, 4 de marzo"
        assert dates.weekday(datetime.date(2028, 3, 6), today=today) == "lunes, 6 de marzo de 2028"
        assert dates.weekday(day, short=True, today=today) == "jue, 4 mar"
    with translation.override("en"):
        assert dates.weekday(day, today=today) == "Thursday, March 4"


# -- Reminders in the patient's language -------------------------------------------------------


@pytest.fixture
def texts(settings, monkeypatch):
    sent: list[str] = []

    class Recorder:
        def send(self, *, to, body, reference):
            sent.append(body)
            return f"SM-{reference}"

    monkeypatch.setitem(channels.SMS_BACKENDS, "recorder", Recorder)
    settings.TITRATE_SMS_BACKEND = "recorder"
    return sent


def _due_reminders(patient):
    NotificationPreference.objects.create(user=patient.user, email_enabled=True, sms_enabled=True, sms_phone=PHONE)
    kind = factories.AppointmentTypeFactory(reminder_offsets_hours=[48])
    start = timezone.now().replace(microsecond=0) + datetime.timedelta(days=3)
    appointment = factories.AppointmentFactory(
        patient=patient, psychiatrist=patient.primary_psychiatrist, appointment_type=kind, start=start
    )
    rows = reminders.plan_appointment_reminders(appointment)
    Notification.objects.about(appointment).update(send_at=timezone.now() - datetime.timedelta(seconds=1))
    return appointment, rows


def test_reminder_email_and_sms_in_spanish_phi_free(client, clinic_admin, patient, worker, texts):
    _spanish(patient)
    appointment, rows = _due_reminders(patient)
    assert {row.language for row in rows} == {"es"}  # planned in the patient's language

    outcomes = worker()

    assert set(outcomes.values()) == {"sent"}
    email = next(m for m in mail.outbox if m.to == [patient.user.email])
    with translation.override("es"):
        when = f"{dates.weekday(appointment.start.astimezone(patient.user.zone), short=True)}"
    assert email.subject.startswith("Recordatorio: su cita del ")
    assert when in email.subject
    assert "Le recordamos su cita del" in email.body
    assert "Confirme que vendrá:" in email.body
    html = email.alternatives[0][0]
    assert '<html lang="es">' in html and "Confirmo que iré" in html
    assert len(texts) == 1
    assert texts[0].startswith(f"{contact.clinic().name}: le recordamos su cita del ")
    assert " a las " in texts[0]
    # PHI-free in Spanish as in English: no name, drug, diagnosis or note (the factories' marker).
    for part in (email.subject, email.body, html, texts[0]):
        assert PHI_MARKER not in part
        assert patient.legal_first_name not in part
    assert set(Notification.objects.about(appointment).values_list("language", flat=True)) == {"es"}
    # The delivery report shows the language sent.
    log_in(client, clinic_admin)
    report = client.get(reverse("delivery_report"))
    assert report.status_code == 200
    assert report.content.decode().count('<td lang="es">Español</td>') == 3  # email, SMS, in-app


def test_switching_after_planning_sends_in_the_new_language(patient, worker, texts):
    appointment, rows = _due_reminders(patient)
    assert {row.language for row in rows} == {"en"}
    _spanish(patient)

    worker()

    assert texts and texts[0].startswith(f"{contact.clinic().name}: le recordamos")
    assert set(Notification.objects.about(appointment).values_list("language", flat=True)) == {"es"}


def test_english_patient_still_gets_english(patient, worker, texts):
    _due_reminders(patient)

    worker()

    assert texts[0].startswith(f"{contact.clinic().name}: reminder of your appointment on ")
    assert mail.outbox[0].subject.startswith("Reminder: your appointment on ")


def test_staff_notices_stay_english(patient, psychiatrist):
    _spanish(patient)
    psychiatrist.language = "es"  # staff cannot read the portal in Spanish yet
    assert languages.for_user(psychiatrist) == "en"


# -- Questionnaires: the validated Spanish versions ---------------------------------------------


def _assign(patient, psychiatrist, code):
    from patients import questionnaires

    return questionnaires.assign(patient=patient, instrument=code, assigned_by=psychiatrist)


def _answers(instrument, values):
    return {f"item_{key}": str(value) for key, value in values.items()}


def test_spanish_phq9_is_scored_like_the_english_one(client, patient, psychiatrist):
    _spanish(patient)
    assignment = _assign(patient, psychiatrist, instruments.PHQ9)
    log_in(client, patient.user)
    values = {"1": 2, "2": 3, "3": 1, "4": 2, "5": 0, "6": 1, "7": 2, "8": 1, "9": 0, "difficulty": 1}

    page = client.get(reverse("patients:my_questionnaire_fill", args=[assignment.pk]))
    assert "Poco interés o placer en hacer cosas" in page.content.decode()
    assert "Más de la mitad de los días" in page.content.decode()
    response = client.post(reverse("patients:my_questionnaire_fill", args=[assignment.pk]), _answers(None, values))

    assert response.status_code == 200
    stored = QuestionnaireResponse.objects.get(patient=patient, assignment=assignment)
    english = instruments.score(instruments.PHQ9, values)
    assert (stored.total, stored.band, stored.language) == (english.total, english.band, "es") == (12, "moderate", "es")
    assert "Moderada" in response.content.decode()


def test_psychiatrist_sees_spanish_answers_beside_the_english(client, patient, psychiatrist):
    from patients import questionnaires

    stored = questionnaires.submit(
        patient=patient,
        instrument=instruments.GAD7,
        answers={str(n): 1 for n in range(1, 8)},
        completed_by=patient.user,
        context=QuestionnaireResponse.Context.PORTAL,
        language="es",
    )
    log_in(client, psychiatrist)

    page = client.get(reverse("patients:questionnaire_detail", args=[patient.pk, stored.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Answered in Español" in html
    assert '<td lang="es">Se ha sentido nervioso(a), ansioso(a) o con los nervios de punta</td>' in html
    assert "<td>Feeling nervous, anxious, or on edge</td>" in html
    assert html.count('<td lang="es">Varios días</td>') == 7
    assert html.count("<td>Several days</td>") == 7


def test_an_instrument_without_a_validated_spanish_version_is_not_translated(client, patient, psychiatrist):
    _spanish(patient)
    assignment = _assign(patient, psychiatrist, instruments.ASRS_A)
    log_in(client, patient.user)

    page = client.get(reverse("patients:my_questionnaire_fill", args=[assignment.pk]))

    html = page.content.decode()
    assert "no tiene una versión validada en español" in html
    assert '<form method="post" novalidate lang="en">' in html
    assert instruments.ASRS_TEXTS[0] in html
    assert not instruments.available_in(instruments.ASRS_A, "es")
    assert not instruments.available_in(instruments.MDQ, "es")


def test_translations_keep_every_key_point_and_band():
    for code, spanish in instruments.TRANSLATIONS["es"].items():
        english = instruments.get(code)
        assert [i.key for i in spanish.items] == [i.key for i in english.items]
        for s_item, e_item in zip(spanish.items, english.items, strict=True):
            assert [(o.value, o.points) for o in s_item.options] == [(o.value, o.points) for o in e_item.options]
            assert (s_item.scored, s_item.required) == (e_item.scored, e_item.required)
        assert [(b.code, b.low, b.high) for b in spanish.bands] == [(b.code, b.low, b.high) for b in english.bands]
        assert "Pfizer" in spanish.source and "phqscreeners.com" in spanish.source


# -- Medication content -------------------------------------------------------------------------


def test_home_page_medicine_in_spanish_with_its_source(client, patient, psychiatrist):
    _spanish(patient)
    factories.start(patient, psychiatrist, drug="sertraline", extra_instructions="with food")
    log_in(client, patient.user)

    html = client.get(reverse("patient_home")).content.decode()

    assert "Tome 1 tableta (25 mg) por vía oral una vez al día por la mañana." in html
    assert '<span lang="en">(with food)</span>' in html  # the prescriber's own words, marked
    assert "La sertralina trata la depresión" in html
    assert "https://medlineplus.gov/spanish/druginfo/meds/a697048-es.html" in html


EDUCATION_FIELDS = ("purpose", "onset", "common_side_effects", "report_at_once", "stopping")
MEDLINEPLUS_ES = re.compile(r"^https://medlineplus\.gov/spanish/druginfo/meds/a\d{6}-es\.html$")


def _formulary_education() -> dict[str, dict]:
    return {e["generic_name"]: e["education"] for e in formulary.read_entries() if e["education"]["purpose"]}


def _education_es_file() -> dict:
    return json.loads(checklists.EDUCATION_ES_FILE.read_text(encoding="utf-8"))


def test_every_checklist_item_has_a_spanish_label():
    data = checklists._data()
    codes = {i["code"] for i in data["general"]} | {i["code"] for v in data["by_class"].values() for i in v}
    labels = checklists._labels_es()
    assert len(codes) == 95
    assert codes == set(labels)
    assert all(label.strip() for label in labels.values())


def test_every_formulary_medicine_has_spanish_education_or_a_stated_reason():
    english = _formulary_education()
    data = _education_es_file()
    written, not_written = data["medications"], data["not_written"]
    assert len(english) == 190
    assert not set(written) & set(not_written)
    assert set(written) | set(not_written) == set(english)
    assert all(reason.strip() for reason in not_written.values())
    assert len(written) == 52  # raise this as entries are written from MedlinePlus en español


def test_every_spanish_education_entry_cites_its_medlineplus_page_and_says_what_the_english_says():
    english = _formulary_education()
    number = re.compile(r"\d+")
    for name, entry in _education_es_file()["medications"].items():
        assert MEDLINEPLUS_ES.match(entry["source"]), name
        assert entry["source_name"].startswith("MedlinePlus en español: "), name
        written = [entry[key] for key in ("source", "source_name", *EDUCATION_FIELDS)]
        assert len(set(written)) == len(written), name  # no field copied into another
        for field in EDUCATION_FIELDS:
            spanish, source = entry[field], english[name][field]
            assert spanish.strip() and spanish != source, (name, field)
            # The same doses, timings and phone numbers as the English ("oprima 2" is the 988 menu).
            assert set(number.findall(spanish.replace("oprima 2", ""))) == set(number.findall(source)), (name, field)
            if "988" in source:
                assert "988" in spanish and "oprima 2" in spanish and "911" in spanish, (name, field)
    assert checklists.education_es("lamotrigine")["source"].endswith("/a695007-es.html")
    assert checklists.education_es("perphenazine") is None  # in not_written: shown in English


# Where a copy of the Spanish MedlinePlus page was read: MedlinePlus itself or an archive of it.
READ_FROM = re.compile(
    r"^https://(medlineplus\.gov/spanish|www\.nlm\.nih\.gov/medlineplus/spanish"
    r"|cybercemetery\.unt\.edu/archive/oilspill/\d{14}/http://www\.nlm\.nih\.gov/medlineplus/spanish"
    r"|webarchive\.library\.unt\.edu/eot2008/\d{14}/http:/www\.nlm\.nih\.gov/medlineplus/spanish)"
    r"/druginfo/meds/(a\d{6})-es\.html$"
)


def test_an_entry_checked_against_its_page_says_which_copy_was_read_and_what_part():
    entries = _education_es_file()["medications"]
    read = {name: entry for name, entry in entries.items() if "read_from" in entry}
    assert len(read) == 12  # the pages found in stored copies on 2026-12-06 (docs/i18n.md)
    for name, entry in read.items():
        match = READ_FROM.match(entry["read_from"])
        assert match, name
        assert entry["source"].endswith(f"/{match.group(2)}-es.html"), name  # the same page as cited
        assert entry["read_date"].strip() and entry["read_part"].strip(), name
    assert entries["triazolam"]["read_date"] == "2012-10-16"
    assert "read_from" not in entries["fluoxetine"]  # not found: still a rendering of the English


def test_a_stimulant_whose_page_disagrees_on_stopping_is_left_for_a_clinician():
    data = _education_es_file()
    for name in ("methylphenidate", "mixed amphetamine salts"):
        assert name not in data["medications"]
        assert "differs from our English" in data["not_written"][name]


def test_a_newly_covered_medicine_is_shown_in_spanish_without_the_not_ready_note(client, patient, psychiatrist):
    _spanish(patient)
    factories.start(patient, psychiatrist, drug="lamotrigine", dose="25", strength="25", frequency="qd")
    log_in(client, patient.user)

    html = client.get(reverse("patient_home")).content.decode()

    assert "La lamotrigina ayuda a prevenir la depresión" in html
    assert "https://medlineplus.gov/spanish/druginfo/meds/a695007-es.html" in html
    assert "CUALQUIER sarpullido nuevo" in html
    assert "todavía no está escrita en español" not in html and "Lamotrigine helps prevent" not in html


def test_every_monitoring_test_name_is_marked_for_translation():
    import json

    from medications import monitoring
    from medications.templatetags.monitoring_tags import PATIENT_TEST_NAMES

    names = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                names.add(value) if key == "patient_name" else walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(monitoring.DATA_FILE.read_text(encoding="utf-8")))
    assert names == set(PATIENT_TEST_NAMES)
    with translation.override("es"):
        assert translation.gettext("Lithium blood level") == "Nivel de litio en la sangre"


def test_calendar_feed_in_the_patients_language(client, patient, psychiatrist):
    from clinic.models import CalendarFeed

    _spanish(patient)
    factories.AppointmentFactory(
        patient=patient, psychiatrist=psychiatrist, start=timezone.now() + datetime.timedelta(days=5)
    )
    feed = CalendarFeed.objects.create(user=patient.user)

    body = client.get(reverse("appointments:ics_feed", args=[feed.token])).content.decode()

    assert "SUMMARY:Cita — clínica Titrate" in body
    assert "Entre a Titrate para ver los detalles." in body
    assert PHI_MARKER not in body


# -- Notices of the pages added since (messages, refills, check-ins, summaries) ------------------


def test_message_notice_email_and_sms_in_spanish_phi_free(patient, psychiatrist, worker, texts):
    from medications import messaging

    _spanish(patient)
    NotificationPreference.objects.create(user=patient.user, email_enabled=True, sms_enabled=True, sms_phone=PHONE)
    factories.start(patient, psychiatrist, drug="sertraline")
    messaging.start_thread(
        patient=patient, author=psychiatrist, kind="patient", category="medication",
        subject=f"Sertraline and {PHI_MARKER}", text=f"{PHI_MARKER}: raise the sertraline dose to 100 mg.",
    )  # fmt: skip
    rows = Notification.objects.filter(kind=Notification.Kind.MESSAGE_FOR_PATIENT, recipient=patient.user)
    assert {row.language for row in rows} == {"es"}
    Notification.objects.filter(kind=Notification.Kind.MESSAGE_FOR_PATIENT).update(
        send_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    outcomes = worker()

    assert outcomes and set(outcomes.values()) == {"sent"}
    email = next(m for m in mail.outbox if m.to == [patient.user.email])
    assert email.subject == "Tiene un mensaje nuevo de su equipo de atención"
    assert "Para proteger su privacidad, no va en este correo" in email.body
    assert "Entre al portal para leerlo: http" in email.body
    html = email.alternatives[0][0]
    assert '<html lang="es">' in html and "Entre al portal para leerlo" in html
    assert "Línea 988 de Prevención del Suicidio y Crisis" in html
    assert len(texts) == 1
    assert texts[0].startswith(f"{contact.clinic().name}: tiene un mensaje nuevo de su equipo de atención.")
    english = ("You have", "Log in", "message from your care team")
    for part in (email.subject, email.body, html, texts[0]):
        assert PHI_MARKER not in part
        assert patient.legal_first_name not in part
        assert "sertraline" not in part.lower() and "100 mg" not in part
        assert not any(words in part for words in english)
    assert set(rows.values_list("language", flat=True)) == {"es"}
    assert rows.get(channel=Channel.IN_APP).status == Notification.Status.SENT
