from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self) -> None:
        from clinic import audit, notification_context, sessions  # noqa: F401  (the unread-badge login hook)

        audit.connect_signals()
        sessions.connect_signals()
