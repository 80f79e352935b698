from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from clinic.models import AuditEvent, BreakGlassGrant, User


class ReadOnlyAdmin(admin.ModelAdmin):
    """Listed and viewable in the admin; written only by the code that owns the rows."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "role", "is_active", "is_staff"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["first_name", "last_name", "credentials", "time_zone"]}),
        ("Role and access", {"fields": ["role", "is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "role", "password1", "password2"]}),
    ]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    # Append-only: viewable, never editable.
    list_display = ["occurred_at", "action", "actor", "actor_role", "patient", "ip_address"]
    list_filter = ["action", "actor_role"]
    date_hierarchy = "occurred_at"
    list_select_related = ["actor", "patient"]


@admin.register(BreakGlassGrant)
class BreakGlassGrantAdmin(ReadOnlyAdmin):
    """Read-only: emergency accesses are reviewed here or at /privacy/emergency-access/."""

    list_display = ["started_at", "user", "patient", "expires_at"]
    date_hierarchy = "started_at"
    list_select_related = ["user", "patient"]
