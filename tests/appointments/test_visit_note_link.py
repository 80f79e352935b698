"""A visit note written for a booked visit: the appointment points at the note
(Appointment.visit_note, written by booking.link_visit_note), and the record only says which notes
were signed (visit_notes_signed with note ids), from which the schedule keeps its "note missing"
flag."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments import booking
from appointments.models import Appointment, AppointmentType
from patients import notes
from patients.models import VisitNote
from tests import factories
from tests.helpers import log_in

pytestmark = pytest.mark.django_db


def visit(patient, psychiatrist, status=Appointment.Status.COMPLETED, days_ago=1) -> Appointment:
    kind, _ = AppointmentType.objects.get_or_create(name="Link follow-up")
    start = timezone.now() - datetime.timedelta(days=days_ago)
    return Appointment.objects.create(
        patient=patient, psychiatrist=psychiatrist, appointment_type=kind, start=start,
        end=start + datetime.timedelta(minutes=30), booked_by=psychiatrist, status=status,
    )  # fmt: skip


def linked(appointment: Appointment):
    return Appointment.objects.values_list("visit_note_id", "note_signed").get(pk=appointment.pk)


def test_it_links_a_draft_and_signing_it_sets_the_flag(patient, psychiatrist):
    appointment = visit(patient, psychiatrist)
    note = factories.visit(patient, psychiatrist)

    assert booking.link_visit_note(appointment, note)
    assert linked(appointment) == (note.pk, False)
    assert VisitNote.objects.get(pk=note.pk).appointment == appointment  # the reverse accessor

    notes.sign(note, actor=psychiatrist)

    assert linked(appointment) == (note.pk, True)


def test_linking_a_signed_note_sets_the_flag_at_once(patient, psychiatrist):
    appointment = visit(patient, psychiatrist)
    note = factories.visit(patient, psychiatrist, signed=True)

    assert booking.link_visit_note(appointment, note)

    assert linked(appointment) == (note.pk, True)


def test_a_note_signed_by_saving_it_sets_the_flag(patient, psychiatrist):
    appointment = visit(patient, psychiatrist)
    note = factories.visit(patient, psychiatrist, appointment=appointment)
    note.status, note.signed_by, note.signed_at = VisitNote.Status.SIGNED, psychiatrist, timezone.now()

    note.save()

    assert linked(appointment) == (note.pk, True)


def test_signing_flags_only_the_visit_the_note_was_written_for(patient, psychiatrist):
    written_for, other = visit(patient, psychiatrist, days_ago=2), visit(patient, psychiatrist)
    note = factories.visit(patient, psychiatrist, appointment=written_for)
    unlinked = factories.visit(patient, psychiatrist)

    notes.sign(unlinked, actor=psychiatrist)
    assert Appointment.objects.filter(note_signed=True).count() == 0
    notes.sign(note, actor=psychiatrist)

    assert (linked(written_for), linked(other)) == ((note.pk, True), (None, False))


def test_it_refuses_another_patients_a_noted_a_cancelled_and_a_missed_visit(
    patient, patient2, psychiatrist, psychiatrist2
):
    theirs = visit(patient2, psychiatrist2)
    noted = visit(patient, psychiatrist, days_ago=2)
    first = factories.visit(patient, psychiatrist, appointment=noted)
    cancelled = visit(patient, psychiatrist, status=Appointment.Status.CANCELLED, days_ago=3)
    missed = visit(patient, psychiatrist, status=Appointment.Status.NO_SHOW, days_ago=4)
    note = factories.visit(patient, psychiatrist)

    for appointment in (theirs, noted, cancelled, missed):
        assert booking.visit_to_note(patient, appointment.pk) is None
        assert not booking.link_visit_note(appointment, note)

    assert [linked(a) for a in (theirs, noted, cancelled, missed)] == [
        (None, False), (first.pk, False), (None, False), (None, False),
    ]  # fmt: skip


def test_a_second_note_for_a_noted_visit_is_saved_without_it(client, patient, psychiatrist):
    """As before the link moved: the form drops a visit that already has its note (two tabs)."""
    appointment = visit(patient, psychiatrist)
    log_in(client, psychiatrist)
    url = reverse("appointments:visit_create", args=[patient.pk]) + f"?appointment={appointment.pk}"
    data = {"visit_at": "2026-06-01T10:00", "modality": "in_person", "interval_history": "Doing well.",
            "adherence": "as_prescribed", "appointment": appointment.pk}  # fmt: skip

    assert client.post(url, data).status_code == 302
    assert client.post(url, data | {"interval_history": "Second tab."}).status_code == 302

    first, second = VisitNote.objects.filter(patient=patient).order_by("pk")
    assert linked(appointment) == (first.pk, False)
    assert not Appointment.objects.filter(visit_note=second).exists()
