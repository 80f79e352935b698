from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import router, transaction
from django.template.response import TemplateResponse
from django_celery_beat.admin import PeriodicTaskAdmin, PeriodicTaskForm
from django_celery_beat.models import PeriodicTask

from clinic import audit
from clinic.models import AuditEvent, User
from clinic.schedules import PERIODIC_TASKS, SAFETY_TASKS


class PatientDataAdmin(admin.ModelAdmin):
    """An admin page that shows or changes a patient's data writes the audit rows the portal's
    pages write (issue 18; docs/security.md "The Django admin"): a list names the patients it
    showed, an object's page (its form, its history, its delete confirmation) is one ``view`` row
    about its patient, and a saved change or a deletion is one ``update``/``delete`` row in the
    same transaction, naming the fields changed. ``tests/clinic/test_admin_audit.py`` fails on a
    registered model that holds patient data without this class.

    Django's own admin log is not written for these models: it keeps ``str(obj)`` — a patient's
    name — as plain text outside the audit trail, and lists it on the admin's home page. Bulk
    actions are off, so every change goes through the audited pages.
    """

    actions = None
    audit_page = ""

    def patient_id_of(self, obj) -> int | None:
        raise NotImplementedError

    def patient_ids_of(self, objects) -> list[int]:
        return [pk for pk in (self.patient_id_of(obj) for obj in objects) if pk is not None]

    def change_detail(self, request, obj, form) -> dict:
        """Identifiers describing the change beyond the names of the fields changed."""
        return {}

    def _record_view(self, request, object_id, page: str) -> None:
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        patient_id = self.patient_id_of(obj) if obj is not None else None
        if patient_id is not None:
            audit.record(AuditEvent.Action.VIEW, request=request, patient=patient_id, obj=obj, detail={"page": page})

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            audit.record_list(request, f"{self.audit_page}_list", self.patient_ids_of(changelist.result_list))
        return response

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            # Shown (a GET, or the form again with its errors) rather than saved.
            if isinstance(response, TemplateResponse):
                self._record_view(request, object_id, self.audit_page)
        return response

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        if isinstance(response, TemplateResponse):
            self._record_view(request, object_id, f"{self.audit_page}_history")
        return response

    def delete_view(self, request, object_id, extra_context=None):
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().delete_view(request, object_id, extra_context)
            if isinstance(response, TemplateResponse):
                self._record_view(request, object_id, f"{self.audit_page}_delete")
        return response

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the many-to-many fields are saved, inside the admin's transaction.
        obj = form.instance
        detail = {
            "page": self.audit_page,
            "fields": sorted(form.changed_data),
            **self.change_detail(request, obj, form),
        }
        action = AuditEvent.Action.UPDATE if change else AuditEvent.Action.CREATE
        audit.record(action, request=request, patient=self.patient_id_of(obj), obj=obj, detail=detail)

    def delete_model(self, request, obj):
        detail = {"page": self.audit_page}
        audit.record(AuditEvent.Action.DELETE, request=request, patient=self.patient_id_of(obj), obj=obj, detail=detail)
        super().delete_model(request, obj)

    def message_user(self, request, message, level=messages.INFO, extra_tags="", fail_silently=False):
        # The admin's messages quote str(obj) — a patient's name — and travel to the next page.
        neutral = "Saved." if level == messages.SUCCESS else "Done." if level == messages.INFO else "Not saved."
        super().message_user(request, neutral, level, extra_tags, fail_silently)

    def log_addition(self, request, obj, message):
        return None

    def log_change(self, request, obj, message):
        return None

    def log_deletions(self, request, queryset):
        return None


def _patient_ids_of_users(user_ids) -> dict[int, int]:
    from patients.models import Patient

    user_ids = [pk for pk in user_ids if pk is not None]
    return dict(Patient.objects.filter(user_id__in=user_ids).values_list("user_id", "pk")) if user_ids else {}


class UserLinkedAdmin(PatientDataAdmin):
    """Rows that belong to an account (its email addresses, authenticators, sessions): a patient's
    are audited as that patient's, and search finds staff accounts only — a patient's name or
    email would travel in the address (?q=) and the access log."""

    def patient_id_of(self, obj) -> int | None:
        return _patient_ids_of_users([obj.user_id]).get(obj.user_id)

    def patient_ids_of(self, objects) -> list[int]:
        return sorted(_patient_ids_of_users({obj.user_id for obj in objects}).values())

    def get_search_results(self, request, queryset, search_term):
        if search_term:
            queryset = queryset.exclude(user__role=User.Role.PATIENT)
        return super().get_search_results(request, queryset, search_term)


def _audit_allauth_admins() -> None:
    """allauth registers plain admins for these; ours add the audit rows and the search rule."""
    from allauth.account.admin import EmailAddressAdmin
    from allauth.account.models import EmailAddress
    from allauth.mfa.admin import AuthenticatorAdmin
    from allauth.mfa.models import Authenticator
    from allauth.usersessions.admin import UserSessionAdmin
    from allauth.usersessions.models import UserSession

    for model, base in (
        (EmailAddress, EmailAddressAdmin),
        (Authenticator, AuthenticatorAdmin),
        (UserSession, UserSessionAdmin),
    ):
        if admin.site.is_registered(model):
            admin.site.unregister(model)
        audited = type(
            f"Audited{base.__name__}", (UserLinkedAdmin, base), {"audit_page": f"admin_{model._meta.model_name}"}
        )
        admin.site.register(model, audited)


_audit_allauth_admins()


@admin.register(User)
class UserAdmin(PatientDataAdmin, BaseUserAdmin):
    """Accounts are made and managed in the portal (invitations and the users page,
    clinic.user_views); this page remains for superusers (role, groups, deactivation). A
    patient's account shows their name and email, so its pages are audited as the patient's; a
    change to any account (a role, a group) is audited too."""

    audit_page = "admin_user"
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

    def patient_id_of(self, obj) -> int | None:
        return _patient_ids_of_users([obj.pk]).get(obj.pk)

    def patient_ids_of(self, objects) -> list[int]:
        return sorted(_patient_ids_of_users([obj.pk for obj in objects if obj.role == User.Role.PATIENT]).values())

    def get_search_results(self, request, queryset, search_term):
        # Search finds staff only: a patient's name or email would travel in the address (?q=) and
        # the access log. A patient's account is reached from their record (by MRN).
        if search_term:
            queryset = queryset.exclude(role=User.Role.PATIENT)
        return super().get_search_results(request, queryset, search_term)


class SafetyTaskForm(PeriodicTaskForm):
    """A safety task (clinic.schedules.SAFETY_TASKS) keeps its name and task, stays enabled, and
    runs on an interval no longer than declared: an admin may make it run more often, never less
    often or not at all (an unacknowledged emergency would never be escalated)."""

    def clean(self):
        data = super().clean()
        name = self.instance.name if self.instance.pk else data.get("name")
        if name not in SAFETY_TASKS:
            return data
        spec = PERIODIC_TASKS[name]
        problems = []
        if data.get("name") != name:
            problems.append("its name cannot change")
        if data.get("task") != spec["task"]:
            problems.append("its task cannot change")
        if not data.get("enabled"):
            problems.append("it cannot be disabled")
        interval = data.get("interval")
        if (
            interval is None
            or any(data.get(field) for field in ("crontab", "solar", "clocked"))
            or interval.schedule.run_every.total_seconds() > spec["every_seconds"]
        ):
            problems.append(f"it must run on an interval of at most {spec['every_seconds']} seconds")
        if data.get("one_off") or data.get("expires") or data.get("expire_seconds"):
            problems.append("it cannot be one-off or expire")
        if problems:
            raise forms.ValidationError(f"{name!r} is a safety task: " + "; ".join(problems) + ".")
        return data


# django-celery-beat's text columns have no length limit; ours do (tests/test_text_limits.py).
PERIODIC_TASK_TEXT_LIMIT = 2000
for _name in ("description", "args", "kwargs", "headers"):
    SafetyTaskForm.base_fields[_name] = PeriodicTask._meta.get_field(_name).formfield(
        max_length=PERIODIC_TASK_TEXT_LIMIT
    )


class SafetyAwarePeriodicTaskAdmin(PeriodicTaskAdmin):
    """django-celery-beat's admin, with the safety tasks protected from being disabled (the form,
    the disable/toggle actions) and from deletion."""

    form = SafetyTaskForm

    def _without_safety_tasks(self, request, queryset):
        kept = queryset.filter(name__in=SAFETY_TASKS)
        if kept.exists():
            names = ", ".join(sorted(kept.values_list("name", flat=True)))
            self.message_user(request, f"Safety tasks stay enabled and cannot be deleted: {names}.", messages.ERROR)
        return queryset.exclude(name__in=SAFETY_TASKS)

    @admin.action(description="Disable selected tasks")
    def disable_tasks(self, request, queryset):
        return super().disable_tasks(request, self._without_safety_tasks(request, queryset))

    @admin.action(description="Toggle activity of selected tasks")
    def toggle_tasks(self, request, queryset):
        return super().toggle_tasks(request, self._without_safety_tasks(request, queryset))

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.name in SAFETY_TASKS:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, self._without_safety_tasks(request, queryset))


if admin.site.is_registered(PeriodicTask):
    admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, SafetyAwarePeriodicTaskAdmin)
