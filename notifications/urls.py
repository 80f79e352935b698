"""URLs of the reminder pipeline, included at the root by clinic/urls.py (no namespace)."""

from django.urls import path

from notifications import views

urlpatterns = [
    path("notifications/", views.notification_list, name="notifications"),
    path("settings/reminders/", views.reminder_preferences, name="reminder_preferences"),
    path("front-desk/deliveries/", views.delivery_report, name="delivery_report"),
    path("a/<str:token>/", views.appointment_action, name="appointment_action"),
]
