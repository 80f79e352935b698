"""Issue 19, item 2: Clinic set-up in the portal for clinic admins — the clinic's profile, appointment
types (length, modality, who may self-book, notice rules) and each type's reminder times, ticked
from a list and previewed in words. Every change is audited; nobody else gets in; the Django admin
only reads types for staff who are not superusers."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from appointments import reminders
from appointments.calendar import ics
from appointments.models import Appointment, AppointmentType
from appointments.slots import check_patient_rules
from clinic import contact
from clinic.models import AuditEvent, ClinicProfile, Notification
from tests.clinic.test_audit_per_view import superuser  # noqa: F401  (the fixture)
from tests.factories import AppointmentFactory, AppointmentTypeFactory, ClinicAdminFactory, PsychiatristFactory
from tests.helpers import form_data, log_in

pytestmark = pytest.mark.django_db

PROFILE = {
    "name": "Harbor Psychiatry",
    "phone": "(508) 555-0199",
    "hours": "Mon–Fri 9 am–5 pm",
    "after_hours": "Call 988 in a crisis; otherwise leave a message.",
    "time_zone": "America/Chicago",
    "on_call": "",
    "response_business_days": "2",
}
TYPE = {
    "name": "Phone check-in",
    "duration_minutes": "20",
    "modality": "phone",
    "patient_bookable": "true",
    "min_notice_hours": "24",
    "max_days_ahead": "60",
    "cancel_window_hours": "24",
    "reminder_offsets_hours": ["48", "2"],
}


def audit_rows_after(last: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=last).order_by("id"))


def last_audit_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def visit_in(patient, kind, *, days: int) -> Appointment:
    start = timezone.now() + datetime.timedelta(days=days)
    return AppointmentFactory(patient=patient, appointment_type=kind, start=start)


@pytest.fixture
def admin_client(client, clinic_admin):
    log_in(client, clinic_admin)
    return client


# -- Who gets in ---------------------------------------------------------------------------------

# (name, takes a type's id, methods): a POST-only address answers a GET by sending the person to
# the page above (clinic.middleware.PostOnlyAddressMiddleware), whoever they are.
PAGES = [
    ("clinic_setup", False, ("get",)),
    ("clinic_profile", False, ("get", "post")),
    ("appointments:type_create", False, ("get", "post")),
    ("appointments:type_edit", True, ("get", "post")),
    ("appointments:type_active", True, ("post",)),
    ("appointments:type_delete", True, ("post",)),
]


@pytest.mark.parametrize("who", ["patient", "psychiatrist"])
@pytest.mark.parametrize(("name", "takes_type", "methods"), PAGES)
def test_patients_and_psychiatrists_get_403_and_change_nothing(
    client, patient, psychiatrist, who, name, takes_type, methods
):
    kind = AppointmentTypeFactory(name="Follow-up")
    types = AppointmentType.objects.count()
    log_in(client, patient.user if who == "patient" else psychiatrist)
    url = reverse(name, args=[kind.pk] if takes_type else [])

    data = {**TYPE, **PROFILE, "active": "false"}
    statuses = [
        client.get(url).status_code if method == "get" else client.post(url, data).status_code for method in methods
    ]
    assert statuses == [403] * len(methods)

    kind.refresh_from_db()
    assert (kind.name, kind.is_active) == ("Follow-up", True)
    assert not ClinicProfile.objects.exists()
    assert AppointmentType.objects.count() == types


def test_the_clinic_admin_finds_clinic_setup_in_the_navigation(admin_client, client, psychiatrist):
    page = admin_client.get(reverse("front_desk_home")).content.decode()
    assert f'href="{reverse("clinic_setup")}">Clinic set-up</a>' in page
    client.logout()
    log_in(client, psychiatrist)
    assert "Clinic set-up" not in client.get(reverse("psychiatrist_home")).content.decode()


# -- The clinic's profile ------------------------------------------------------------------------


def test_before_any_save_the_form_shows_what_patients_see_now(admin_client, settings):
    settings.TITRATE_CLINIC_NAME = "Settings clinic"
    settings.TITRATE_CLINIC_PHONE = "(617) 555-0142"
    form = admin_client.get(reverse("clinic_profile")).context["form"]
    assert (form["name"].value(), form["phone"].value()) == ("Settings clinic", "(617) 555-0142")
    overview = admin_client.get(reverse("clinic_setup")).content.decode()
    assert "Not saved yet" in overview


def test_saving_the_profile_is_audited_and_every_page_shows_it_at_once(admin_client, clinic_admin):
    doctor = PsychiatristFactory(first_name="Ruth", last_name="Amsel")
    assert contact.clinic().name != "Harbor Psychiatry"  # cached now
    last = last_audit_id()

    response = admin_client.post(reverse("clinic_profile"), {**PROFILE, "on_call": str(doctor.pk)})

    assert response.status_code == 302 and response["Location"] == reverse("clinic_setup")
    saved = ClinicProfile.objects.get()
    assert (saved.name, saved.phone, saved.time_zone, saved.on_call) == (
        "Harbor Psychiatry",
        "(508) 555-0199",
        "America/Chicago",
        doctor,
    )
    clinic = contact.clinic()
    assert (clinic.name, clinic.phone_link) == ("Harbor Psychiatry", "tel:+15085550199")
    assert clinic.on_call_email == doctor.email
    rows = audit_rows_after(last)
    assert [(r.action, r.actor, r.patient_id, r.object_type) for r in rows] == [
        (AuditEvent.Action.CREATE, clinic_admin, None, "clinic.ClinicProfile")
    ]
    assert rows[0].detail["page"] == "clinic_profile"
    assert {"name", "phone", "time_zone", "on_call", "hours", "after_hours"} <= set(rows[0].detail["fields"])

    # A second change names only what changed; the text itself stays out of the audit trail.
    last = last_audit_id()
    admin_client.post(reverse("clinic_profile"), {**PROFILE, "on_call": str(doctor.pk), "hours": "Mon–Thu 8–4"})
    rows = audit_rows_after(last)
    assert [(r.action, r.detail) for r in rows] == [
        (AuditEvent.Action.UPDATE, {"page": "clinic_profile", "fields": ["hours"]})
    ]
    assert contact.clinic().hours == "Mon–Thu 8–4"


def test_a_phone_number_that_does_not_dial_is_refused_keeping_what_was_typed(admin_client):
    last = last_audit_id()
    response = admin_client.post(reverse("clinic_profile"), {**PROFILE, "phone": "555-01"})

    assert response.status_code == 200
    assert "not a telephone number patients could dial" in response.content.decode()
    form = response.context["form"]
    assert (form["name"].value(), form["phone"].value(), form["hours"].value()) == (
        "Harbor Psychiatry",
        "555-01",
        "Mon–Fri 9 am–5 pm",
    )
    assert not ClinicProfile.objects.exists()
    assert audit_rows_after(last) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("time_zone", "Mars/Olympus_Mons"), ("time_zone", "US/Eastern"), ("response_business_days", "0")],
)
def test_a_time_zone_outside_the_list_or_no_answer_time_is_refused(admin_client, field, value):
    response = admin_client.post(reverse("clinic_profile"), {**PROFILE, field: value})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not ClinicProfile.objects.exists()


def test_a_zone_set_outside_the_list_is_kept_and_the_settings_on_call_offered(admin_client, settings):
    doctor = PsychiatristFactory()
    settings.TITRATE_ON_CALL_EMAIL = doctor.email
    assert admin_client.get(reverse("clinic_profile")).context["form"]["on_call"].value() == doctor.pk
    ClinicProfile(name="Harbor", phone="(508) 555-0199", time_zone="US/Eastern").save()
    data = form_data(admin_client.get(reverse("clinic_profile")).context["form"])
    assert data["time_zone"] == ["US/Eastern"]

    admin_client.post(reverse("clinic_profile"), {**data, "hours": "Mon–Fri 9–5"})

    assert ClinicProfile.objects.values_list("time_zone", "hours").get() == ("US/Eastern", "Mon–Fri 9–5")


def test_on_call_is_chosen_among_active_psychiatrists_and_clinic_admins(admin_client, patient):
    gone = PsychiatristFactory(is_active=False)
    other_admin = ClinicAdminFactory()
    form = admin_client.get(reverse("clinic_profile")).context["form"]
    offered = set(form.fields["on_call"].queryset)
    assert other_admin in offered and gone not in offered and patient.user not in offered

    for refused in (gone, patient.user):
        response = admin_client.post(reverse("clinic_profile"), {**PROFILE, "on_call": str(refused.pk)})
        assert "on_call" in response.context["form"].errors
    assert not ClinicProfile.objects.exists()


# -- Appointment types ---------------------------------------------------------------------------


def test_adding_a_type_stores_the_ticked_times_and_the_overview_says_them_in_words(admin_client, clinic_admin):
    last = last_audit_id()

    response = admin_client.post(reverse("appointments:type_create"), TYPE)

    assert response.status_code == 302
    kind = AppointmentType.objects.get(name="Phone check-in")
    assert (kind.duration_minutes, kind.modality, kind.patient_bookable) == (20, "phone", True)
    assert (kind.min_notice_hours, kind.max_days_ahead, kind.cancel_window_hours) == (24, 60, 24)
    assert kind.reminder_offsets_hours == [48, 2]
    rows = audit_rows_after(last)
    assert [(r.action, r.actor, r.patient_id, r.object_id) for r in rows] == [
        (AuditEvent.Action.CREATE, clinic_admin, None, str(kind.pk))
    ]
    overview = admin_client.get(reverse("clinic_setup")).content.decode()
    assert "The patient is reminded 2 days and 2 hours before." in overview
    assert "[48, 2]" not in overview


def test_a_new_type_starts_from_the_usual_rules(admin_client):
    form = admin_client.get(reverse("appointments:type_create")).context["form"]
    shown = {name: form[name].value() for name in ("duration_minutes", "modality", "patient_bookable")}
    assert shown == {"duration_minutes": 30, "modality": "in_person", "patient_bookable": "false"}
    rules = [form[name].value() for name in ("min_notice_hours", "max_days_ahead", "cancel_window_hours")]
    assert rules == [24, 90, 24]
    assert form.reminder_sentence == "The patient is reminded 2 days and 2 hours before."


def test_the_form_previews_the_reminders_and_shows_no_raw_numbers(admin_client):
    kind = AppointmentTypeFactory(reminder_offsets_hours=[168, 24, 1])
    page = admin_client.get(reverse("appointments:type_edit", args=[kind.pk])).content.decode()
    assert "The patient is reminded 1 week, 1 day and 1 hour before." in page
    assert "[168" not in page
    for label in ("1 week before", "3 days before", "4 hours before"):
        assert label in page


def test_a_form_error_keeps_everything_typed_and_saves_nothing(admin_client):
    typed = {**TYPE, "duration_minutes": "2", "reminder_offsets_hours": ["72", "4"]}
    last = last_audit_id()

    response = admin_client.post(reverse("appointments:type_create"), typed)

    assert response.status_code == 200
    form = response.context["form"]
    assert "duration_minutes" in form.errors
    assert (form["name"].value(), form["modality"].value(), form["min_notice_hours"].value()) == (
        "Phone check-in",
        "phone",
        "24",
    )
    assert form["reminder_offsets_hours"].value() == ["72", "4"]
    page = response.content.decode()
    assert "The patient is reminded 3 days and 4 hours before." in page
    assert not AppointmentType.objects.filter(name="Phone check-in").exists()
    assert audit_rows_after(last) == []


@pytest.mark.parametrize("offset", ["3", "0", "-2", "48.5", "[48, 2]"])
def test_a_reminder_time_outside_the_list_is_refused(admin_client, offset):
    data = {**TYPE, "reminder_offsets_hours": ["48", offset]}
    response = admin_client.post(reverse("appointments:type_create"), data)
    assert response.status_code == 200
    assert "reminder_offsets_hours" in response.context["form"].errors
    assert not AppointmentType.objects.filter(name="Phone check-in").exists()


def test_notice_rules_that_leave_no_bookable_time_are_refused(admin_client):
    response = admin_client.post(
        reverse("appointments:type_create"), {**TYPE, "min_notice_hours": "72", "max_days_ahead": "3"}
    )
    assert "max_days_ahead" in response.context["form"].errors
    # The same rules are fine when only staff book it.
    response = admin_client.post(
        reverse("appointments:type_create"),
        {**TYPE, "min_notice_hours": "72", "max_days_ahead": "3", "patient_bookable": "false"},
    )
    assert response.status_code == 302
    assert AppointmentType.objects.get(name="Phone check-in").patient_bookable is False


def test_the_notice_the_admin_sets_is_the_one_booking_enforces(admin_client, patient, client):
    admin_client.post(reverse("appointments:type_create"), {**TYPE, "min_notice_hours": "48"})
    kind = AppointmentType.objects.get(name="Phone check-in")
    with pytest.raises(ValidationError, match="at least 48 hours' notice"):
        check_patient_rules(kind, timezone.now() + datetime.timedelta(hours=30))
    check_patient_rules(kind, timezone.now() + datetime.timedelta(hours=50))


def test_changing_reminder_times_reaches_visits_already_booked(admin_client, patient):
    kind = AppointmentTypeFactory(reminder_offsets_hours=[48, 2])
    visit = visit_in(patient, kind, days=5)
    reminders.plan_appointment_reminders(visit)
    planned = Notification.objects.about(visit).filter(kind=Notification.Kind.APPOINTMENT_REMINDER)
    channels = planned.filter(idempotency_key__contains=":48h:").count()
    assert channels >= 1 and planned.count() == 2 * channels
    data = {**form_data(admin_client.get(reverse("appointments:type_edit", args=[kind.pk])).context["form"])}
    data["reminder_offsets_hours"] = ["72", "2"]

    response = admin_client.post(reverse("appointments:type_edit", args=[kind.pk]), data)

    assert response.status_code == 302
    open_rows = planned.filter(status__in=("pending", "enqueued", "sending"))
    assert sorted(key.split(":")[3] for key in open_rows.values_list("idempotency_key", flat=True)) == sorted(
        ["72h"] * channels + ["2h"] * channels
    )
    assert planned.filter(idempotency_key__contains=":48h:", status="cancelled").count() == channels
    row = AuditEvent.objects.order_by("-id").first()
    assert row.detail == {"page": "appointment_type", "fields": ["reminder_offsets_hours"]}


def test_a_time_set_before_the_list_is_named_and_replaced_on_save(admin_client):
    kind = AppointmentTypeFactory(reminder_offsets_hours=[336, 2])
    page = admin_client.get(reverse("appointments:type_edit", args=[kind.pk]))
    assert "Also set before this list existed: 14 days before." in page.content.decode()
    data = form_data(page.context["form"])
    assert data["reminder_offsets_hours"] == ["2"]
    admin_client.post(reverse("appointments:type_edit", args=[kind.pk]), data)
    kind.refresh_from_db()
    assert kind.reminder_offsets_hours == [2]


def test_deactivating_stops_new_bookings_and_keeps_booked_visits(admin_client, clinic_admin, patient, client):
    kind = AppointmentTypeFactory(name="Follow-up", patient_bookable=True)
    visit = visit_in(patient, kind, days=5)
    last = last_audit_id()

    admin_client.post(reverse("appointments:type_active", args=[kind.pk]), {"active": "false"})

    kind.refresh_from_db()
    assert kind.is_active is False
    assert Appointment.objects.get(pk=visit.pk).appointment_type_id == kind.pk
    assert [(r.action, r.detail) for r in audit_rows_after(last)] == [
        (AuditEvent.Action.UPDATE, {"page": "appointment_type", "fields": ["is_active"], "is_active": False})
    ]
    # Posting again changes nothing and writes no second row.
    admin_client.post(reverse("appointments:type_active", args=[kind.pk]), {"active": "false"})
    assert len(audit_rows_after(last)) == 1
    booking_form = admin_client.get(reverse("appointments:book")).context["form"]
    assert kind not in booking_form.fields["appointment_type"].queryset

    admin_client.post(reverse("appointments:type_active", args=[kind.pk]), {"active": "true"})
    kind.refresh_from_db()
    assert kind.is_active is True


def test_a_type_in_use_is_never_deleted_and_an_unused_one_is(admin_client, patient):
    used = AppointmentTypeFactory()
    visit_in(patient, used, days=5)
    unused = AppointmentTypeFactory()
    page = admin_client.get(reverse("appointments:type_edit", args=[used.pk])).content.decode()
    assert reverse("appointments:type_delete", args=[used.pk]) not in page
    last = last_audit_id()

    response = admin_client.post(reverse("appointments:type_delete", args=[used.pk]), follow=True)

    assert AppointmentType.objects.filter(pk=used.pk).exists()
    assert "deactivate it instead" in response.content.decode()
    assert audit_rows_after(last) == []

    admin_client.post(reverse("appointments:type_delete", args=[unused.pk]))
    assert not AppointmentType.objects.filter(pk=unused.pk).exists()
    assert [(r.action, r.object_id) for r in audit_rows_after(last)] == [(AuditEvent.Action.DELETE, str(unused.pk))]


def test_a_phone_type_reads_as_a_phone_visit(patient, psychiatrist, client):
    kind = AppointmentTypeFactory(modality=AppointmentType.Modality.PHONE)
    visit = visit_in(patient, kind, days=2)
    assert b"Phone visit. Log in to Titrate for details." in ics([visit])
    log_in(client, psychiatrist)
    url = reverse("appointments:visit_create", args=[patient.pk]) + f"?appointment={visit.pk}"
    assert client.get(url).context["form"].initial["modality"] == "phone"


# -- The Django admin ----------------------------------------------------------------------------


def test_a_staff_clinic_admin_only_reads_types_in_the_django_admin(client):
    staff_admin = ClinicAdminFactory(is_staff=True)
    staff_admin.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="appointments", codename__endswith="appointmenttype")
    )
    kind = AppointmentTypeFactory(name="Follow-up")
    log_in(client, staff_admin)

    assert client.get(reverse("admin:appointments_appointmenttype_add")).status_code == 403
    change = reverse("admin:appointments_appointmenttype_change", args=[kind.pk])
    page = client.get(change)
    assert page.status_code == 200 and 'name="name"' not in page.content.decode()  # read-only
    client.post(change, {**TYPE, "name": "Renamed"})
    delete = reverse("admin:appointments_appointmenttype_delete", args=[kind.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    kind.refresh_from_db()
    assert kind.name == "Follow-up"


def test_a_superuser_edits_through_the_portals_form_and_is_audited(client, superuser):  # noqa: F811
    kind = AppointmentTypeFactory(name="Follow-up", reminder_offsets_hours=[48, 2])
    log_in(client, superuser)
    change = reverse("admin:appointments_appointmenttype_change", args=[kind.pk])
    form = client.get(change).context["adminform"].form
    assert form.fields["reminder_offsets_hours"].widget.input_type == "checkbox"
    last = last_audit_id()

    response = client.post(change, {**TYPE, "name": "Follow-up", "reminder_offsets_hours": ["24"], "is_active": "on"})

    assert response.status_code == 302
    kind.refresh_from_db()
    assert kind.reminder_offsets_hours == [24]
    rows = audit_rows_after(last)
    assert [(r.action, r.actor) for r in rows] == [(AuditEvent.Action.UPDATE, superuser)]
    assert "reminder_offsets_hours" in rows[0].detail["fields"]
    listing = client.get(reverse("admin:appointments_appointmenttype_changelist")).content.decode()
    assert "The patient is reminded 1 day before." in listing


# -- Query budgets -------------------------------------------------------------------------------


def test_query_budgets(admin_client, django_assert_num_queries):
    for n in range(12):
        AppointmentTypeFactory(name=f"Type {n}")
    ClinicProfile(name="Harbor", phone="(508) 555-0199", on_call=PsychiatristFactory()).save()
    kind = AppointmentType.objects.first()
    # Every page: the session, the user, and whether they review the audit log (the navigation).
    # The overview: + the types (one query however many), the profile with its on-call user.
    with django_assert_num_queries(5):
        assert admin_client.get(reverse("clinic_setup")).status_code == 200
    # The profile's form: + the profile, the on-call choices.
    with django_assert_num_queries(5):
        assert admin_client.get(reverse("clinic_profile")).status_code == 200
    # A type's form: + the type, whether a visit uses it, whether a waitlist entry does.
    with django_assert_num_queries(6):
        assert admin_client.get(reverse("appointments:type_edit", args=[kind.pk])).status_code == 200
