from django.urls import path

from patients import care_views, measure_views, summary_views, views

app_name = "patients"

urlpatterns = [
    path("search/", views.patient_search, name="search"),
    path("<int:pk>/", views.chart, name="chart"),
    path("<int:pk>/evaluations/new/", views.evaluation_create, name="evaluation_create"),
    path("<int:pk>/evaluations/<int:evaluation_id>/", views.evaluation_detail, name="evaluation_detail"),
    path("<int:pk>/evaluations/<int:evaluation_id>/edit/", views.evaluation_edit, name="evaluation_edit"),
    path("<int:pk>/evaluations/<int:evaluation_id>/sign/", views.evaluation_sign, name="evaluation_sign"),
    path("<int:pk>/evaluations/<int:evaluation_id>/addenda/", views.evaluation_addendum, name="evaluation_addendum"),
    path("<int:pk>/diagnoses/new/", views.diagnosis_create, name="diagnosis_create"),
    path("<int:pk>/diagnoses/<int:diagnosis_id>/resolve/", views.diagnosis_resolve, name="diagnosis_resolve"),
    path("<int:pk>/allergies/new/", views.allergy_create, name="allergy_create"),
    path("<int:pk>/allergies/<int:allergy_id>/inactivate/", views.allergy_inactivate, name="allergy_inactivate"),
    path("<int:pk>/contacts/new/", views.care_contact_create, name="care_contact_create"),
    path("<int:pk>/questionnaires/", measure_views.questionnaire_list, name="questionnaire_list"),
    path(
        "<int:pk>/questionnaires/fill/<slug:instrument>/", measure_views.questionnaire_fill, name="questionnaire_fill"
    ),
    path("<int:pk>/questionnaires/<int:response_id>/", measure_views.questionnaire_detail, name="questionnaire_detail"),
    path(
        "<int:pk>/questionnaires/requests/<int:assignment_id>/cancel/",
        measure_views.questionnaire_cancel,
        name="questionnaire_cancel",
    ),
    path("<int:pk>/safety-plan/", care_views.safety_plan, name="safety_plan"),
    path("<int:pk>/contacts/<int:contact_id>/share/", care_views.share_summary, name="share_summary"),
    path("me/safety-plan/", care_views.my_safety_plan, name="my_safety_plan"),
    path("me/care-contacts/", care_views.my_care_contacts, name="my_care_contacts"),
    path(
        "me/care-contacts/<int:contact_id>/consent/",
        care_views.my_care_contact_consent,
        name="my_care_contact_consent",
    ),
    path("me/questionnaires/", measure_views.my_questionnaires, name="my_questionnaires"),
    path("me/questionnaires/<int:assignment_id>/", measure_views.my_questionnaire_fill, name="my_questionnaire_fill"),
    path(
        "me/questionnaires/results/<int:response_id>/",
        measure_views.my_questionnaire_result,
        name="my_questionnaire_result",
    ),
    # After-visit summaries (patients/summary_views.py).
    path("me/visits/", summary_views.my_visit_summaries, name="my_visit_summaries"),
    path("me/visits/<int:visit_id>/", summary_views.my_visit_summary, name="my_visit_summary"),
    path("me/visits/<int:visit_id>/print/", summary_views.my_visit_summary_print, name="my_visit_summary_print"),
    path("me/visits/<int:visit_id>/summary.pdf", summary_views.my_visit_summary_pdf, name="my_visit_summary_pdf"),
    path(
        "<int:pk>/visits/<int:visit_id>/summary/print/", summary_views.visit_summary_print, name="visit_summary_print"
    ),
    path("<int:pk>/visits/<int:visit_id>/summary.pdf", summary_views.visit_summary_pdf, name="visit_summary_pdf"),
    path("registry/", views.registry, name="registry"),
    path("registry/new/", views.register_patient, name="register"),
    path("registry/<int:pk>/", views.edit_demographics, name="edit_demographics"),
]
