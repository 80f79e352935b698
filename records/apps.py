from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = "Records and exports"

    def ready(self) -> None:
        # Django's app-loading rule: modules that touch models load after the registry is ready.
        from records import requests

        requests.register_kinds()
