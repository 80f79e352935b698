"""Issue 18, item 1: the Django admin shows and changes patient data only through pages that
write the portal's audit rows, and shows nothing clinical. A care-team change there is audited
with the psychiatrists it gave access to."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from appointments.models import TimeOff, WeeklyAvailability
from clinic.admin import PatientDataAdmin
from clinic.models import AuditEvent
from patients.models import Patient
from tests.clinic.test_audit_per_view import superuser  # noqa: F401  (the fixture)
from tests.helpers import log_in

pytestmark = pytest.mark.django_db

# Registered models that name a user but hold no patient data: a psychiatrist's working hours.
STAFF_ONLY = {WeeklyAvailability, TimeOff}


def holds_patient_data(model) -> bool:
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    if model in (Patient, user_model):
        return True
    return any(
        field.is_relation and field.related_model in (Patient, user_model)
        for field in model._meta.get_fields()
        if field.concrete
    )


def test_every_admin_with_patient_data_is_audited():
    unaudited = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if holds_patient_data(model) and model not in STAFF_ONLY and not isinstance(model_admin, PatientDataAdmin)
    ]
    assert unaudited == []


def test_appointments_audit_log_and_grants_are_not_in_the_admin():
    # The portal shows them with their audit rows (calendars; the privacy officer's review pages).
    from appointments.models import Appointment
    from clinic.models import BreakGlassGrant

    for model in (Appointment, AuditEvent, BreakGlassGrant):
        assert not admin.site.is_registered(model)


def _change_data(client, patient) -> dict:
    form = client.get(reverse("admin:patients_patient_change", args=[patient.pk])).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form.initial.get(name)
        if name == "care_team":
            data[name] = [str(user.pk if hasattr(user, "pk") else user) for user in (value or [])]
        elif value is not None:
            data[name] = str(value.pk if hasattr(value, "pk") else value)
    if form.initial.get("is_active"):
        data["is_active"] = "on"
    return data


def test_a_care_team_change_in_the_admin_is_audited_with_who_gained_access(
    client,
    superuser,  # noqa: F811
    patient,
    psychiatrist2,
):
    outsider = Client()
    log_in(outsider, psychiatrist2)
    chart = reverse("patients:chart", args=[patient.pk])
    assert outsider.get(chart).status_code == 404
    log_in(client, superuser)
    data = _change_data(client, patient)
    data["care_team"] = [str(psychiatrist2.pk)]
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()

    response = client.post(reverse("admin:patients_patient_change", args=[patient.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    rows = list(AuditEvent.objects.filter(id__gt=last))
    assert [(r.action, r.actor, r.patient) for r in rows] == [(AuditEvent.Action.UPDATE, superuser, patient)]
    assert rows[0].detail == {"page": "admin_patient", "fields": ["care_team"], "care_team_added": [psychiatrist2.pk]}
    assert outsider.get(chart).status_code == 200  # the access it gave, now on the record


def test_the_admin_shows_and_changes_nothing_clinical(client, superuser, patient):  # noqa: F811
    Patient.objects.filter(pk=patient.pk).update(pregnancy_status="pregnant")
    log_in(client, superuser)
    page = client.get(reverse("admin:patients_patient_change", args=[patient.pk]))
    fields = set(page.context["adminform"].form.fields)
    assert fields == {"user", "primary_psychiatrist", "care_team", "is_active"}
    for hidden in ("pregnancy_status", "date_of_birth", "phone", "address_line1", "emergency_contact_name"):
        assert f'name="{hidden}"' not in page.content.decode()

    data = {**_change_data(client, patient), "pregnancy_status": "not_pregnant", "date_of_birth": "1950-01-01"}
    client.post(reverse("admin:patients_patient_change", args=[patient.pk]), data)

    patient.refresh_from_db()
    assert patient.pregnancy_status == "pregnant"
    assert str(patient.date_of_birth) != "1950-01-01"


def test_the_admin_keeps_no_unaudited_copy_of_a_patients_name(client, superuser, patient):  # noqa: F811
    from django.contrib.admin.models import LogEntry

    log_in(client, superuser)
    client.post(reverse("admin:patients_patient_change", args=[patient.pk]), _change_data(client, patient))

    assert not LogEntry.objects.exists()
    assert patient.legal_last_name not in client.get(reverse("admin:index")).content.decode()


def test_admin_search_never_matches_a_patient_by_name(rf, superuser, patient):  # noqa: F811
    """What a search matches (a name typed into it would travel in ?q= and the access log)."""
    from allauth.account.models import EmailAddress

    from clinic.models import User

    request = rf.get("/")
    request.user = superuser
    for model, queryset, term in [
        (User, User.objects.all(), patient.user.last_name),
        (User, User.objects.all(), patient.user.email),
        (EmailAddress, EmailAddress.objects.all(), patient.user.email),
        (Patient, Patient.objects.all(), patient.legal_last_name),
    ]:
        found, _ = admin.site._registry[model].get_search_results(request, queryset, term)
        assert not found.exists(), model
    found, _ = admin.site._registry[Patient].get_search_results(request, Patient.objects.all(), patient.mrn)
    assert list(found) == [patient]
    found, _ = admin.site._registry[User].get_search_results(request, User.objects.all(), superuser.email)
    assert list(found) == [superuser]  # staff are still found
