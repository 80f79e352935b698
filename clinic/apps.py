from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self) -> None:
        # Django's app-loading rule: modules that touch models load after the registry is ready.
        from clinic import audit, sessions

        audit.connect_signals()
        sessions.connect_signals()
