from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = "Records and exports"

    def ready(self) -> None:
        # Django's app-loading rule: modules that touch models load after the registry is ready.
        # tasks: the web process publishes prepare_record by looking it up in Celery's registry
        # (records.requests.publish); autodiscovery alone registers it only in workers.
        from records import requests, tasks  # noqa: F401

        requests.register_kinds()
