"""A change to a patient's visit that they did not make themselves reaches them (issue 16, item 1):
the front desk's booking, move or cancellation goes through the outbox on each channel they allow
and shows in their in-app notifications. Their own changes tell the staff, not themselves."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from appointments import booking
from appointments.models import Appointment, AppointmentType, WaitlistEntry, WeeklyAvailability
from clinic.models import Notification, NotificationPreference
from tests.factories import PatientFactory
from tests.helpers import log_in

pytestmark = pytest.mark.django_db
NY = zoneinfo.ZoneInfo("America/New_York")
NOW = datetime.datetime(2026, 6, 1, 8, 0, tzinfo=NY)  # a Monday
Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status
NOTICES = (Kind.VISIT_BOOKED, Kind.VISIT_MOVED, Kind.VISIT_CANCELLED)


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 6, day, hour, minute, tzinfo=NY)


def local(moment: datetime.datetime) -> str:
    return moment.astimezone(NY).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def follow_up(db):
    return AppointmentType.objects.create(name="Test follow-up", duration_minutes=30, patient_bookable=True)


@pytest.fixture
def hours(psychiatrist, clinic_admin, patient):
    for user in (psychiatrist, clinic_admin, patient.user):
        user.time_zone = "America/New_York"
        user.save(update_fields=["time_zone"])
    for weekday in range(5):
        WeeklyAvailability.objects.create(
            psychiatrist=psychiatrist, weekday=weekday, start_time=datetime.time(9), end_time=datetime.time(17)
        )
    return psychiatrist


def notices(patient, **filters):
    return Notification.objects.filter(recipient=patient.user, kind__in=NOTICES, **filters)


def test_front_desk_booking_move_and_cancellation_each_reach_the_patient(
    client, clinic_admin, hours, patient, follow_up, worker
):
    log_in(client, clinic_admin)
    booked = client.post(
        reverse("appointments:book"),
        {"patient": patient.pk, "psychiatrist": hours.pk, "appointment_type": follow_up.pk, "start": local(at(3, 10))},
    )
    assert booked.status_code == 302
    appointment = Appointment.objects.get(patient=patient)
    url = reverse("appointments:appointment_detail", args=[appointment.pk])
    worker()
    assert client.post(url, {"move-start": local(at(4, 15)), "move": ""}).status_code == 302
    worker()
    page = client.get(url)
    assert "The patient is told" in page.content.decode()  # the confirm dialog's promise
    assert client.post(url, {"cancel-reason": "Psychiatrist ill", "cancel": ""}).status_code == 302
    worker()

    # In-app and email (the defaults), each change once; no SMS without consent.
    sent = notices(patient, status=Status.SENT)
    assert sorted(sent.values_list("kind", "channel")) == sorted(
        (kind, channel) for kind in NOTICES for channel in (Channel.EMAIL, Channel.IN_APP)
    )
    subjects = sorted(message.subject for message in mail.outbox if message.to == [patient.user.email])
    assert subjects == [
        "Appointment booked for Wed, Jun 3 at 10:00",
        "Your appointment is now on Thu, Jun 4 at 15:00",
        "Your appointment on Thu, Jun 4 at 15:00 is cancelled",
    ]

    client.logout()
    log_in(client, patient.user)
    inbox = client.get(reverse("notifications"))
    assert inbox.status_code == 200
    text = inbox.content.decode()
    assert "The clinic booked an appointment for you on Wed, Jun 3 at 10:00." in text
    assert "The clinic moved your appointment. It is now on Thu, Jun 4 at 15:00." in text
    assert "The clinic cancelled your appointment on Thu, Jun 4 at 15:00." in text


def test_patients_own_changes_do_not_notify_them(client, hours, patient, follow_up):
    mine = booking.book(patient=patient, psychiatrist=hours, appointment_type=follow_up, start=at(3, 10),
                        booked_by=patient.user, by_patient=True)  # fmt: skip
    booking.move(mine, new_start=at(3, 14), by=patient.user, by_patient=True)
    booking.cancel(mine, by=patient.user, reason="Feeling better", by_patient=True)
    # An offer the patient accepts is their own booking too.
    entry = WaitlistEntry.objects.create(
        patient=patient, psychiatrist=hours, appointment_type=follow_up, wanted_before=at(10, 9),
        status=WaitlistEntry.Status.OFFERED, offer_start=at(5, 10), offer_end=at(5, 10, 30),
        offer_expires_at=NOW + datetime.timedelta(hours=4),
    )  # fmt: skip
    booking.accept_offer(entry, by=patient.user)

    assert notices(patient).count() == 0
    # The staff heard of each online change instead.
    assert Notification.objects.filter(recipient=hours, kind=Kind.APPOINTMENT_CANCELLED).count() == 2  # in-app, email


def test_texts_follow_consent_and_quiet_hours(hours, clinic_admin, patient, follow_up):
    NotificationPreference.objects.create(
        user=patient.user, sms_enabled=True, sms_phone="+16175550123",
        quiet_hours_start=datetime.time(7), quiet_hours_end=datetime.time(9),
    )  # fmt: skip
    patient.user.refresh_from_db()
    appointment = booking.book(patient=patient, psychiatrist=hours, appointment_type=follow_up, start=at(3, 10),
                               booked_by=clinic_admin)  # fmt: skip

    rows = {row.channel: row for row in notices(patient, subject_id=appointment.pk)}
    assert set(rows) == {Channel.IN_APP, Channel.EMAIL, Channel.SMS}
    assert rows[Channel.IN_APP].send_at == NOW  # the portal is silent: at once
    # 08:00 is inside 07:00-09:00: email and text wait for the quiet hours to end.
    assert rows[Channel.EMAIL].send_at == rows[Channel.SMS].send_at == at(1, 9)


def test_a_notice_overtaken_by_another_change_is_not_sent(hours, clinic_admin, patient, follow_up, worker):
    appointment = booking.book(patient=patient, psychiatrist=hours, appointment_type=follow_up, start=at(3, 10),
                               booked_by=clinic_admin)  # fmt: skip
    booking.move(appointment, new_start=at(3, 11), by=clinic_admin)
    booking.move(appointment, new_start=at(3, 12), by=clinic_admin)
    booking.cancel(appointment, by=clinic_admin, reason="Clinic closed")
    worker()

    # Only the cancellation is told: the booking and moves were never delivered, and are closed.
    assert sorted(notices(patient, status=Status.SENT).values_list("kind", flat=True)) == [
        Kind.VISIT_CANCELLED, Kind.VISIT_CANCELLED,
    ]  # fmt: skip
    assert notices(patient, status=Status.CANCELLED).count() == 6  # 3 notices x (in-app, email)


def test_a_series_is_told_once_and_a_patient_without_a_login_not_at_all(hours, clinic_admin, patient, follow_up):
    booked = booking.book_series(patient=patient, psychiatrist=hours, appointment_type=follow_up,
                                 starts=[at(2, 10), at(9, 10), at(16, 10)], booked_by=clinic_admin)  # fmt: skip
    rows = notices(patient)
    assert rows.count() == 2  # in-app and email, about the first visit
    assert {row.subject_id for row in rows} == {booked[0].pk}
    from notifications.messages import in_app_text

    row = rows.get(channel=Channel.IN_APP)
    assert in_app_text(row)[0] == (
        "The clinic booked an appointment for you on Tue, Jun 2 at 10:00, the first of a series of follow-up visits."
    )

    offline = PatientFactory(user=None, primary_psychiatrist=hours)
    visit = booking.book(patient=offline, psychiatrist=hours, appointment_type=follow_up, start=at(3, 10),
                         booked_by=clinic_admin)  # fmt: skip
    booking.cancel(visit, by=clinic_admin, reason="Clinic closed")
    assert Notification.objects.filter(patient=offline).count() == 0


def test_confirm_dialog_says_who_tells_a_patient_without_a_login(client, clinic_admin, hours, follow_up):
    offline = PatientFactory(user=None, primary_psychiatrist=hours)
    visit = booking.book(patient=offline, psychiatrist=hours, appointment_type=follow_up, start=at(3, 10),
                         booked_by=clinic_admin)  # fmt: skip
    log_in(client, clinic_admin)
    page = client.get(reverse("appointments:appointment_detail", args=[visit.pk])).content.decode()
    assert "The patient has no portal account: call them to tell them." in page
    assert "The patient is told" not in page
