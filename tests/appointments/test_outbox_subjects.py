"""The outbox's rows name the visit or the waitlist offer they are about as a generic subject
(clinic.Notification.subject; docs/reminders.md, "What a row is about"): a visit or an offer that
rows are about still cannot be deleted, the admin still says so, and what reads the rows' subjects
(the sender, the in-app list) loads them in a number of queries that does not grow with the rows."""

from __future__ import annotations

import datetime

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appointments import reminders
from appointments.models import Appointment, WaitlistEntry
from clinic.models import Notification, User
from notifications import kinds, outbox, sending
from tests.factories import AppointmentFactory, AppointmentTypeFactory, PatientFactory, PatientUserFactory, UserFactory
from tests.helpers import log_in, warm_clinic_profile

pytestmark = pytest.mark.django_db

Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status


def visit(patient, days=3) -> Appointment:
    """A visit of ``patient`` in ``days``, an hour after the last one made (none overlap)."""
    start = timezone.now().replace(microsecond=0) + datetime.timedelta(days=days, hours=Appointment.objects.count())
    return AppointmentFactory(patient=patient, psychiatrist=patient.primary_psychiatrist, start=start)


def offer(patient, **fields) -> WaitlistEntry:
    """An open offer of a slot tomorrow, with its notifications (pending)."""
    now = timezone.now()
    slot = now + datetime.timedelta(days=1, hours=WaitlistEntry.objects.count())
    entry = WaitlistEntry.objects.create(
        patient=patient, psychiatrist=patient.primary_psychiatrist, appointment_type=AppointmentTypeFactory(),
        wanted_before=now + datetime.timedelta(days=30), status=WaitlistEntry.Status.OFFERED, offer_start=slot,
        offer_end=slot + datetime.timedelta(minutes=30), offer_expires_at=now + datetime.timedelta(hours=4), **fields,
    )  # fmt: skip
    assert reminders.notify_waitlist_offer(entry)
    return entry


def refused(instance_or_queryset) -> set:
    """The rows a refused delete names; the savepoint keeps the test's transaction usable (the
    refusal is raised inside the delete's transaction, which it rolls back)."""
    with pytest.raises(ProtectedError) as error, transaction.atomic():
        instance_or_queryset.delete()
    return {row.pk for row in error.value.protected_objects}


# -- What the foreign keys' PROTECT did ---------------------------------------------------------


def test_a_visit_that_rows_are_about_cannot_be_deleted(patient):
    appointment = visit(patient)
    rows = reminders.plan_appointment_reminders(appointment)
    other = visit(PatientFactory(user=PatientUserFactory()))

    assert refused(appointment) == {row.pk for row in rows}
    # A queryset's bulk delete too (Django's collector sends pre_delete for each object).
    assert refused(Appointment.objects.filter(pk__in=[appointment.pk, other.pk])) == {row.pk for row in rows}
    assert Appointment.objects.filter(pk__in=[appointment.pk, other.pk]).count() == 2

    # About nothing any more: deleted as before.
    Notification.objects.about(appointment).delete()
    appointment.delete()
    other.delete()
    assert not Appointment.objects.filter(pk__in=[appointment.pk, other.pk]).exists()


def test_an_offer_that_rows_are_about_cannot_be_deleted(patient):
    entry = offer(patient)

    assert refused(entry) == set(Notification.objects.about(entry).values_list("pk", flat=True)) != set()
    assert WaitlistEntry.objects.filter(pk=entry.pk).exists()


def test_rows_about_an_offer_do_not_protect_the_visit_with_the_same_id(patient):
    appointment = visit(patient)
    entry = offer(patient, pk=appointment.pk)
    assert Notification.objects.about(entry).exists()
    assert not Notification.objects.about(appointment).exists()

    appointment.delete()

    assert not Appointment.objects.filter(pk=appointment.pk).exists()
    assert WaitlistEntry.objects.filter(pk=entry.pk).exists()


def staff_superuser() -> User:
    return UserFactory(role=User.Role.CLINIC_ADMIN, is_staff=True, is_superuser=True)


def test_the_admin_lists_an_offers_rows_and_does_not_delete_it(client, patient):
    entry = offer(patient)
    free = WaitlistEntry.objects.create(
        patient=PatientFactory(user=PatientUserFactory()), psychiatrist=patient.primary_psychiatrist,
        appointment_type=AppointmentTypeFactory(), wanted_before=timezone.now() + datetime.timedelta(days=9),
    )  # fmt: skip
    log_in(client, staff_superuser())
    url = reverse("admin:appointments_waitlistentry_delete", args=[entry.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert "protected related objects" in page.content.decode()
    assert (
        page.content.decode().count("Notification: Earlier slot offered") == Notification.objects.about(entry).count()
    )
    assert client.post(url, {"post": "yes"}).status_code == 200  # the same page again, nothing deleted
    # No bulk action: every change goes through the audited pages (clinic.admin.PatientDataAdmin).
    changelist = reverse("admin:appointments_waitlistentry_changelist")
    bulk = client.post(changelist, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})
    assert bulk.status_code == 200
    assert WaitlistEntry.objects.filter(pk=entry.pk).exists()

    # An entry nothing is about is deleted as before.
    gone = client.post(reverse("admin:appointments_waitlistentry_delete", args=[free.pk]), {"post": "yes"})
    assert gone.status_code == 302
    assert not WaitlistEntry.objects.filter(pk=free.pk).exists()


# -- Writing and finding rows by subject ----------------------------------------------------------


def test_new_row_sets_the_subject_from_the_cache_and_keeps_the_instance(patient, django_assert_num_queries):
    appointment = visit(patient)
    ContentType.objects.get_for_model(appointment)  # warm, as in a running planner

    with django_assert_num_queries(0):
        row = outbox.new_row(
            idempotency_key="subject-test", kind=Kind.APPOINTMENT_REMINDER, channel=Channel.EMAIL,
            recipient_id=patient.user_id, subject=appointment, send_at=timezone.now(), expires_at=appointment.start,
        )  # fmt: skip
        assert row.subject is appointment

    assert (row.subject_type_id, row.subject_id) == (ContentType.objects.get_for_model(Appointment).pk, appointment.pk)
    assert outbox.new_row(idempotency_key="x", kind=Kind.LAB_DUE, channel=Channel.EMAIL).subject_type_id is None


def test_cancel_touches_only_its_subjects_open_rows_of_those_kinds(patient):
    appointment, other = visit(patient), visit(patient, days=4)
    mine = reminders.plan_appointment_reminders(appointment)
    theirs = reminders.plan_appointment_reminders(other)
    Notification.objects.filter(pk=mine[0].pk).update(status=Status.SENT)

    assert outbox.cancel(kinds=[Kind.APPOINTMENT_REMINDER], subject=appointment) == len(mine) - 1

    assert set(Notification.objects.about(appointment).values_list("status", flat=True)) == {
        Status.SENT,
        Status.CANCELLED,
    }
    assert set(Notification.objects.about(other).values_list("status", flat=True)) == {Status.PENDING}
    assert Notification.objects.about(appointment, other).count() == len(mine) + len(theirs)
    assert not Notification.objects.about().exists()


def test_one_loader_per_subject_model(monkeypatch):
    monkeypatch.setattr(kinds, "_rules", {})
    monkeypatch.setattr(kinds, "_loaders", dict(kinds._loaders))

    kinds.register(Kind.LAB_DUE, subjects=reminders._appointments)  # the same loader again: fine
    with pytest.raises(ValueError, match="already loaded by another function"):
        kinds.register(Kind.QUESTIONNAIRE_DUE, subjects=lambda: Appointment.objects.all())
    assert kinds.rules(Kind.QUESTIONNAIRE_DUE).subjects is None


# -- Loading subjects: one query per type, whatever the number of rows ---------------------------


def make_due(count: int) -> list[str]:
    """Rows about ``count`` visits and ``count`` offers (email and in-app), all due now."""
    ids = []
    for _ in range(count):
        patient = PatientFactory(user=PatientUserFactory())
        ids += [str(row.pk) for row in reminders.plan_appointment_reminders(visit(patient))]
        ids += [str(pk) for pk in Notification.objects.about(offer(patient)).values_list("pk", flat=True)]
    Notification.objects.filter(pk__in=ids).update(send_at=timezone.now() - datetime.timedelta(seconds=1))
    return ids


def test_a_batch_about_visits_and_offers_costs_the_same_whatever_its_size():
    # Warm, as in a running worker: every model a kind loads as a subject (kinds.with_subjects
    # reads every registered kind's subject type, not only these rows').
    ContentType.objects.get_for_models(*apps.get_models())
    warm_clinic_profile()
    small, large = make_due(1), make_due(6)

    costs, results = [], {}
    for ids in (small, large):
        with CaptureQueriesContext(connection) as queries:
            results.update(sending.send_batch(ids))
        costs.append(len(queries))

    # One query per subject type (visits, offers) whatever the number of rows.
    assert costs[0] == costs[1]
    assert results == {pk: Status.SENT for pk in small + large}
    offers = Notification.objects.filter(pk__in=large, kind=Kind.WAITLIST_OFFER, channel=Channel.EMAIL)
    assert offers.count() == 6
    # The offers' messages read their entries (the hold's end is in every offer's text).
    texts = [m.body for m in mail.outbox if "We are holding it for you until" in m.body]
    assert len(texts) == 7


def test_the_in_app_list_reads_subjects_in_the_same_queries_for_2_rows_or_12(client, patient):
    ContentType.objects.get_for_models(Appointment, WaitlistEntry)
    warm_clinic_profile()
    now = timezone.now()

    def shown(subjects):
        for subject in subjects:
            Notification.objects.create(
                idempotency_key=f"inbox:{subject._meta.model_name}:{subject.pk}", channel=Channel.IN_APP,
                kind=Kind.WAITLIST_OFFER if isinstance(subject, WaitlistEntry) else Kind.APPOINTMENT_REMINDER,
                recipient=patient.user, subject=subject, status=Status.SENT, sent_at=now, read_at=now,
                send_at=now - datetime.timedelta(hours=1), expires_at=now + datetime.timedelta(days=1),
            )  # fmt: skip

    def others_offer():
        return offer(PatientFactory(user=PatientUserFactory(), primary_psychiatrist=patient.primary_psychiatrist))

    log_in(client, patient.user)
    shown([visit(patient), others_offer()])
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("notifications"))
    shown([*(visit(patient, days=5 + i) for i in range(6)), *(others_offer() for _ in range(4))])
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("notifications")).content.decode()

    assert len(many) == len(few)
    assert page.count("You have an appointment on") == 7
    assert page.count("we hold it for you until") == 5
