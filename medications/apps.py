from django.apps import AppConfig


class MedicationsConfig(AppConfig):
    name = "medications"
    verbose_name = "Medications"

    def ready(self) -> None:
        # Django's app-loading rule: modules that touch models load after the registry is ready.
        from medications import adherence, monitoring, refills, reviews, signals, threads  # noqa: F401  (signals: the due-list receivers)

        monitoring.register_kinds()
        reviews.register_kinds()
        threads.register_kinds()
        threads.connect_signals()
        refills.register_kinds()
        adherence.register_kinds()
