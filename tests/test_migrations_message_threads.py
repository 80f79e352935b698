"""Side-effect replies become messages of their report's thread (medications/migrations/0021,
issue 20 item 1): forward, every reply keeps its text, author and time, in order, in one thread per
report; back, the care team's messages of report threads are replies again. Runs on PostgreSQL,
as production does; ends at the newest migrations."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import PatientFactory, PatientUserFactory, PsychiatristFactory, report
from tests.helpers import require_service

BEFORE = [("medications", "0020_formulary_comedications")]
AFTER = [("medications", "0021_i20messages_threads")]


@pytest.mark.services
def test_replies_move_into_report_threads_without_loss_and_back(migrator):
    require_service("PostgreSQL", connection.vendor == "postgresql")
    patient = PatientFactory(user=PatientUserFactory())
    doctor, colleague = patient.primary_psychiatrist, PsychiatristFactory()
    answered, unanswered = report(patient), report(patient)
    early = timezone.now() - datetime.timedelta(days=3)
    later = early + datetime.timedelta(hours=5)
    old = migrator(BEFORE)
    Reply = old.get_model("medications", "SideEffectReply")
    # Stored out of order: the thread must still read oldest first.
    Reply.objects.create(report_id=answered.pk, author_id=colleague.pk, text="And drink water.", created_at=later)
    Reply.objects.create(report_id=answered.pk, author_id=doctor.pk, text="Take it with food.", created_at=early)

    new = migrator(AFTER)
    Thread = new.get_model("medications", "MessageThread")
    Message = new.get_model("medications", "Message")
    thread = Thread.objects.get()
    assert (thread.side_effect_report_id, thread.patient_id, thread.kind, thread.category) == (
        answered.pk, patient.pk, "patient", "side_effect",
    )  # fmt: skip
    assert (thread.last_message_at, thread.last_author_id, thread.done_at) == (later, colleague.pk, later)
    rows = list(
        Message.objects.order_by("created_at", "id").values_list(
            "thread_id", "author_id", "text", "created_at", "from_patient"
        )
    )
    assert rows == [
        (thread.pk, doctor.pk, "Take it with food.", early, False),
        (thread.pk, colleague.pk, "And drink water.", later, False),
    ]
    assert not Thread.objects.filter(side_effect_report_id=unanswered.pk).exists()
    # Each author has read up to their own reply; the patient's read is not invented.
    reads = dict(new.get_model("medications", "ThreadRead").objects.values_list("user_id", "read_at"))
    assert reads == {doctor.pk: early, colleague.pk: later}
    Message.objects.create(thread=thread, author_id=doctor.pk, text="How is it now?", created_at=timezone.now())

    back = migrator(BEFORE)
    restored = back.get_model("medications", "SideEffectReply").objects.order_by("created_at", "id")
    assert list(restored.values_list("report_id", "author_id", "text")) == [
        (answered.pk, doctor.pk, "Take it with food."),
        (answered.pk, colleague.pk, "And drink water."),
        (answered.pk, doctor.pk, "How is it now?"),
    ]
