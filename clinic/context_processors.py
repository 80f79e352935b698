from django.http import HttpRequest
from django.urls import reverse

from clinic.models import User

# The role's own navigation; later features add entries here, one place per role.
NAVIGATION = {
    User.Role.PSYCHIATRIST: [
        ("Today", "psychiatrist_home"),
        ("Side effects", "medications:inbox"),
        ("Find a patient", "patients:search"),
    ],
    User.Role.PATIENT: [
        ("My care", "patient_home"),
        ("Appointments", "appointments:my_appointments"),
        ("Report a side effect", "medications:my_report_create"),
        ("Questionnaires", "patients:my_questionnaires"),
        ("Reminder settings", "reminder_preferences"),
    ],
    User.Role.CLINIC_ADMIN: [
        ("Front desk", "front_desk_home"),
        ("Calendar", "appointments:week"),
        ("Patients", "patients:registry"),
        ("Deliveries", "delivery_report"),
    ],
}


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    current = request.resolver_match.view_name if request.resolver_match else None
    items = [
        {"label": label, "url": reverse(name), "active": name == current}
        for label, name in NAVIGATION.get(user.role, [])
    ]
    return {"nav_items": items}
