from django.urls import path

from medications import adherence_views, lab_views, message_views, outside_views, print_views, refill_views, views

app_name = "medications"

urlpatterns = [
    path("patients/<int:pk>/prescriptions/new/", views.prescription_start, name="prescription_start"),
    path(
        "patients/<int:pk>/prescriptions/<int:prescription_id>/", views.prescription_detail, name="prescription_detail"
    ),
    path(
        "patients/<int:pk>/prescriptions/<int:prescription_id>/change/",
        views.prescription_change,
        name="prescription_change",
    ),
    path(
        "patients/<int:pk>/prescriptions/<int:prescription_id>/stop/", views.prescription_stop, name="prescription_stop"
    ),
    path(
        "patients/<int:pk>/prescriptions/<int:prescription_id>/plans/<int:plan_id>/confirm/",
        views.plan_confirm_step,
        name="plan_confirm_step",
    ),
    # Printable prescriptions (medications/print_views.py).
    path(
        "patients/<int:pk>/prescriptions/<int:prescription_id>/print/",
        print_views.prescription_print,
        name="prescription_print",
    ),
    path(
        "patients/<int:pk>/prescriptions/<int:prescription_id>/prescription.pdf",
        print_views.prescription_pdf,
        name="prescription_pdf",
    ),
    path("patients/<int:pk>/pregnancy-status/", views.pregnancy_status, name="pregnancy_status"),
    # Outside medications (medications/outside_views.py).
    path("patients/<int:pk>/outside-medications/new/", outside_views.outside_create, name="outside_create"),
    path(
        "patients/<int:pk>/outside-medications/<int:outside_id>/confirm/",
        outside_views.outside_confirm,
        name="outside_confirm",
    ),
    path("my/medicines/", outside_views.my_medicines, name="my_medicines"),
    path(
        "patients/<int:pk>/outside-medications/<int:outside_id>/stop/",
        outside_views.outside_stop,
        name="outside_stop",
    ),
    # Refill requests (medications/refill_views.py).
    path("my/refills/", refill_views.my_refills, name="my_refills"),
    path("my/check-in/", adherence_views.my_adherence, name="my_adherence"),
    path("refills/", refill_views.refill_queue, name="refill_queue"),
    path("patients/<int:pk>/refills/<int:refill_id>/", refill_views.refill_detail, name="refill_detail"),
    path("side-effects/", views.inbox, name="inbox"),
    path("patients/<int:pk>/side-effects/new/", views.staff_report_create, name="staff_report_create"),
    path("patients/<int:pk>/side-effects/<int:report_id>/", views.report_detail, name="report_detail"),
    path(
        "patients/<int:pk>/side-effects/<int:report_id>/acknowledge/",
        views.report_acknowledge,
        name="report_acknowledge",
    ),
    path("my/side-effects/new/", views.my_report_create, name="my_report_create"),
    path("my/side-effects/sent/", views.my_report_sent, name="my_report_sent"),
    # Secure messages (medications/message_views.py).
    path("my/messages/", message_views.my_messages, name="my_messages"),
    path("my/messages/new/", message_views.my_message_new, name="my_message_new"),
    path("my/messages/<int:thread_id>/", message_views.my_thread, name="my_thread"),
    path("messages/", message_views.inbox, name="message_inbox"),
    path("messages/<int:thread_id>/", message_views.thread_detail, name="thread_detail"),
    path("messages/<int:thread_id>/assign/", message_views.thread_assign, name="thread_assign"),
    path("messages/<int:thread_id>/done/", message_views.thread_done, name="thread_done"),
    path("patients/<int:pk>/messages/new/", message_views.staff_thread_new, name="staff_thread_new"),
    # Lab and measure monitoring (medications/lab_views.py).
    path("patients/<int:pk>/labs/", lab_views.lab_results, name="lab_results"),
    path("patients/<int:pk>/labs/new/", lab_views.lab_result_create, name="lab_result_create"),
    path("patients/<int:pk>/labs/<int:result_id>/", lab_views.lab_result_detail, name="lab_result_detail"),
]
