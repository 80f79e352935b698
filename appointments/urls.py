from django.urls import path

from appointments import views

app_name = "appointments"

urlpatterns = [
    path("patients/<int:pk>/visits/new/", views.visit_create, name="visit_create"),
    path("patients/<int:pk>/visits/<int:visit_id>/", views.visit_detail, name="visit_detail"),
    path("patients/<int:pk>/visits/<int:visit_id>/edit/", views.visit_edit, name="visit_edit"),
    path("patients/<int:pk>/visits/<int:visit_id>/sign/", views.visit_sign, name="visit_sign"),
    path("patients/<int:pk>/visits/<int:visit_id>/addenda/", views.visit_addendum, name="visit_addendum"),
]
