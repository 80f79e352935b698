from django.urls import path

from appointments import schedule_views, telehealth_views, type_views, views

app_name = "appointments"

urlpatterns = [
    path("patients/<int:pk>/visits/new/", views.visit_create, name="visit_create"),
    path("patients/<int:pk>/visits/<int:visit_id>/", views.visit_detail, name="visit_detail"),
    path("patients/<int:pk>/visits/<int:visit_id>/edit/", views.visit_edit, name="visit_edit"),
    path("patients/<int:pk>/visits/<int:visit_id>/sign/", views.visit_sign, name="visit_sign"),
    path("patients/<int:pk>/visits/<int:visit_id>/addenda/", views.visit_addendum, name="visit_addendum"),
    path("front-desk/calendar/", schedule_views.week_calendar, name="week"),
    path("front-desk/calendar/day/", schedule_views.day_calendar, name="day"),
    path(
        "front-desk/psychiatrists/<int:psychiatrist_id>/availability/", schedule_views.availability, name="availability"
    ),
    path("appointments/new/", schedule_views.book, name="book"),
    path("appointments/<int:appointment_id>/", schedule_views.appointment_detail, name="appointment_detail"),
    path("my/appointments/", schedule_views.my_appointments, name="my_appointments"),
    path("my/appointments/book/", schedule_views.my_book, name="my_book"),
    path("my/appointments/<int:appointment_id>/cancel/", schedule_views.my_cancel, name="my_cancel"),
    path("my/appointments/<int:appointment_id>/join/", telehealth_views.my_join, name="my_join"),
    path("my/camera-test/", telehealth_views.camera_test, name="camera_test"),
    path("front-desk/telehealth/", telehealth_views.telehealth_settings, name="telehealth_settings"),
    path("my/waitlist/", schedule_views.my_waitlist, name="my_waitlist"),
    path("calendar/feed/", schedule_views.my_feed, name="my_feed"),
    path("my/appointments/calendar-feed/", schedule_views.my_feed_replace, name="my_feed_replace"),
    path("calendar/<uuid:token>.ics", schedule_views.ics_feed, name="ics_feed"),
    path("front-desk/setup/appointment-types/new/", type_views.type_create, name="type_create"),
    path("front-desk/setup/appointment-types/<int:type_id>/", type_views.type_edit, name="type_edit"),
    path("front-desk/setup/appointment-types/<int:type_id>/active/", type_views.type_active, name="type_active"),
    path("front-desk/setup/appointment-types/<int:type_id>/delete/", type_views.type_delete, name="type_delete"),
]
