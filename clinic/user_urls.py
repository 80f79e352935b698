"""Accounts and care teams in the portal (clinic.user_views), included at the root by clinic/urls.py
(no namespace)."""

from django.urls import path

from clinic import user_views as views

urlpatterns = [
    path("clinic/users/", views.user_list, name="user_list"),
    path("clinic/users/invite/", views.staff_invite, name="staff_invite"),
    path("clinic/users/<int:pk>/", views.user_detail, name="user_detail"),
    path("clinic/users/<int:pk>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("clinic/users/<int:pk>/reactivate/", views.user_reactivate, name="user_reactivate"),
    path("clinic/users/<int:pk>/mfa-reset/", views.mfa_reset_request, name="mfa_reset_request"),
    path("clinic/mfa-resets/<int:pk>/approve/", views.mfa_reset_approve, name="mfa_reset_approve"),
    path("clinic/mfa-resets/<int:pk>/cancel/", views.mfa_reset_cancel, name="mfa_reset_cancel"),
    path("clinic/invitations/<int:pk>/resend/", views.invitation_resend, name="invitation_resend"),
    path("clinic/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("clinic/patients/<int:pk>/portal-invitation/", views.patient_invite, name="patient_invite"),
    path("clinic/patients/<int:pk>/care-team/", views.care_team, name="care_team"),
    path("clinic/patients/<int:pk>/care-team/contacts/new/", views.care_team_contact_new, name="care_team_contact_new"),
    path(
        "clinic/patients/<int:pk>/care-team/contacts/<int:contact_id>/",
        views.care_team_contact_edit,
        name="care_team_contact_edit",
    ),
    path("invitation/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
