from django.contrib import admin

from patients.models import Patient


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["mrn", "legal_last_name", "legal_first_name", "primary_psychiatrist", "is_active"]
    search_fields = ["mrn", "legal_last_name", "legal_first_name"]
    list_select_related = ["primary_psychiatrist"]
    raw_id_fields = ["user", "primary_psychiatrist"]
