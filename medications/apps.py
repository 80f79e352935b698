from django.apps import AppConfig


class MedicationsConfig(AppConfig):
    name = "medications"
    verbose_name = "Medications"

    def ready(self) -> None:
        from medications import signals  # noqa: F401  (connects the due-list receivers)
