from django.urls import path

from records import export_views, views

app_name = "records"

urlpatterns = [
    path("my/record/", views.my_record, name="my_record"),
    path("my/record/<uuid:request_id>/status/", views.my_record_status, name="my_record_status"),
    path("my/record/<uuid:request_id>/download/", views.my_record_download, name="my_record_download"),
    path("exports/measures/", export_views.export_measures, name="export_measures"),
    path("exports/schedule/", export_views.export_schedule, name="export_schedule"),
]
