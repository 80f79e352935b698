"""Notifications follow the task they ask for (issue 16, item 20): a filled questionnaire's
reminder is no longer "New" in the portal, and what is still unsent about it is not sent."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import Notification, NotificationPreference
from notifications import badge
from patients import questionnaires
from tests.helpers import log_in

pytestmark = pytest.mark.django_db
Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status


def quiet_all_day(user) -> None:
    """Email waits for quiet hours to end: the in-app copy goes now, the email stays unsent."""
    now = timezone.localtime(timezone.now(), user.zone)
    NotificationPreference.objects.create(
        user=user,
        quiet_hours_start=(now - datetime.timedelta(hours=1)).time(),
        quiet_hours_end=(now + datetime.timedelta(hours=2)).time(),
    )
    user.refresh_from_db()


def test_filling_the_questionnaire_settles_its_reminders(
    client, patient, psychiatrist, worker, django_capture_on_commit_callbacks
):
    quiet_all_day(patient.user)
    assignment = questionnaires.assign(patient=patient, instrument="phq9", assigned_by=psychiatrist)
    worker()
    rows = Notification.objects.filter(recipient=patient.user, kind=Kind.QUESTIONNAIRE_DUE)
    assert sorted(rows.values_list("channel", "status")) == [
        (Channel.EMAIL, Status.PENDING),
        (Channel.IN_APP, Status.SENT),
    ]
    log_in(client, patient.user)
    assert badge.unread_count(patient.user) == 1

    answers = {f"item_{n}": "1" for n in range(1, 10)} | {"item_9": "0", "item_difficulty": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        filled = client.post(reverse("patients:my_questionnaire_fill", args=[assignment.pk]), answers)

    assert filled.status_code == 200
    assert sorted(rows.values_list("channel", "status")) == [
        (Channel.EMAIL, Status.CANCELLED),
        (Channel.IN_APP, Status.SENT),
    ]
    assert rows.get(channel=Channel.IN_APP).read_at is not None
    assert badge.unread_count(patient.user) == 0
    page = client.get(reverse("notifications")).content.decode()
    assert "Your care team has asked you to fill in a short questionnaire." in page
    assert ">New</span>" not in page


def test_withdrawing_the_request_settles_its_reminders(patient, psychiatrist, worker):
    assignment = questionnaires.assign(patient=patient, instrument="gad7", assigned_by=psychiatrist)
    worker()

    assert questionnaires.cancel(assignment, actor=psychiatrist)

    in_app = Notification.objects.get(recipient=patient.user, kind=Kind.QUESTIONNAIRE_DUE, channel=Channel.IN_APP)
    assert in_app.read_at is not None
    assert Notification.objects.unread_in_app(patient.user).count() == 0


# -- A burst of one kind is one notice ----------------------------------------------------------


def test_many_prescriptions_due_at_once_are_one_notice_per_prescriber(client, psychiatrist, psychiatrist2, worker):
    from medications import reviews
    from tests import factories

    long_ago = timezone.localdate() - datetime.timedelta(days=120)
    drugs = [("sertraline", "50"), ("bupropion", "150"), ("lithium", "300")]
    for _ in range(7):
        patient = factories.PatientFactory(user=factories.PatientUserFactory(), primary_psychiatrist=psychiatrist)
        for drug, dose in drugs:
            factories.start(patient, psychiatrist, drug=drug, dose=dose, strength=dose, start_date=long_ago)
    other = factories.PatientFactory(user=factories.PatientUserFactory(), primary_psychiatrist=psychiatrist2)
    factories.start(other, psychiatrist2, start_date=long_ago)

    created = reviews.plan_prescription_reviews()

    assert sorted((row.recipient_id, row.subject.count) for row in created) == sorted(
        [(psychiatrist.pk, 21), (psychiatrist2.pk, 1)]
    )
    assert reviews.plan_prescription_reviews() == []  # each prescription is told once per window
    worker()
    log_in(client, psychiatrist)
    page = client.get(reverse("notifications")).content.decode()
    assert page.count("due for review") == 1
    assert "21 prescriptions are due for review" in page
    assert Notification.objects.filter(kind=Kind.PRESCRIPTION_REVIEW_DUE, recipient=psychiatrist).count() == 1
