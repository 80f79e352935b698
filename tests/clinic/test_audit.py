from __future__ import annotations

import pytest

from clinic import audit
from clinic.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(psychiatrist, patient):
    return audit.record(AuditEvent.Action.VIEW, actor=psychiatrist, patient=patient, obj=patient)


def test_record_stores_who_what_and_which_patient(event, psychiatrist, patient):
    stored = AuditEvent.objects.get()
    assert (stored.actor, stored.actor_role, stored.patient) == (psychiatrist, "psychiatrist", patient)
    assert (stored.object_type, stored.object_id) == ("patients.Patient", str(patient.pk))


def test_audit_rows_cannot_be_changed(event):
    event.action = AuditEvent.Action.LOGIN
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="login")
    assert AuditEvent.objects.get().action == AuditEvent.Action.VIEW


def test_audit_rows_cannot_be_deleted(event):
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 1


def test_a_user_named_in_the_audit_cannot_be_deleted(event, psychiatrist):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        psychiatrist.delete()
