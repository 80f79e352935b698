"""Audit review, "who viewed my record" and emergency access (clinic.privacy_views), included
at the root by clinic/urls.py (no namespace)."""

from django.urls import path

from clinic import privacy_views as views

urlpatterns = [
    path("privacy/audit/", views.audit_log, name="privacy_audit_log"),
    path("privacy/audit/export.csv", views.audit_export, name="privacy_audit_export"),
    path("privacy/emergency-access/", views.break_glass_review, name="privacy_break_glass"),
    path("my/record-access/", views.record_access, name="my_record_access"),
    path("emergency-access/", views.break_glass, name="break_glass"),
]
