from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from clinic import metrics_views, prescriber_views, setup_views, views
from interop import urls as interop_urls
from patients import alert_views, care_views

# Admin logins go through allauth: same rate limits, same MFA, same audit trail.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "Titrate administration"
admin.site.site_title = "Titrate admin"

urlpatterns = [
    path("", views.home, name="home"),
    path("psychiatrist/", views.psychiatrist_home, name="psychiatrist_home"),
    path("my/", views.patient_home, name="patient_home"),
    path("front-desk/", views.front_desk_home, name="front_desk_home"),
    path("front-desk/setup/", setup_views.setup, name="clinic_setup"),
    path("front-desk/setup/clinic/", setup_views.clinic_profile, name="clinic_profile"),
    path("front-desk/metrics/", metrics_views.clinic_metrics, name="clinic_metrics"),
    path("front-desk/metrics.csv", metrics_views.clinic_metrics_csv, name="clinic_metrics_csv"),
    path("psychiatrist/metrics/", metrics_views.my_metrics, name="my_metrics"),
    path("psychiatrist/metrics.csv", metrics_views.my_metrics_csv, name="my_metrics_csv"),
    path("healthz", views.healthz, name="healthz"),
    path("account/prescriber/", prescriber_views.prescriber_details, name="prescriber_details"),
    path("language/", views.set_language, name="set_language"),
    path("alerts/", alert_views.alert_list, name="alerts"),
    path("alerts/<int:pk>/acknowledge/", alert_views.alert_acknowledge, name="alert_acknowledge"),
    path("alerts/on-call/", alert_views.alerts_on_call, name="alerts_on_call"),
    path("shared/<str:token>/", care_views.shared_summary, name="shared_summary"),
    path("", include("notifications.urls")),
    path("", include("clinic.privacy_urls")),
    path("", include("clinic.user_urls")),
    path("patients/", include("patients.urls")),
    path("", include("medications.urls")),
    path("", include("appointments.urls")),
    path("", include("interop.urls")),
    path("oauth/", include((interop_urls.oauth_urlpatterns, "oauth2_provider"))),
    path("", include("records.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "clinic.views.error_400"
handler403 = "clinic.views.error_403"
handler404 = "clinic.views.error_404"
handler500 = "clinic.views.error_500"
