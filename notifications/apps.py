from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Django's app-loading rule: modules that touch models load after the registry is ready.
        # tasks: every process that publishes looks the send task up in Celery's registry (outbox.publish);
        # autodiscovery alone registers it only in workers.
        from notifications import badge, tasks  # noqa: F401

        badge.connect_signals()
