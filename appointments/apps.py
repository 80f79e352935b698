from django.apps import AppConfig


class AppointmentsConfig(AppConfig):
    name = "appointments"
    verbose_name = "Appointments"

    def ready(self) -> None:
        # Django's app-loading rule: modules that touch models load after the registry is ready.
        from appointments import models, reminders

        models.connect_signals()
        reminders.register_kinds()
