"""Telehealth end to end: every booking path gets its video link from the clinic's provider
setting, staff can change it, the patient sees it only in the join window, reminders link to the
portal (never the room), the camera test page alone may use the camera, and a video visit's note
records where the patient was."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from appointments import booking, reminders
from appointments.models import Appointment, AppointmentType, WeeklyAvailability
from appointments.telehealth_views import CAMERA_POLICY
from clinic.models import AuditEvent, ClinicProfile, Notification
from notifications import messages as outbox_messages
from patients import notes
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db
NY = zoneinfo.ZoneInfo("America/New_York")
NOW = datetime.datetime(2026, 6, 1, 8, 0, tzinfo=NY)  # a Monday
TEMPLATE = "https://meet.example.com/titrate-{room}"


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 6, day, hour, minute, tzinfo=NY)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def video(db):
    return AppointmentType.objects.create(
        name="Video follow-up", duration_minutes=30, patient_bookable=True, modality="telehealth",
        reminder_offsets_hours=[24],
    )  # fmt: skip


@pytest.fixture
def hours(psychiatrist):
    psychiatrist.time_zone = "America/New_York"
    psychiatrist.save(update_fields=["time_zone"])
    for weekday in range(5):
        WeeklyAvailability.objects.create(
            psychiatrist=psychiatrist, weekday=weekday, start_time=datetime.time(9), end_time=datetime.time(17)
        )
    return psychiatrist


def provider(kind: str, template: str = "") -> ClinicProfile:
    profile = ClinicProfile(name="Riverside Psychiatry", phone="555-0100", video_provider=kind)
    profile.video_url_template = template
    profile.save()
    return profile


def test_self_booked_staff_booked_and_recurring_visits_each_get_their_own_room(client, patient, hours, video):
    provider("template", TEMPLATE)
    log_in(client, patient.user)
    response = client.post(reverse("appointments:my_book"), {"type": video.pk, "start": at(3, 10).isoformat()})
    assert response["Location"] == reverse("appointments:my_appointments")
    staff_booked = booking.book(patient=patient, psychiatrist=hours, appointment_type=video, start=at(4, 10),
                                booked_by=hours)  # fmt: skip
    series = booking.book_series(patient=patient, psychiatrist=hours, appointment_type=video,
                                 starts=[at(8, 10), at(15, 10)], booked_by=hours)  # fmt: skip

    links = list(Appointment.objects.order_by("start").values_list("telehealth_url", flat=True))
    assert len(links) == 4
    assert all(link.startswith("https://meet.example.com/titrate-") for link in links)
    assert len(set(links)) == 4  # a room per visit, never shared with another patient's visit
    assert staff_booked.telehealth_url == links[1] and series[0].telehealth_url == links[2]


def test_personal_rooms_and_in_person_visits(patient, hours, video):
    provider("personal")
    hours.video_room_url = "https://meet.example.com/dr-room"
    hours.save(update_fields=["video_room_url"])
    in_person = AppointmentType.objects.create(name="Office visit", duration_minutes=30)

    remote = booking.book(patient=patient, psychiatrist=hours, appointment_type=video, start=at(3, 10), booked_by=hours)
    office = booking.book(patient=patient, psychiatrist=hours, appointment_type=in_person, start=at(3, 11),
                          booked_by=hours)  # fmt: skip

    assert remote.telehealth_url == "https://meet.example.com/dr-room"
    assert office.telehealth_url == ""


def test_without_a_provider_a_typed_link_is_kept_and_none_is_invented(patient, hours, video):
    typed = booking.book(patient=patient, psychiatrist=hours, appointment_type=video, start=at(3, 10),
                         booked_by=hours, telehealth_url="https://video.example.org/r/1")  # fmt: skip
    untyped = booking.book(patient=patient, psychiatrist=hours, appointment_type=video, start=at(3, 11),
                           booked_by=hours)  # fmt: skip
    assert (typed.telehealth_url, untyped.telehealth_url) == ("https://video.example.org/r/1", "")


def _video_visit(patient, psychiatrist, video, start):
    return factories.AppointmentFactory(
        patient=patient, psychiatrist=psychiatrist, appointment_type=video, start=start,
        telehealth_url="https://meet.example.com/titrate-abc",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("minutes_from_start", "shown"),
    [(-16, False), (-15, True), (0, True), (29, True), (30, False)],
)
def test_join_shows_only_from_15_minutes_before_to_the_end(client, patient, psychiatrist, video, minutes_from_start,
                                                           shown):  # fmt: skip
    appointment = _video_visit(patient, psychiatrist, video, at(2, 10))
    with time_machine.travel(appointment.start + datetime.timedelta(minutes=minutes_from_start), tick=False):
        log_in(client, patient.user)  # inside the travel: a session idle for a day has timed out
        listing = client.get(reverse("appointments:my_appointments")).content.decode()
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        page = client.get(reverse("appointments:my_join", args=[appointment.pk]))

    join_link = reverse("appointments:my_join", args=[appointment.pk])
    # At the end the visit leaves "Upcoming"; before the window it is listed without the button.
    assert (join_link in listing) is shown
    assert page.status_code == 200
    assert (appointment.telehealth_url in page.content.decode()) is shown
    assert appointment.telehealth_url not in listing  # the list never carries the room itself
    row = AuditEvent.objects.get(id__gt=last)
    assert (row.patient_id, row.detail["page"]) == (patient.pk, "video_join" if shown else "video_join_closed")


def test_a_cancelled_visit_has_no_join(client, patient, psychiatrist, video):
    appointment = _video_visit(patient, psychiatrist, video, at(1, 8, 5))
    Appointment.objects.filter(pk=appointment.pk).update(status="cancelled")
    log_in(client, patient.user)
    page = client.get(reverse("appointments:my_join", args=[appointment.pk]))
    assert appointment.telehealth_url not in page.content.decode()


def test_another_patient_gets_404_for_the_join_page(client, patient, patient2, psychiatrist, video):
    appointment = _video_visit(patient, psychiatrist, video, at(1, 8, 5))
    log_in(client, patient2.user)
    assert client.get(reverse("appointments:my_join", args=[appointment.pk])).status_code == 404


def test_join_page_query_budget(client, patient, psychiatrist, video, django_assert_max_num_queries):
    appointment = _video_visit(patient, psychiatrist, video, at(1, 8, 5))
    log_in(client, patient.user)
    # session, user, patient, appointment (+ psychiatrist, type), audit (transaction, chain head, insert)
    with django_assert_max_num_queries(9):
        assert client.get(reverse("appointments:my_join", args=[appointment.pk])).status_code == 200


def test_staff_change_the_link_and_a_non_https_link_is_refused(client, patient, psychiatrist, clinic_admin, video):
    appointment = _video_visit(patient, psychiatrist, video, at(3, 10))
    log_in(client, clinic_admin)
    url = reverse("appointments:appointment_detail", args=[appointment.pk])

    refused = client.post(url, {"video_link": "", "telehealth_url": "http://insecure.example.com/x"}, follow=True)
    appointment.refresh_from_db()
    assert appointment.telehealth_url == "https://meet.example.com/titrate-abc"
    assert "must be an address starting with https://" in refused.content.decode()

    client.post(url, {"video_link": "", "telehealth_url": "https://meet.example.com/new-room"})
    appointment.refresh_from_db()
    assert appointment.telehealth_url == "https://meet.example.com/new-room"
    change = AuditEvent.objects.filter(action="update", object_id=str(appointment.pk)).get()
    assert (change.patient_id, change.detail) == (patient.pk, {"change": "video_link"})


def test_the_reminder_links_to_the_portal_never_to_the_room(patient, psychiatrist, video):
    appointment = _video_visit(patient, psychiatrist, video, at(3, 10))
    rows = reminders.plan_appointment_reminders(appointment)
    rendered = [outbox_messages.render_message(row) for row in rows if row.channel != Notification.Channel.IN_APP]

    assert {row.channel for row in rows} >= {"email"}
    join_path = reverse("appointments:my_join", args=[appointment.pk])
    for message in rendered:
        text = f"{message.subject} {message.text} {message.html}"
        assert appointment.telehealth_url not in text
        assert "meet.example.com" not in text
        assert join_path in text


def test_only_the_camera_test_page_may_use_the_camera(client, patient):
    log_in(client, patient.user)
    camera = client.get(reverse("appointments:camera_test"))
    other = client.get(reverse("appointments:my_appointments"))

    assert camera.status_code == 200
    assert camera["Permissions-Policy"] == CAMERA_POLICY
    assert "camera=(self)" in camera["Permissions-Policy"] and "microphone=(self)" in camera["Permissions-Policy"]
    assert "camera=()" in other["Permissions-Policy"]
    body = camera.content.decode()
    assert "js/camera_test.js" in body and "<script>" not in body  # no inline script under the CSP
    assert "script-src 'self'" in camera["Content-Security-Policy"]


def test_telehealth_settings_keep_what_was_typed_on_error_and_save_when_valid(client, clinic_admin, psychiatrist):
    log_in(client, clinic_admin)
    url = reverse("appointments:telehealth_settings")
    bad = client.post(url, {"video_provider": "template", "video_url_template": "https://meet.example.com/fixed"})
    assert bad.status_code == 200
    assert "Put {room} once" in bad.content.decode()
    assert 'value="https://meet.example.com/fixed"' in bad.content.decode()
    assert not ClinicProfile.objects.exists()

    good = client.post(url, {"video_provider": "template", "video_url_template": TEMPLATE,
                             f"room_{psychiatrist.pk}": "https://meet.example.com/dr"})  # fmt: skip
    assert good.status_code == 302
    profile = ClinicProfile.objects.get()
    assert (profile.video_provider, profile.video_url_template) == ("template", TEMPLATE)
    psychiatrist.refresh_from_db()
    assert psychiatrist.video_room_url == "https://meet.example.com/dr"
    assert AuditEvent.objects.filter(action="update", detail__change="telehealth_settings").count() == 1


def test_personal_rooms_need_at_least_one_room(client, clinic_admin, psychiatrist):
    log_in(client, clinic_admin)
    response = client.post(reverse("appointments:telehealth_settings"), {"video_provider": "personal"})
    assert "at least one psychiatrist" in response.content.decode()
    assert not ClinicProfile.objects.exists()


def _note_data(**fields):
    return {"visit_at": "2026-06-01T07:30", "modality": "telehealth", "interval_history": "Doing better.",
            "adherence": "as_prescribed", **fields}  # fmt: skip


def test_a_video_visit_note_requires_the_patients_state(client, patient, psychiatrist):
    log_in(client, psychiatrist)
    url = reverse("appointments:visit_create", args=[patient.pk])
    refused = client.post(url, _note_data())
    assert refused.status_code == 200
    assert "Ask the patient where they are now" in refused.content.decode()
    assert not patient.visit_notes.exists()

    saved = client.post(url, _note_data(patient_location_state="NJ"))
    assert saved.status_code == 302
    assert patient.visit_notes.get().patient_location_state == "NJ"


def test_signing_a_video_visit_without_the_state_is_refused(patient, psychiatrist):
    note = factories.visit(patient, psychiatrist, modality="telehealth")
    assert "patient's location (state) for a video visit" in notes.missing_for_signature(note)
    note.patient_location_state = "NY"
    assert notes.missing_for_signature(note) == []


def test_a_spanish_patient_joins_and_tests_the_camera_in_spanish(client, patient, psychiatrist, video):
    """Issue 22 on the video pages: the appointment list, the join page (closed, then open) and the
    camera test hold no English for a patient who reads Spanish."""
    from clinic import languages
    from tests.i18n_check import english_left

    languages.set_preference(patient.user, "es")
    appointment = _video_visit(patient, psychiatrist, video, at(2, 10))
    names = (psychiatrist.display_name, video.name)
    join = reverse("appointments:my_join", args=[appointment.pk])
    with time_machine.travel(appointment.start - datetime.timedelta(minutes=30), tick=False):
        log_in(client, patient.user)
        listing = client.get(reverse("appointments:my_appointments")).content.decode()
        closed = client.get(join).content.decode()
        camera = client.get(reverse("appointments:camera_test")).content.decode()
    with time_machine.travel(appointment.start, tick=False):
        log_in(client, patient.user)
        listed_open = client.get(reverse("appointments:my_appointments")).content.decode()
        opened = client.get(join).content.decode()

    assert "Consulta por video" in listing and "El botón “Entrar” aparece aquí" in listing
    assert "El enlace para entrar aparece aquí desde las" in closed
    assert "Pruebe su cámara y su micrófono" in camera
    assert ">Entrar<" in listed_open
    assert "Entrar a la consulta por video" in opened and "https://meet.example.com/titrate-abc" in opened
    for page in (listing, closed, camera, listed_open, opened):
        assert '<html lang="es">' in page
        assert english_left(page, names=names) == []
