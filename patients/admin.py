from django.contrib import admin

from clinic.admin import PatientDataAdmin
from patients.models import Patient


@admin.register(Patient)
class PatientAdmin(PatientDataAdmin):
    """Who may open a chart, and nothing clinical: the portal login linked to the record, the
    primary psychiatrist, shared care and whether the record is active. Demographics are edited by
    the front desk and pregnancy status by the psychiatrist, in the portal; nothing else of the
    record is shown here. Every page is audited, and a care-team change names the psychiatrists it
    gave or took access (issue 18: an unaudited care-team edit here had opened a chart)."""

    audit_page = "admin_patient"
    fields = ["mrn", "name", "user", "primary_psychiatrist", "care_team", "is_active"]
    readonly_fields = ["mrn", "name"]
    list_display = ["mrn", "name", "primary_psychiatrist", "is_active"]
    # By MRN only: the search term travels in the address (?q=) and the access log.
    search_fields = ["mrn"]
    list_select_related = ["primary_psychiatrist"]
    raw_id_fields = ["user", "primary_psychiatrist"]
    filter_horizontal = ["care_team"]

    @admin.display(description="Name")
    def name(self, obj) -> str:
        return f"{obj.legal_first_name} {obj.legal_last_name}"

    def has_add_permission(self, request):
        # Registration is the front desk's, in the portal (MRN sequence, duplicate check, audit).
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # records are deactivated, never deleted

    def patient_id_of(self, obj) -> int | None:
        return obj.pk

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None:
            # Read before the form saves: the change's audit row names who gained or lost access.
            request.titrate_care_team_before = set(obj.care_team.values_list("pk", flat=True))
            request.titrate_primary_before = obj.primary_psychiatrist_id
        return form

    def change_detail(self, request, obj, form) -> dict:
        before = getattr(request, "titrate_care_team_before", set())
        after = set(obj.care_team.values_list("pk", flat=True))
        detail = {}
        if after - before:
            detail["care_team_added"] = sorted(after - before)
        if before - after:
            detail["care_team_removed"] = sorted(before - after)
        if getattr(request, "titrate_primary_before", None) != obj.primary_psychiatrist_id:
            detail["primary_psychiatrist"] = [
                getattr(request, "titrate_primary_before", None),
                obj.primary_psychiatrist_id,
            ]
        return detail
