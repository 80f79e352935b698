from django.conf import settings
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from clinic.models import User

# The role's own navigation; later features add entries here, one place per role.
NAVIGATION = {
    User.Role.PSYCHIATRIST: [
        ("Today", "psychiatrist_home"),
        ("Side effects", "medications:inbox"),
        ("Find a patient", "patients:search"),
    ],
    User.Role.PATIENT: [
        (_("My care"), "patient_home"),
        (_("Appointments"), "appointments:my_appointments"),
        (_("Report a side effect"), "medications:my_report_create"),
        (_("Questionnaires"), "patients:my_questionnaires"),
        (_("Reminder settings"), "reminder_preferences"),
    ],
    User.Role.CLINIC_ADMIN: [
        ("Front desk", "front_desk_home"),
        ("Calendar", "appointments:week"),
        ("Patients", "patients:registry"),
        ("Deliveries", "delivery_report"),
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
    items = [{"label": label, "url": reverse(name), "active": name == current} for label, name in entries]
    return {"nav_items": items}
