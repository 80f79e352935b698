from django.conf import settings
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from clinic.models import User
from medications import threads

# The navigation entry that carries the unread-message count (medications.threads.unread_count).
MESSAGES_ENTRIES = {"medications:my_messages", "medications:message_inbox"}

# The role's own navigation; later features add entries here, one place per role.
NAVIGATION = {
    User.Role.PSYCHIATRIST: [
        ("Today", "psychiatrist_home"),
        ("Side effects", "medications:inbox"),
        ("Messages", "medications:message_inbox"),
        ("Refills", "medications:refill_queue"),
        ("Find a patient", "patients:search"),
        ("Exports", "records:export_measures"),
        ("My metrics", "my_metrics"),
    ],
    User.Role.PATIENT: [
        (_("My care"), "patient_home"),
        (_("Appointments"), "appointments:my_appointments"),
        (_("Messages"), "medications:my_messages"),
        (_("Report a side effect"), "medications:my_report_create"),
        (_("My medicines"), "medications:my_medicines"),
        (_("Check-in"), "medications:my_adherence"),
        (_("Refills"), "medications:my_refills"),
        (_("Questionnaires"), "patients:my_questionnaires"),
        (_("Visit summaries"), "patients:my_visit_summaries"),
        (_("My record"), "records:my_record"),
        (_("Reminder settings"), "reminder_preferences"),
        (_("My safety plan"), "patients:my_safety_plan"),
        (_("Sharing"), "patients:my_care_contacts"),
    ],
    User.Role.CLINIC_ADMIN: [
        ("Front desk", "front_desk_home"),
        ("Calendar", "appointments:week"),
        ("Patients", "patients:registry"),
        ("Messages", "medications:message_inbox"),
        ("Deliveries", "delivery_report"),
        ("Metrics", "clinic_metrics"),
        ("Clinic set-up", "clinic_setup"),
        ("Telehealth", "appointments:telehealth_settings"),
        ("Users", "user_list"),
        ("Exports", "records:export_schedule"),
    ],
}
# Privacy officers (clinic admins in the "Privacy officer" group, or superusers) review these.
PRIVACY_NAVIGATION = [("Audit log", "privacy_audit_log"), ("Emergency access", "privacy_break_glass")]


def audits(user: User) -> bool:
    """Whether ``user`` holds clinic.view_audit_log: one query where ``has_perm`` makes two (the
    front desk's pages are budgeted; only front-desk accounts are asked)."""
    if user.is_superuser:
        return user.is_active
    return Permission.objects.filter(
        Q(user=user) | Q(group__user=user), codename="view_audit_log", content_type__app_label="clinic"
    ).exists()


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        # The sign-in page links to sign-up only when a clinic opened it (TITRATE_SIGNUP_OPEN).
        return {"nav_items": [], "signup_open": settings.TITRATE_SIGNUP_OPEN}
    current = request.resolver_match.view_name if request.resolver_match else None
    entries = list(NAVIGATION.get(user.role, []))
    if user.role == User.Role.CLINIC_ADMIN and audits(user):
        entries += PRIVACY_NAVIGATION
    items = [
        {
            "label": label,
            "url": reverse(name),
            "active": name == current,
            "badge": threads.unread_count(user) if name in MESSAGES_ENTRIES else 0,
        }
        for label, name in entries
    ]
    return {"nav_items": items}
