from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Patients"

    def ready(self) -> None:
        # Django's app-loading rule: modules that touch models load after the registry is ready.
        from patients import alerts, break_glass, notes, questionnaires, sharing

        alerts.register_kinds()
        break_glass.register_kinds()
        questionnaires.register_kinds()
        sharing.register_kinds()
        notes.register_kinds()
